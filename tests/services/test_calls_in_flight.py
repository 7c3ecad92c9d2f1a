"""Calls in flight (issue 21, items 2 and 4): a reply is journaled as it streams, so a process killed at
any moment loses at most the last quarter second of what it showed, and the next command stores the
rest, marked, with an estimated cost row, never twice; a budget reservation names its process, and
one that no running process holds is released (by every budget check, or `budgets release`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from agentik_cli import owner
from agentik_cli.services import journal, recording
from agentik_cli.store import budgets as budget_store
from agentik_cli.timeutil import now_utc
from tests.conftest import base_env, db_rows
from tests.fakeprovider import Reply

WORDS = " ".join(f"word{n}" for n in range(600))


@pytest.fixture
def helper(cli):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--max-tokens", "2000")


class Shown:
    """What a child process printed, piece by piece, with the time each piece arrived."""

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        self.pieces: list[tuple[float, bytes]] = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._read, args=(child,), daemon=True)
        self.thread.start()

    def _read(self, child: subprocess.Popen[bytes]) -> None:
        assert child.stdout is not None
        while piece := os.read(child.stdout.fileno(), 65536):
            with self.lock:
                self.pieces.append((time.monotonic(), piece))

    def text(self, before: float | None = None) -> str:
        with self.lock:
            return b"".join(p for t, p in self.pieces if before is None or t <= before).decode("utf-8", "replace")

    def wait_for(self, needle: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            assert time.monotonic() < deadline, f"never shown: {needle!r}; shown: {self.text()[-200:]!r}"
            time.sleep(0.01)


def chat_child(home: Path, fake, *args: str) -> subprocess.Popen[bytes]:
    env = base_env(home, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
    return subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", "chat", "helper", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def call_files(home: Path) -> list[Path]:
    return sorted((home / "unsaved").glob(f"*{journal.CALL}*.jsonl")) if (home / "unsaved").is_dir() else []


@pytest.mark.slow
def test_a_reply_killed_mid_stream_is_stored_as_far_as_it_was_shown(cli, fake, helper, agentik_home):
    fake.default = Reply(text=WORDS, delay=0.01, input_tokens=40, output_tokens=900)
    cli("budgets", "set", "--daily", "5")
    child = chat_child(agentik_home, fake, "-m", "count")
    shown = Shown(child)
    shown.wait_for("word150 ")
    [path] = call_files(agentik_home)  # the call's journal, while it streams
    seen = time.monotonic()
    time.sleep(0.35)
    # what was shown a quarter second ago is in the journal already, before any kill
    assert shown.text(seen).strip() in "".join(
        json.loads(line).get("text", "") for line in path.read_text().splitlines()[1:]
    )
    child.kill()
    child.wait(timeout=10)
    shown.thread.join(timeout=10)
    before = shown.text(seen).strip()
    everything = shown.text().strip()  # each piece was journaled before it was shown
    assert "word150" in before and "word599" not in shown.text()
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 0  # nothing stored yet
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 1  # held by the dead call

    [budget] = cli.json("budgets", "list")  # any command: it stores the call first
    rows = db_rows(
        agentik_home,
        "SELECT content, interrupted, error, cost_nd FROM messages WHERE role = 'assistant'",
    )
    [(content, interrupted, error, cost_nd)] = rows
    assert content.startswith(everything) and bool(interrupted) and "journal" in error
    [(tokens_in, tokens_out, estimated, total, key)] = db_rows(
        agentik_home, "SELECT input_tokens, output_tokens, estimated, total_cost_nd, call_key FROM costs"
    )
    # the provider's input count arrived at the start (Anthropic's message_start); the output is counted
    assert tokens_in == 40 and tokens_out >= len(before.split()) and bool(estimated) and key
    assert total == cost_nd and total > 0
    assert budget["reserved"] == 0 and budget["spent"] == total / 1e9
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 0
    assert call_files(agentik_home) == []
    cli("sessions", "list")  # and never twice
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 1
    # the session's totals moved with the rows
    [(session_cost,)] = db_rows(agentik_home, "SELECT cost_nd FROM sessions")
    assert session_cost == total


@pytest.mark.slow
def test_a_reply_killed_after_it_was_shown_whole_is_stored_whole(cli, fake, helper, agentik_home, monkeypatch):
    fake.default = Reply(text="the whole answer", input_tokens=40, output_tokens=3)
    # the process stops for good as the commit begins: the reply is on screen, not in the database
    code = (
        "import os, signal\n"
        "from agentik_cli.services import recording\n"
        "def die(*args, **kwargs):\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "recording.add_reply = die\n"
        "from agentik_cli.entry import main\n"
        "import sys; sys.argv = ['agentik', 'chat', 'helper', '-m', 'answer']\n"
        "main()\n"
    )
    env = base_env(agentik_home, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert done.returncode == -9 and b"the whole answer" in done.stdout
    cli("sessions", "list")
    [(content, interrupted, error)] = db_rows(
        agentik_home, "SELECT content, interrupted, error FROM messages WHERE role = 'assistant'"
    )
    assert content == "the whole answer" and not interrupted and error is None  # it had arrived whole
    [(tokens_in, tokens_out)] = db_rows(agentik_home, "SELECT input_tokens, output_tokens FROM costs")
    assert (tokens_in, tokens_out) == (40, 3)  # the provider's own figures had arrived


def _header(store, agent_home_session: tuple[int, int], reservation: int | None = None) -> dict:
    agent_id, session_id = agent_home_session
    return {
        "at": now_utc(),
        "agent_id": agent_id,
        "agent_name": "helper",
        "session_id": session_id,
        "channel": "cli",
        "model": "claude-sonnet-4-0",
        "provider": "anthropic",
        "endpoint": "https://api.anthropic.com",
        "user_name": "someone",
        "prompt_tokens": 12,
        "reservation_id": reservation,
    }


def _died(flight: journal.Flight) -> None:
    """As if the flight's process had died: its file stays, its lock goes."""
    flight.stop()
    assert flight._fd is not None
    os.close(flight._fd)
    flight._fd = None


