"""The crash test (issue 21, item 8): real agentik processes killed with SIGKILL at random moments of
streamed chats (before the reply, mid-stream, and at the very end, after the whole reply was
printed), of `costs import` (a few thousand rows) and of `db copy`, on each store; after every kill
the next agentik command runs (it replays the journal), and then every invariant is checked:

- the database is sound (SQLite: `PRAGMA integrity_check` and `foreign_key_check`; PostgreSQL: a
  query of every table runs);
- the running totals equal the ledger to the nano-dollar: cost_totals and cost_buckets, each
  session's counters and totals, each agent's counters, recomputed here from the costs and
  messages rows;
- nothing is stored twice: a chat is one call, so at most one reply and one cost row;
- an import is all or nothing (0 or all of its rows), and so is a copy on its target;
- what the stream journal (services/journal.py Flight) makes true: every reply printed to the end
  is stored, whole, and text of a streamed reply shown more than 250 ms before the kill is stored,
  marked interrupted, once the next command has run; and no budget reservation is left behind.
  A test of its own aims only at those moments. A killed process's output is read through pipes by
  threads, each piece with the time it arrived, so the test knows what was shown and when.

The number of kills of each kind on each store is AGENTIK_CRASH_RUNS (default 2: eight kills a
store, every kind twice and every invariant checked after each, some 15-25 s a store; a third round
of the same kinds added a third of the suite's longest test and no kind of moment the first two do
not reach; a campaign for more moments sets it higher, below); the moments come from a fixed seed,
AGENTIK_CRASH_SEED (default 21),
printed with the counts. A larger run, each test's counts printed as it ends (-s, which needs -n 0,
so the stores run one after the other):

    AGENTIK_CRASH_RUNS=100 pytest tests/store/test_crash.py -n 0 -s [--store sqlite|postgres]
    AGENTIK_CRASH_SEED=7 AGENTIK_CRASH_RUNS=30 pytest tests/store/test_crash.py -n 0 -s
"""

from __future__ import annotations

import itertools
import math
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from agentik_cli.store.models import SUM_COLUMNS
from tests import pgserver
from tests.conftest import base_env, db_execute
from tests.fakeprovider import Reply, words

# read as the module is collected: the conftest clears the environment around each test
RUNS = int(os.environ.get("AGENTIK_CRASH_RUNS") or 2)
SEED = int(os.environ.get("AGENTIK_CRASH_SEED") or 21)

PIECES = 100  # the streamed reply comes in this many pieces...
PIECE_DELAY = 0.01  # ...this many seconds apart: a stream of about a second
STREAM_SECONDS = PIECES * PIECE_DELAY
# an end kill lands, once the whole reply is shown, within the time a chat takes from there to its
# exit (measured), or half the time within this much (between the last piece shown and the commit)
END_WINDOW = 0.15
SHOWN_BEFORE = 0.25  # text shown this long before a kill must be stored (the stream journal's promise)
# what the stream journal (issue 21 item 4) promises
STREAM_CHECK = "text shown 250 ms before a kill is stored"
PRINTED_CHECK = "a reply printed to the end is stored"
JOURNAL_CHECKS = (STREAM_CHECK, PRINTED_CHECK)
IMPORT_ROWS = 5000
TIMEOUT = 60


# ---- a process watched as it runs ----