def _session(cli, fake) -> tuple[int, int]:
    fake.default = Reply(text="first")
    cli("chat", "helper", "-m", "hello")
    [(agent_id, session_id)] = db_rows(cli_home(), "SELECT agent_id, id FROM sessions")
    return int(agent_id), int(session_id)


def cli_home() -> Path:
    return Path(os.environ["AGENTIK_HOME"])


def test_a_call_stored_by_its_process_is_not_stored_again_from_its_journal(cli, fake, helper, store, agentik_home):
    ids = _session(cli, fake)
    flight = journal.Flight(store.url, _header(store, ids), lambda: ("second", [0, 0, 0, 0, 0, 0, 0]))
    _died(flight)
    # its process stored the call, and died before removing the journal
    [(cost_id,)] = db_rows(agentik_home, "SELECT id FROM costs")
    from tests.conftest import db_execute

    db_execute(agentik_home, ("UPDATE costs SET call_key = ? WHERE id = ?", (flight.key, cost_id)))
    assert recording.replay_journal(store) == 0
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 1
    assert call_files(agentik_home) == []


def test_a_journal_held_by_a_running_call_is_left_alone(cli, fake, helper, store, agentik_home):
    ids = _session(cli, fake)
    text = "as far as it got"
    flight = journal.Flight(store.url, _header(store, ids), lambda: (text, [0, 0, 0, 0, 0, 0, 0]))
    time.sleep(journal.FLUSH_EVERY * 2)
    assert recording.replay_journal(store) == 0  # its call is still running
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 1
    _died(flight)
    assert recording.replay_journal(store) == 1
    [(content, error)] = db_rows(
        agentik_home, "SELECT content, error FROM messages WHERE role = 'assistant' ORDER BY id DESC LIMIT 1"
    )
    assert content == text and error == recording.CUT_SHORT
    [(tokens_in, tokens_out, estimated)] = db_rows(
        agentik_home, "SELECT input_tokens, output_tokens, estimated FROM costs ORDER BY id DESC LIMIT 1"
    )
    assert tokens_in == 12 and tokens_out >= 4 and estimated  # agentik's own count: nothing was reported


def test_a_redaction_reaches_the_journal_of_a_call_that_died(cli, fake, helper, store, agentik_home):
    ids = _session(cli, fake)
    streamed = ["the key is sk-live-", "ABCDEF123 and more"]
    state = {"text": streamed[0]}
    flight = journal.Flight(store.url, _header(store, ids), lambda: (state["text"], [0, 0, 0, 0, 0, 0, 0]))
    time.sleep(journal.FLUSH_EVERY * 2)
    state["text"] += streamed[1]  # the secret arrived in two pieces
    _died(flight)
    assert journal.rewrite(store.url, lambda r: json.loads(json.dumps(r).replace("sk-live-ABCDEF123", "[x]"))) == 1
    [path] = call_files(agentik_home)
    assert "ABCDEF" not in path.read_text()
    recording.replay_journal(store)
    assert db_rows(agentik_home, "SELECT content FROM messages ORDER BY id DESC LIMIT 1")[0][0] == (
        "the key is [x] and more"
    )


@pytest.mark.slow
def test_the_journal_beats_for_its_reservation_while_the_call_lasts(monkeypatch, store):
    monkeypatch.setattr(journal, "HEARTBEAT_EVERY", 0.3)
    beats: list[float] = []
    flight = journal.Flight(store.url, {"at": now_utc()}, lambda: ("", []), lambda: beats.append(1))
    time.sleep(1.2)
    flight.done()
    assert 2 <= len(beats) <= 4


# ---- reservations ----


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _reserve(store, amount_usd: float, host: str, pid: int, started: str, heartbeat_ago: float = 0) -> int:
    with store.write() as unit:
        rid = budget_store.reserve(unit, None, int(amount_usd * 1e9), host, pid, started)
        if heartbeat_ago:
            from sqlalchemy import update

            from agentik_cli.store.models import Reservation

            then = unit.now - timedelta(seconds=heartbeat_ago)
            unit.session.execute(
                update(Reservation).where(Reservation.id == rid).values(heartbeat_at=then, created_at=then)
            )
        return rid


def test_a_reservation_of_a_process_that_is_gone_is_released_by_the_next_check(cli, fake, helper, store):
    fake.default = Reply(text="ok", input_tokens=10, output_tokens=5)
    cli("budgets", "set", "--daily", "1")
    me = owner.me()
    mine = _reserve(store, 0.99, me.host, me.pid, me.started)  # this process: running
    assert cli.json("budgets", "list")[0]["reserved"] == 0.99
    cli("chat", "helper", "-m", "hi", code=3)  # held by a call that still runs
    with store.write() as unit:
        budget_store.release(unit, mine)
    _reserve(store, 0.99, me.host, _dead_pid(), owner.local_prefix() + "1")  # a process of this host that died
    assert cli.json("budgets", "list")[0]["reserved"] == 0
    cli("chat", "helper", "-m", "hi")
    assert db_rows(Path(os.environ["AGENTIK_HOME"]), "SELECT count(*) FROM reservations")[0][0] == 0
    # a process id taken since by another process (this one): its start time tells them apart
    _reserve(store, 0.99, me.host, me.pid, owner.local_prefix() + "1")
    assert cli.json("budgets", "list")[0]["reserved"] == 0


def test_another_hosts_reservation_is_released_when_its_heartbeat_lapses(cli, fake, helper, store):
    fake.default = Reply(text="ok", input_tokens=10, output_tokens=5)
    cli("budgets", "set", "--daily", "1")
    rid = _reserve(store, 0.99, "elsewhere", 4242, "x", heartbeat_ago=60)
    cli("chat", "helper", "-m", "hi", code=3)  # heard from a minute ago: its call may still run
    with store.write() as unit:
        budget_store.release(unit, rid)
    _reserve(store, 0.99, "elsewhere", 4242, "x", heartbeat_ago=180)  # silent for 3 minutes
    assert cli.json("budgets", "list")[0]["reserved"] == 0
    cli("chat", "helper", "-m", "hi")


def test_budgets_release_asks_and_drops_what_is_left_behind(cli, fake, helper, store, agentik_home):
    cli("budgets", "set", "--daily", "5")
    me = owner.me()
    _reserve(store, 0.5, me.host, _dead_pid(), owner.local_prefix() + "1")
    _reserve(store, 0.25, "elsewhere", 77, "x", heartbeat_ago=600)
    _reserve(store, 1.0, me.host, me.pid, me.started)  # running
    _reserve(store, 2.0, "elsewhere", 78, "x")  # running there, by its heartbeat
    result = cli("budgets", "release", code=2)  # not a terminal: --yes or nothing
    assert "--yes" in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 4
    result = cli("budgets", "release", "--yes")
    assert "its process is gone" in result.stdout and "last heard from 10 min ago" in result.stdout
    assert "released 2 reservations ($0.75)" in result.stderr
    result = cli("budgets", "release", "--yes")
    assert "2 held by calls still running: --all releases them too" in result.stderr
    cli("budgets", "release", "--all", "--yes")
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 0


def test_a_heartbeat_renews_the_reservation(store):
    rid = _reserve(store, 0.1, "elsewhere", 1, "x", heartbeat_ago=100)
    recording.heartbeat(store, rid)
    with store.read() as session:
        [row] = budget_store.held(session)
    assert row.heartbeat_at is not None and now_utc() - row.heartbeat_at.replace(tzinfo=now_utc().tzinfo) < timedelta(
        seconds=10
    )


def test_the_status_line_counts_what_a_running_process_holds(cli, helper, store):
    cli("budgets", "set", "--daily", "1")
    _reserve(store, 0.25, "elsewhere", 1, "x")  # heard from just now
    _reserve(store, 0.5, "elsewhere", 2, "x", heartbeat_ago=600)  # silent for ten minutes
    assert cli.json("statusline")["budget_left"] == 0.75


@pytest.mark.sqlite_only(reason="a SQLite file from before reservations named their process")
def test_the_status_line_reads_a_store_not_yet_upgraded(cli, agentik_home):
    import sqlite3

    from agentik_cli.store import engine, migrations

    path = agentik_home / "old.db"
    agentik_home.mkdir(parents=True, exist_ok=True)
    old = engine.Store(f"sqlite:///{path}")
    with old.engine.connect() as conn, conn.begin():
        migrations.apply(conn, set(), upto="0011_webhook_internal")
    old.dispose()
    now = now_utc().strftime("%Y-%m-%d %H:%M:%S.%f")
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO budgets VALUES (0, 'day', NULL, 1000000000, 80, 0, 'me', ?)", (now,))
        db.execute(
            "INSERT INTO reservations (agent_id, amount_nd, created_at, user_name) VALUES (NULL, 250000000, ?, 'me')",
            (now,),
        )
    assert cli.json("--db", str(path), "statusline")["budget_left"] == 0.75