class Watched:
    """A real agentik process; threads read its stdout and stderr as they arrive, each piece with
    the time (time.monotonic) it came."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "agentik_cli", *args],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.pieces: dict[str, list[tuple[float, bytes]]] = {"out": [], "err": []}
        self.closed: set[str] = set()
        self.changed = threading.Condition()
        self.killed_at: float | None = None
        self.threads = [
            threading.Thread(target=self._read, args=(name, stream), daemon=True)
            for name, stream in (("out", self.proc.stdout), ("err", self.proc.stderr))
        ]
        for thread in self.threads:
            thread.start()

    def _read(self, name: str, stream: Any) -> None:
        fd = stream.fileno()
        while True:
            data = os.read(fd, 65536)
            arrived = time.monotonic()
            with self.changed:
                if not data:
                    self.closed.add(name)
                else:
                    self.pieces[name].append((arrived, data))
                self.changed.notify_all()
            if not data:
                return

    def shown(self, name: str = "out", before: float = math.inf) -> str:
        """What the process wrote to stdout (or stderr) that arrived before a moment."""
        with self.changed:
            data = b"".join(piece for at, piece in self.pieces[name] if at <= before)
        return data.decode("utf-8", "ignore")

    def first_at(self) -> float | None:
        with self.changed:
            return self.pieces["out"][0][0] if self.pieces["out"] else None

    def wait_for(self, condition: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        """Wait until `condition` holds; False if the process closed its output first (or time ran out)."""
        with self.changed:
            self.changed.wait_for(lambda: condition() or len(self.closed) == 2, timeout)
            return condition()

    def kill_at(self, moment: float) -> None:
        time.sleep(max(0.0, moment - time.monotonic()))
        if self.proc.poll() is None:
            self.killed_at = time.monotonic()
            os.kill(self.proc.pid, signal.SIGKILL)

    def finish(self) -> bool:
        """Wait for the end; True if the kill is what ended it (not an exit just before)."""
        code = self.proc.wait(timeout=TIMEOUT)
        for thread in self.threads:
            thread.join(TIMEOUT)
        return code == -signal.SIGKILL


# ---- a store, read directly ----


class Db:
    """Rows of a query (`?` placeholders) on a SQLite file or a PostgreSQL database, read without
    agentik. PostgreSQL's sums come back as Decimals: every number is turned into an int."""

    def __init__(self, where: str | Path) -> None:
        self.where = str(where)
        self.postgres = self.where.startswith("postgresql")
        self.engine: Any = None

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        if not self.postgres:
            with closing(sqlite3.connect(self.where)) as db:
                return [tuple(_plain(v) for v in row) for row in db.execute(sql, params).fetchall()]
        from sqlalchemy import create_engine, text

        if self.engine is None:
            self.engine = create_engine(self.where)
        numbers = itertools.count()
        named = re.sub(r"\?", lambda _: f":p{next(numbers)}", sql)
        with self.engine.connect() as conn:
            result = conn.execute(text(named), {f"p{i}": v for i, v in enumerate(params)})
            return [tuple(_plain(v) for v in row) for row in result.all()]

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def exists(self) -> bool:
        """Whether it holds agentik's tables (a copy killed early may leave no file, or an empty one)."""
        if self.postgres:
            return bool(self.rows("SELECT count(*) FROM pg_tables WHERE tablename = 'costs'")[0][0])
        if not Path(self.where).exists():
            return False
        return bool(self.rows("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'costs'")[0][0])


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, Decimal) else value


# ---- the invariants ----

SUMS = (
    "count(*)",
    "coalesce(sum(input_tokens), 0)",
    "coalesce(sum(output_tokens), 0)",
    "coalesce(sum(cache_read_tokens), 0)",
    "coalesce(sum(cache_write_tokens), 0)",
    "coalesce(sum(total_cost_nd), 0)",
    "sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END)",
    "sum(CASE WHEN estimated THEN 1 ELSE 0 END)",
    "sum(CASE WHEN over_limit THEN 1 ELSE 0 END)",
)
KEPT = ", ".join(SUM_COLUMNS)  # the columns of cost_totals and cost_buckets, in the order of SUMS


def _by_key(rows: list[tuple], width: int) -> dict[tuple, tuple]:
    return {tuple(row[:width]): tuple(int(v or 0) for v in row[width:]) for row in rows}


def _differences(what: str, kept: dict[tuple, tuple], ledger: dict[tuple, tuple]) -> list[str]:
    out = []
    for key in sorted(set(kept) | set(ledger), key=repr):
        width = len(next(iter(kept.values() or ledger.values())))
        have, want = kept.get(key, (0,) * width), ledger.get(key, (0,) * width)
        if have != want:
            out.append(f"{what} {key}: kept {have}, the rows say {want}")
    return out


def sound(db: Db) -> list[str]:
    if db.postgres:
        tables = [row[0] for row in db.rows("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        for table in tables:
            db.rows(f"SELECT count(*) FROM {table}")  # raises if the table cannot be read
        return []
    problems = []
    if (found := db.rows("PRAGMA integrity_check")) != [("ok",)]:
        problems.append(f"integrity_check: {found[:5]}")
    if found := db.rows("PRAGMA foreign_key_check"):
        problems.append(f"foreign_key_check: {found[:5]}")
    return problems


def totals_equal_ledger(db: Db) -> list[str]:
    """cost_totals, cost_buckets, the sessions' and the agents' counters, against sums recomputed
    from the rows (no `costs cleanup` touches a chat's rows here, so the sessions' totals equal
    their rows too)."""
    sums = ", ".join(SUMS)
    problems = _differences(
        "cost_totals",
        _by_key(db.rows(f"SELECT agent_key, model, provider, user_name, {KEPT} FROM cost_totals"), 4),
        _by_key(
            db.rows(
                f"SELECT coalesce(agent_id, 0), model, provider, user_name, {sums} FROM costs "
                "GROUP BY coalesce(agent_id, 0), model, provider, user_name"
            ),
            4,
        ),
    )
    if db.postgres:
        quarter = "floor(extract(epoch FROM {}) / 900)::bigint"
    else:
        quarter = "CAST(strftime('%s', {}) AS INTEGER) / 900"
    problems += _differences(
        "cost_buckets",
        _by_key(db.rows(f"SELECT {quarter.format('start')}, {KEPT} FROM cost_buckets"), 1),
        _by_key(db.rows(f"SELECT {quarter.format('timestamp')}, {sums} FROM costs GROUP BY 1"), 1),
    )
    messages = dict(db.rows("SELECT session_id, count(*) FROM messages GROUP BY session_id"))
    costs = _by_key(
        db.rows(
            "SELECT session_id, coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
            "coalesce(sum(total_cost_nd), 0), sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END) "
            "FROM costs WHERE session_id IS NOT NULL GROUP BY session_id"
        ),
        1,
    )
    kept = _by_key(
        db.rows("SELECT id, message_count, input_tokens, output_tokens, cost_nd, unpriced_calls FROM sessions"), 1
    )
    problems += _differences(
        "session", kept, {key: (messages.get(key[0], 0), *costs.get(key, (0, 0, 0, 0))) for key in kept}
    )
    sessions = dict(db.rows("SELECT agent_id, count(*) FROM sessions GROUP BY agent_id"))
    replies = _by_key(
        db.rows(
            "SELECT agent_id, count(*), count(response_ms), coalesce(sum(response_ms), 0) FROM messages "
            "GROUP BY agent_id"
        ),
        1,
    )
    kept = _by_key(db.rows("SELECT id, stat_sessions, stat_messages, stat_responses, stat_response_ms FROM agents"), 1)
    problems += _differences(
        "agent", kept, {key: (sessions.get(key[0], 0), *replies.get(key, (0, 0, 0))) for key in kept}
    )
    return problems


def stored_once(db: Db, calls: int) -> list[str]:
    """A chat here is one call: one user message, at most one reply and one cost row in its session,
    a reply's cost row once; and no more chat cost rows than calls the provider answered."""
    problems = []
    for sql, what in (
        ("SELECT session_id, count(*) FROM messages WHERE role = 'assistant' GROUP BY session_id", "replies"),
        ("SELECT session_id, count(*) FROM messages WHERE role = 'user' GROUP BY session_id", "user messages"),
        ("SELECT session_id, count(*) FROM costs WHERE session_id IS NOT NULL GROUP BY session_id", "cost rows"),
        ("SELECT conversation_id, count(*) FROM costs WHERE conversation_id IS NOT NULL GROUP BY 1", "cost rows of"),
    ):
        problems += [f"{what} {key}: {count}" for key, count in db.rows(sql) if count > 1]
    chat_rows = db.rows("SELECT count(*) FROM costs WHERE endpoint IS NULL OR endpoint NOT LIKE 'import-%'")[0][0]
    if chat_rows > calls:
        problems.append(f"{chat_rows} cost rows of chats for {calls} calls the provider answered")
    return problems


# ---- the campaign ----


@dataclass
class Tally:
    """What happened: kills per kind, processes that ended before their kill, and per invariant the
    times it was checked and the times it failed (with the first few failures)."""

    seed: int
    store: str
    kills: Counter = field(default_factory=Counter)
    ended_first: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)  # what a kill left: "import-kill: none", ...
    checked: Counter = field(default_factory=Counter)
    failed: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def check(self, name: str, problems: list[str], context: str) -> None:
        self.checked[name] += 1
        if problems:
            self.failed[name] += 1
            if len(self.failures) < 20:
                self.failures.append(f"{name} after {context}: " + "; ".join(problems[:4]))

    def summary(self) -> str:
        lines = [f"crash test on {self.store}: AGENTIK_CRASH_SEED={self.seed} AGENTIK_CRASH_RUNS={RUNS}"]
        lines.append("  kills: " + ", ".join(f"{k} {v}" for k, v in sorted(self.kills.items())))
        if self.ended_first:
            ended = ", ".join(f"{k} {v}" for k, v in sorted(self.ended_first.items()))
            lines.append(f"  ended before the kill: {ended}")
        lines.append("  outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items())))
        for name in self.checked:
            lines.append(f"  {name}: {self.checked[name] - self.failed[name]} of {self.checked[name]} held")
        lines += ["  " + failure for failure in self.failures]
        return "\n".join(lines)


class Campaign:
    """One store with two agents, the fake provider, and the kills made on it."""

    def __init__(self, cli: Any, fake: Any, home: Path, store: str, tmp_path: Path, seed: int) -> None:
        self.cli, self.fake, self.home, self.tmp_path = cli, fake, home, tmp_path
        self.postgres = store != "sqlite"
        self.db = Db(store if self.postgres else home / "agentik.db")
        self.rng = random.Random(seed)
        self.tally = Tally(seed, "postgres" if self.postgres else "sqlite")
        self.env = base_env(
            home,
            ANTHROPIC_BASE_URL=fake.url,
            OPENAI_BASE_URL=fake.url + "/v1",
            ANTHROPIC_API_KEY="sk-ant-test-key-0123456789",
            OPENAI_API_KEY="sk-openai-test-key-0123456789",
        )
        self.chats = 0
        self.unanswered = 0  # chats killed before anything was shown
        self.imports = 0
        self.targets: list[str] = []  # PostgreSQL databases made for copies, dropped at the end
        cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
        cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
        cli("budgets", "set", "--daily", "1000")  # every chat holds a reservation while it runs
        self.first_piece = 2.0  # seconds from launch to the first piece of a reply (measured below)
        self.end_gap = END_WINDOW  # seconds from the whole reply shown to the exit (measured below)

    def close(self) -> None:
        self.db.close()
        for name in self.targets:
            pgserver.drop_database(name)

    def next_command(self) -> None:
        """Any agentik command: it stores what the journal holds first."""
        self.cli("costs", "summary", "--json")

    def check_store(self, context: str) -> None:
        self.tally.check("sound", sound(self.db), context)
        self.tally.check("totals equal the ledger", totals_equal_ledger(self.db), context)
        calls = len(self.fake.requests) + self.unanswered
        self.tally.check("nothing stored twice", stored_once(self.db, calls), context)
        held = [b for b in self.cli.json("budgets", "list") if b["reserved"]]
        self.tally.check("no reservation left behind", [f"reserved: {held}"] if held else [], context)

    # -- chats --

    def start_chat(self) -> tuple[Watched, str, str]:
        self.chats += 1
        n = self.chats
        text = f"Reply {n}. " + words(260)
        self.fake.default = Reply(text=text, chunks=PIECES, delay=PIECE_DELAY, output_tokens=340)
        question = f"question {n}"
        agent = "claude" if n % 2 else "gpt"
        return Watched(["chat", agent, "-m", question], self.env), question, text

    def replies(self, question: str) -> list[tuple[str, bool]]:
        """The replies stored in the session of a question: (content, interrupted)."""
        return [
            (content, bool(interrupted))
            for content, interrupted in self.db.rows(
                "SELECT r.content, r.interrupted FROM messages r JOIN messages q ON q.session_id = r.session_id "
                "WHERE q.role = 'user' AND q.content = ? AND r.role = 'assistant' ORDER BY r.id",
                (question,),
            )
        ]

    def calibrate_chat(self) -> None:
        """A chat left to finish: when its reply starts, and that a complete reply is stored."""
        chat, question, text = self.start_chat()
        assert chat.wait_for(lambda: chat.first_at() is not None), chat.shown("err")
        self.first_piece = (chat.first_at() or 0) - chat.started
        assert chat.wait_for(lambda: text in chat.shown())
        shown = time.monotonic()
        assert not chat.finish()
        self.end_gap = max(END_WINDOW, time.monotonic() - shown)
        assert chat.proc.returncode == 0, chat.shown("err")
        assert self.replies(question) == [(text, False)]
        self.check_store("a chat that finished")

    def kill_chat(self, kind: str, checked: bool = False) -> None:
        """`checked`: a mid-stream kill lands where the stream journal's promise applies (text shown
        more than 250 ms before it), so that no kill is spent on a moment with nothing to check."""
        chat, question, text = self.start_chat()
        if kind == "chat-before":  # while it starts, stores the question, sends the request
            chat.kill_at(chat.started + self.rng.uniform(0, self.first_piece))
        elif kind == "chat-stream":
            if chat.wait_for(lambda: chat.first_at() is not None):
                earliest = SHOWN_BEFORE + 2 * PIECE_DELAY if checked else 0
                chat.kill_at((chat.first_at() or 0) + self.rng.uniform(earliest, STREAM_SECONDS))
        else:  # chat-end: the whole reply is on screen; storing it, printing the usage, exiting
            if chat.wait_for(lambda: text in chat.shown()):
                window = END_WINDOW if self.rng.random() < 0.5 else self.end_gap
                chat.kill_at(time.monotonic() + self.rng.uniform(0, window))
        killed = chat.finish()
        self._count(kind, killed)
        if killed and chat.first_at() is None:
            # killed before anything was shown: the request may have reached the provider (which
            # bills a prompt it has read) or not, and its journal, if it began one, cannot tell
            # either: the next command records its prompt's estimated cost, as a Ctrl-C would
            self.unanswered += 1
        self.next_command()
        if killed and kind == "chat-end":
            kept = self.replies(question)
            stored = "stored" if kept == [(text, False)] else "stored, marked" if kept == [(text, True)] else "lost"
            when = "after" if chat.shown("err") else "before"
            self.tally.outcomes[f"chat-end: {when} the usage line, reply {stored}"] += 1
        context = f"{kind} kill of `chat -m '{question}'`"
        printed = text in chat.shown()
        if printed:
            stored = self.replies(question)
            # whole; marked interrupted when the process died before the stream's end arrived
            whole = [content for content, _ in stored] == [text]
            problems = [] if whole else [f"printed to the end, stored: {_short(stored)}"]
            self.tally.check(PRINTED_CHECK, problems, context)
        self.check_store(context)
        if kind != "chat-end":
            problems = self.streamed_text_kept(chat, question, text)
            if problems is None:
                self.tally.outcomes[f"{kind}: nothing shown 250 ms before the kill"] += 1
            else:
                self.tally.check(STREAM_CHECK, problems, context)

    def streamed_text_kept(self, chat: Watched, question: str, text: str) -> list[str] | None:
        """The text shown more than SHOWN_BEFORE before the kill is stored, marked interrupted unless
        it is the whole reply; None when there is nothing to check."""
        if chat.killed_at is None:
            return None
        shown = chat.shown(before=chat.killed_at - SHOWN_BEFORE)[: len(text)]
        if not shown:
            return None
        stored = self.replies(question)
        if any(content.startswith(shown) and (interrupted or content == text) for content, interrupted in stored):
            return []
        at = chat.killed_at - (chat.first_at() or chat.killed_at)
        return [
            f"{len(shown)} characters shown by {at - SHOWN_BEFORE:.2f} s into the stream (killed at {at:.2f} s), "
            f"stored: {_short(stored)}"
        ]

    # -- imports --

    def import_file(self, tag: str, when: datetime) -> Path:
        import json

        models = (("gpt-4o", "openai"), ("claude-sonnet-4-0", "anthropic"), ("house-model", "local"))
        lines = []
        for i in range(IMPORT_ROWS):
            model, provider = models[i % 3]
            row: dict[str, Any] = {
                "model": model,
                "provider": provider,
                "input_tokens": 100 + i,
                "output_tokens": 7 * i % 900,
                "cache_read_tokens": i % 50,
                "endpoint": tag,
                "user": ("ana", "bo", "")[i % 3],
                "at": (when + timedelta(minutes=7 * i)).isoformat(),
            }
            if i % 4:
                row["agent"] = ("claude", "gpt")[i % 2]
            if i % 11 == 0:
                row["cost"] = f"0.00{i % 97:02d}"
            lines.append(json.dumps(row))
        path = self.tmp_path / f"{tag}.jsonl"
        path.write_text("\n".join(lines) + "\n")
        return path

    def timed(self, args: list[str]) -> float:
        run = Watched(args, self.env)
        assert not run.finish() and run.proc.returncode == 0, run.shown("err")
        return time.monotonic() - run.started

    def calibrate_import(self) -> None:
        """An import left to finish (its rows stay, for the copies to carry), timed."""
        path = self.import_file("import-0", datetime.now(UTC) - timedelta(days=20))
        self.import_seconds = self.timed(["costs", "import", str(path)])
        assert self.db.rows("SELECT count(*) FROM costs WHERE endpoint = 'import-0'") == [(IMPORT_ROWS,)]
        self.startup = self.timed(["agents", "list", "--json"])  # a command that opens the store
        self.check_store("an import that finished")

    def kill_import(self) -> None:
        self.imports += 1
        tag = f"import-{self.imports}"
        # years ago, so that `costs cleanup` takes them off again and the store stays small
        path = self.import_file(tag, datetime.now(UTC) - timedelta(days=1500))
        run = Watched(["costs", "import", str(path)], self.env)
        run.kill_at(run.started + self.rng.uniform(0.5 * self.startup, self.import_seconds))
        killed = run.finish()
        if not killed:  # it ran faster than the one timed: the next kill aims earlier
            self.import_seconds = min(self.import_seconds, time.monotonic() - run.started)
        self._count("import", killed)
        self.next_command()
        (rows,) = self.db.rows("SELECT count(*) FROM costs WHERE endpoint = ?", (tag,))[0]
        if killed:
            self.tally.outcomes[f"import: {'all' if rows == IMPORT_ROWS else 'none' if rows == 0 else 'part'}"] += 1
        context = f"import kill ({tag})"
        self.tally.check("an import is all or nothing", [] if rows in (0, IMPORT_ROWS) else [f"{rows} rows"], context)
        self.check_store(context)
        self.cli("costs", "cleanup", "--older-than", "1000", "--yes")
        self.check_store(f"the cleanup after {context}")

    # -- copies --

    def copy_target(self, n: int) -> str:
        if not self.postgres:
            return str(self.tmp_path / f"copy{n}.db")
        name = f"crash{os.getpid()}_{n}"
        self.targets.append(name)
        return pgserver.create_database(name)

    def calibrate_copy(self) -> None:
        target = self.copy_target(0)
        self.copy_seconds = self.timed(["db", "copy", "--to", target, "--yes"])
        self.copies = 0

    def kill_copy(self) -> None:
        self.copies += 1
        target = self.copy_target(self.copies)
        tables = ("agents", "sessions", "messages", "costs", "tool_calls")
        source = {t: self.db.rows(f"SELECT count(*) FROM {t}")[0][0] for t in tables}
        run = Watched(["db", "copy", "--to", target, "--yes"], self.env)
        run.kill_at(run.started + self.rng.uniform(0.5 * self.startup, self.copy_seconds))
        killed = run.finish()
        if not killed:
            self.copy_seconds = min(self.copy_seconds, time.monotonic() - run.started)
        self._count("copy", killed)
        self.next_command()
        context = f"copy kill (to {Path(target).name if not self.postgres else target.rsplit('/', 1)[-1]})"
        copied = Db(target if self.postgres else Path(target))
        if not copied.exists():
            held = dict.fromkeys(tables, 0)
        else:
            held = {t: copied.rows(f"SELECT count(*) FROM {t}")[0][0] for t in tables}
            self.tally.check("sound (copy target)", sound(copied), context)
            self.tally.check("totals equal the ledger (copy target)", totals_equal_ledger(copied), context)
        copied.close()
        outcome = "none" if not any(held.values()) else "all" if held == source else "part"
        if killed:
            self.tally.outcomes[f"copy: {outcome}"] += 1
        self.tally.check(
            "a copy is all or nothing", [] if outcome != "part" else [f"target {held}, source {source}"], context
        )
        self.check_store(context)

    def _count(self, kind: str, killed: bool) -> None:
        if killed:
            self.tally.kills[kind] += 1
        else:
            self.tally.ended_first[kind] += 1


def _short(value: Any, width: int = 160) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 1] + "…"


@pytest.fixture
def campaign(cli, fake, agentik_home, agentik_store, tmp_path) -> Iterator[Campaign]:
    made = Campaign(cli, fake, agentik_home, agentik_store, tmp_path, SEED)
    try:
        yield made
    finally:
        made.close()


@pytest.mark.slow
def test_kill_9_at_random_moments_keeps_every_invariant(campaign):
    campaign.calibrate_import()
    campaign.calibrate_chat()
    campaign.calibrate_copy()
    kinds = ["chat", "chat-end", "import", "copy"] * RUNS
    campaign.rng.shuffle(kinds)
    for kind in kinds:
        if kind == "chat":
            campaign.kill_chat("chat-before" if campaign.rng.random() < 0.25 else "chat-stream")
        elif kind == "chat-end":
            campaign.kill_chat("chat-end")
        elif kind == "import":
            campaign.kill_import()
        else:
            campaign.kill_copy()
    tally = campaign.tally
    print(tally.summary())
    assert not [name for name in tally.failed if tally.failed[name]], tally.summary()
    assert sum(tally.kills.values()) >= len(kinds) // 2, tally.summary()  # the kills did land


@pytest.mark.slow
def test_a_reply_shown_before_a_kill_is_stored(campaign):
    """Text of a streamed reply shown more than 250 ms before the kill is stored (marked interrupted),
    and a reply printed to the end is stored, whole and unmarked, once the next command has run (the
    stream journal, services/journal.py Flight). Without it, a reply is stored only when its stream
    has ended, so a kill mid-stream, or between the last piece shown and the commit, loses what was
    shown."""
    kinds = ["chat-stream", "chat-end"] * RUNS
    campaign.rng.shuffle(kinds)
    for kind in kinds:
        # every mid-stream kill aimed past the first 250 ms of text, so each is a check (a kill
        # drawn from the whole stream was one with nothing to check a quarter of the time)
        campaign.kill_chat(kind, checked=True)
    tally = campaign.tally
    print(tally.summary())
    assert tally.checked[STREAM_CHECK] and tally.checked[PRINTED_CHECK], tally.summary()
    assert not any(tally.failed[name] for name in JOURNAL_CHECKS), tally.summary()


def test_the_checks_see_a_nano_dollar_off_a_counter_off_and_a_reply_twice(cli, fake, agentik_home, agentik_store):
    """The crash test's checks themselves (fast): each reports what it is there to see."""
    db = Db(agentik_store if agentik_store != "sqlite" else agentik_home / "agentik.db")
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    cli("chat", "claude", "-m", "hello")
    try:
        assert sound(db) == [] and totals_equal_ledger(db) == [] and stored_once(db, 1) == []
        for table, column in (
            ("cost_totals", "cost_nd"),
            ("cost_buckets", "estimated_calls"),
            ("sessions", "cost_nd"),
            ("agents", "stat_responses"),
        ):
            db_execute(agentik_home, (f"UPDATE {table} SET {column} = {column} + 1", ()))
            found = totals_equal_ledger(db)
            assert len(found) == 1 and found[0].startswith(table.rstrip("s")), (table, found)
            db_execute(agentik_home, (f"UPDATE {table} SET {column} = {column} - 1", ()))
        assert totals_equal_ledger(db) == []
        assert stored_once(db, 0) == ["1 cost rows of chats for 0 calls the provider answered"]
        # the reply stored twice
        columns = "agent_id, session_id, channel, role, content, timestamp, interrupted, attachments, skills_used"
        db_execute(
            agentik_home,
            (f"INSERT INTO messages ({columns}) SELECT {columns} FROM messages WHERE role = 'assistant'", ()),
        )
        assert stored_once(db, 1) == ["replies 1: 2"]
    finally:
        db.close()
