"""`costs import --from claude-code`: Claude Code's transcripts, read as its own lines are written
(the line shapes are those of ~/.claude/projects/<folder>/<session>.jsonl as ccusage's data loader
and library-notes.md describe them), priced by hand below from Anthropic's list prices, stored once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import base_env, db_rows

pytestmark = pytest.mark.both_stores

# $3 in, $15 out, $0.30 cache read, $3.75 a 5-minute write; past 200k: $6, $22.50, $0.60, $7.50
SONNET = "claude-sonnet-4-5-20250929"


def assistant(
    message_id: str,
    at: str,
    *,
    model: str = SONNET,
    session: str = "s1",
    request: str | None = None,
    text: str = "",
    fresh: int = 0,
    read: int = 0,
    five: int = 0,
    hour: int = 0,
    out: int = 0,
    cost_usd: float | None = None,
    split: bool = True,
) -> dict:
    usage: dict = {
        "input_tokens": fresh,
        "cache_creation_input_tokens": five + hour,
        "cache_read_input_tokens": read,
        "output_tokens": out,
    }
    if split:
        usage["cache_creation"] = {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour}
    line = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": "/home/ana/shop",
        "sessionId": session,
        "version": "2.0.14",
        "type": "assistant",
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": text}] if text else [],
            "usage": usage,
        },
        "requestId": request or f"req_{message_id}",
        "uuid": f"u-{message_id}-{out}",
        "timestamp": at,
    }
    if cost_usd is not None:
        line["costUSD"] = cost_usd
    return line


def user(uuid: str, at: str, text, session: str = "s1") -> dict:
    return {
        "type": "user",
        "sessionId": session,
        "cwd": "/home/ana/shop",
        "uuid": uuid,
        "timestamp": at,
        "message": {"role": "user", "content": text},
    }


def write(path: Path, *lines, mode: str = "w") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open(mode, encoding="utf-8") as handle:
        for line in lines:
            handle.write((line if isinstance(line, str) else json.dumps(line)) + "\n")
    return path


def run(cli, *paths, args=()) -> dict:
    return cli.json("costs", "import", "--from", "claude-code", *map(str, paths), *args)


def costs(cli) -> dict[str, dict]:
    return {row["model"] + "@" + row["timestamp"]: row for row in cli.json("costs", "list")}


def test_each_pricing_rule_by_hand(cli, tmp_path):
    folder = tmp_path / "projects" / "-home-ana-shop"
    write(
        folder / "s1.jsonl",
        user("p1", "2026-11-02T09:00:00Z", "Why is the total off by a cent?"),
        # 10 fresh at $3, 30,000 read at $0.30, 1,000 written for 5 minutes at $3.75 and 1,000 for an
        # hour at 2 x $3 = $6, 400 out at $15: 30 + 9,000 + 3,750 + 6,000 + 6,000 = 24,780 per million
        assistant(
            "msg_A",
            "2026-11-02T09:00:05Z",
            fresh=10,
            read=30_000,
            five=1_000,
            hour=1_000,
            out=400,
            cost_usd=0.0185,
            text="Rounding happens per line.",
        ),
        # a long prompt (1,000 + 250,000 read >= 200k): the whole request at the long-context prices:
        # 1,000 x $6 + 250,000 x $0.60 + 1,000 out x $22.50 = 6,000 + 150,000 + 22,500 per million
        assistant("msg_B", "2026-11-02T09:01:00Z", fresh=1_000, read=250_000, out=1_000),
        # no split by lifetime: every write is a 5-minute one: 2,000 x $3.75 + 100 x $15 = 9,000
        assistant("msg_C", "2026-11-02T09:02:00Z", five=2_000, out=100, split=False),
        # a model no price list knows: unpriced, never $0
        assistant("msg_D", "2026-11-02T09:03:00Z", model="claude-imaginary-9", fresh=100, out=8),
    )
    summary = run(cli, tmp_path / "projects")
    assert (summary["files"], summary["lines"], summary["imported"], summary["unpriced_calls"]) == (1, 5, 4, 1)
    rows = costs(cli)
    assert rows[f"{SONNET}@2026-11-02T09:00:05Z"]["total_cost"] == pytest.approx(0.02478, abs=1e-12)
    assert rows[f"{SONNET}@2026-11-02T09:00:05Z"]["input_tokens"] == 32_010  # the whole prompt
    assert rows[f"{SONNET}@2026-11-02T09:01:00Z"]["total_cost"] == pytest.approx(0.1785, abs=1e-12)
    assert rows[f"{SONNET}@2026-11-02T09:02:00Z"]["total_cost"] == pytest.approx(0.009, abs=1e-12)
    assert rows["claude-imaginary-9@2026-11-02T09:03:00Z"]["total_cost"] is None
    assert summary["cost"] == pytest.approx(0.02478 + 0.1785 + 0.009, abs=1e-12)
    # the ledger's totals moved with the rows
    by_model = {row["model"]: row for row in cli.json("costs", "by-model")}
    assert by_model[SONNET]["cost"] == pytest.approx(0.21228, abs=1e-12)
    assert by_model["claude-imaginary-9"]["unpriced_calls"] == 1


def test_snapshots_of_one_response_count_once_from_the_largest(cli, tmp_path):
    folder = tmp_path / "p" / "-home-ana-shop"
    write(
        folder / "s1.jsonl",
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=3, read=1_000, out=1, text="Let me look."),
        assistant("msg_A", "2026-11-02T09:00:02Z", fresh=3, read=1_000, out=250, text="It is the rounding."),
        assistant("msg_A", "2026-11-02T09:00:03Z", fresh=3, read=1_000, out=12),  # a later, smaller line
    )
    summary = run(cli, tmp_path / "p")
    assert summary["imported"] == 1
    [row] = cli.json("costs", "list")
    assert (row["input_tokens"], row["output_tokens"]) == (1_003, 250)
    assert row["total_cost"] == pytest.approx((3 * 3 + 1_000 * 0.3 + 250 * 15) / 1e6, abs=1e-12)
    [session] = cli.json("sessions", "list")
    shown = cli.json("sessions", "show", str(session["id"]))
    assert [m["content"] for m in shown["messages"]] == ["Let me look.\n\nIt is the rounding."]


def test_subagents_join_their_session_and_a_copy_in_another_file_counts_once(cli, tmp_path):
    root = tmp_path / "projects"
    write(
        root / "-home-ana-shop" / "s1.jsonl",
        user("p1", "2026-11-02T09:00:00Z", "Find the bug"),
        assistant("msg_A", "2026-11-02T09:00:05Z", fresh=10, out=10),
    )
    # a subagent's transcript, nested under its session, with its parent's sessionId
    write(
        root / "-home-ana-shop" / "s1" / "subagents" / "agent-1.jsonl",
        assistant("msg_S", "2026-11-02T09:00:03Z", model="claude-haiku-4-5", fresh=1_200, out=80),
    )
    # a resumed session copies earlier lines into its own file
    write(
        root / "-home-ana-shop" / "s2.jsonl",
        assistant("msg_A", "2026-11-02T09:00:05Z", fresh=10, out=10),
        assistant("msg_B", "2026-11-03T10:00:00Z", session="s2", fresh=5, out=5),
    )
    summary = run(cli, root)
    assert (summary["files"], summary["imported"], summary["skipped"]["duplicates"]) == (3, 3, 1)
    sessions = {s["title"]: s for s in cli.json("sessions", "list")}
    assert sessions["shop: Find the bug"]["messages"] == 3  # the prompt, the reply, the subagent's call
    assert sessions["shop: Find the bug"]["channel"] == "claude-code"
    # haiku 4.5: 1,200 x $1 + 80 x $5
    haiku = [r for r in cli.json("costs", "list") if r["model"] == "claude-haiku-4-5"]
    assert haiku[0]["total_cost"] == pytest.approx((1_200 * 1 + 80 * 5) / 1e6, abs=1e-12)
    assert haiku[0]["session_id"] == sessions["shop: Find the bug"]["id"]


def test_a_file_appended_to_between_runs_adds_only_what_is_new(cli, tmp_path):
    log = write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1))
    assert run(cli, tmp_path / "p")["imported"] == 1
    again = run(cli, tmp_path / "p")
    assert (again["imported"], again["lines"]) == (0, 0)  # unchanged: not even read
    # the same response's final snapshot, written after the first run, and a new call; a half-written line
    write(
        log,
        assistant("msg_A", "2026-11-02T09:00:02Z", fresh=5, out=300, text="Done."),
        assistant("msg_B", "2026-11-02T09:05:00Z", fresh=7, out=7),
        mode="a",
    )
    with log.open("a") as handle:
        handle.write('{"type": "assistant", "message": {"id": "msg_C"')
    later = run(cli, tmp_path / "p")
    assert (later["lines"], later["imported"], later["replaced"], later["skipped"]["unparsable"]) == (2, 1, 1, 0)
    rows = {r["timestamp"]: r for r in cli.json("costs", "list")}
    assert len(rows) == 2
    assert rows["2026-11-02T09:00:02Z"]["output_tokens"] == 300
    summary = cli.json("costs", "summary")
    assert summary["total"] == pytest.approx((5 * 3 + 300 * 15 + 7 * 3 + 7 * 15) / 1e6, abs=1e-12)
    [session] = cli.json("sessions", "list")
    assert session["total_cost"] == summary["total"]
    # the half-written line, finished
    with log.open("a") as handle:
        rest = {"input_tokens": 1, "output_tokens": 1}
        handle.write(f', "model": "{SONNET}", "usage": {json.dumps(rest)}}}, "sessionId": "s1", ')
        handle.write('"timestamp": "2026-11-02T09:06:00Z"}\n')
    assert run(cli, tmp_path / "p")["imported"] == 1


def test_a_rotated_or_rewritten_file_brings_nothing_twice_and_a_deleted_one_keeps_its_history(cli, tmp_path):
    log = write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1))
    run(cli, tmp_path / "p")
    log.rename(tmp_path / "old.jsonl")  # another file at the same path, with the old lines and a new one
    write(
        log,
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1),
        assistant("msg_B", "2026-11-02T09:00:09Z", fresh=5, out=1),
    )
    summary = run(cli, tmp_path / "p")
    assert (summary["imported"], summary["skipped"]["duplicates"]) == (1, 1)
    log.unlink()
    assert run(cli, tmp_path / "p")["files"] == 0
    assert len(cli.json("costs", "list")) == 2


def test_bad_lines_unknown_types_and_a_missing_path(cli, tmp_path):
    write(
        tmp_path / "p" / "x" / "s1.jsonl",
        "not json",
        '{"type": "a-type-from-next-year", "sessionId": "s1"}',
        '["a list"]',
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1),
    )
    summary = run(cli, tmp_path / "p")
    assert summary["skipped"]["unparsable"] == 2
    assert summary["skipped"]["unknown_types"] == 1
    assert summary["imported"] == 1
    result = cli("costs", "import", "--from", "claude-code", str(tmp_path / "nowhere"), code=2)
    assert "no such file or folder" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2  # the line and its hint, no traceback
    cli("costs", "import", "--from", "cursor", code=2)


def test_default_folder_dry_run_and_the_tools_own_cost(cli, tmp_path):
    home = Path(os.environ["HOME"])
    write(
        home / ".claude" / "projects" / "-home-ana-shop" / "s1.jsonl",
        assistant(
            "msg_A", "2026-11-02T09:00:05Z", fresh=10, read=30_000, five=1_000, hour=1_000, out=400, cost_usd=0.0185
        ),
    )
    plan = cli.json("costs", "import", "--from", "claude-code", "--dry-run")
    assert plan["dry_run"] and plan["imported"] == 1
    [day] = plan["days"]
    assert (day["day"], day["model"], day["calls"]) == ("2026-11-02", SONNET, 1)
    assert day["cost"] == pytest.approx(0.02478, abs=1e-12)
    assert day["source_cost"] == pytest.approx(0.0185, abs=1e-12)
    assert cli.json("costs", "list") == []  # nothing written
    table = cli("costs", "import", "--from", "claude-code", "--dry-run").stdout
    assert "claude-code says" in table and "$0.0185" in table and "$0.02478" in table
    assert cli.json("costs", "import", "--from", "claude-code")["imported"] == 1
    assert db_rows(Path(os.environ["AGENTIK_HOME"]), "SELECT source_cost_nd FROM costs") == [(18_500_000,)]


def test_imported_spend_crossing_a_budget_warns(cli, tmp_path):
    write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1))
    run(cli, tmp_path / "p")
    cli("budgets", "set", "--monthly", "0.01", "--agent", "claude-code")
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_B", now, fresh=5, out=1_000), mode="a")
    result = cli("costs", "import", "--from", "claude-code", str(tmp_path / "p"))
    assert "budget" in result.stderr


@pytest.mark.slow
def test_follow_imports_a_line_within_a_second(tmp_path):
    folder = tmp_path / "p" / "x"
    log = write(folder / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1))
    env = base_env(tmp_path / "home")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentik_cli",
            "costs",
            "import",
            "--from",
            "claude-code",
            str(tmp_path / "p"),
            "--follow",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        first = json.loads(process.stdout.readline())
        assert first["imported"] == 1
        time.sleep(0.3)
        written = time.monotonic()
        write(log, assistant("msg_B", "2026-11-02T09:00:09Z", fresh=5, out=1), mode="a")
        second = json.loads(process.stdout.readline())
        assert second["imported"] == 1
        assert time.monotonic() - written < 1.0
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=10)
    assert process.returncode == 130


def test_a_big_import_is_searchable_and_later_messages_too(cli, tmp_path):
    lines = []
    for number in range(600):  # 1,200 messages: the search index is filled in one statement
        at = f"2026-11-02T09:{number // 60:02d}:{number % 60:02d}Z"
        lines.append(user(f"p{number}", at, f"question {number}"))
        lines.append(assistant(f"msg_{number}", at, fresh=5, out=1, text=f"answer{number} about rounding"))
    write(tmp_path / "p" / "x" / "s1.jsonl", *lines)
    assert run(cli, tmp_path / "p")["messages"] == 1_200
    found = cli.json("sessions", "search", "answer599")
    assert [m["content"] for m in found] == ["answer599 about rounding"]
    assert len(cli.json("sessions", "search", "rounding", "--limit", "2000")) == 600
    write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_late", "2026-11-03T09:00:00Z", text="zebra"), mode="a")
    run(cli, tmp_path / "p")  # one message: written through the index's own trigger, which is still there
    assert [m["content"] for m in cli.json("sessions", "search", "zebra")] == ["zebra"]


def test_each_call_is_priced_at_its_days_prices(cli, tmp_path):
    """claude-sonnet-4-6's long-context premium ended on 2026-03-13 (the bundled price list): a 250k
    prompt the day before is priced at $6 per million input tokens, the day after at $3."""
    write(
        tmp_path / "p" / "x" / "s1.jsonl",
        assistant("msg_A", "2026-03-12T09:00:00Z", model="claude-sonnet-4-6", fresh=250_000, out=0),
        assistant("msg_B", "2026-03-14T09:00:00Z", model="claude-sonnet-4-6", fresh=250_000, out=0),
    )
    run(cli, tmp_path / "p")
    rows = {row["timestamp"][:10]: row for row in cli.json("costs", "list")}
    assert rows["2026-03-12"]["total_cost"] == pytest.approx(1.5, abs=1e-12)
    assert rows["2026-03-14"]["total_cost"] == pytest.approx(0.75, abs=1e-12)


def test_what_the_store_keeps_of_a_file_holds_none_of_its_words(cli, tmp_path):
    """The mark of a file (where its next read starts) keeps a hash of its first bytes, not the bytes:
    a transcript starts with what someone typed, and `sessions redact` could not reach a copy there."""
    words = "my password is hunter2-0123456789"
    write(tmp_path / "p" / "x" / "s1.jsonl", user("p1", "2026-11-02T09:00:00Z", words),
          assistant("msg_A", "2026-11-02T09:00:05Z", fresh=5, out=1))  # fmt: skip
    run(cli, tmp_path / "p")
    [(mark,)] = db_rows(Path(os.environ["AGENTIK_HOME"]), "SELECT mark FROM import_files")
    assert "hunter2" not in mark and words.encode().hex()[:40] not in mark


def test_files_read_by_forked_readers_import_what_one_process_does(cli, tmp_path, monkeypatch):
    """A big import reads its files in processes of their own, in order, while this one writes: the
    same calls, sessions and totals as reading them here."""
    from agentik_cli.services import usage_import

    for number in range(12):
        write(tmp_path / "p" / f"proj{number % 3}" / f"s{number}.jsonl",
              user(f"p{number}", "2026-11-02T09:00:00Z", f"question {number}", session=f"s{number}"),
              *[assistant(f"msg_{number}_{turn}", f"2026-11-02T09:00:{turn:02d}Z", session=f"s{number}",
                          fresh=10 + turn, read=1_000 * turn, out=turn + 1) for turn in range(1, 30)])  # fmt: skip
    monkeypatch.setattr(usage_import, "PARALLEL_BYTES", 0)
    monkeypatch.setattr(usage_import, "READ_AHEAD", 1)
    summary = run(cli, tmp_path / "p")
    assert (summary["files"], summary["imported"], summary["messages"]) == (12, 12 * 29, 12 * 30)
    # by hand: each call 10+turn fresh at $3, 1,000 x turn read at $0.30, turn+1 out at $15
    expected = sum((10 + t) * 3 + 1_000 * t * 0.3 + (t + 1) * 15 for t in range(1, 30)) * 12 / 1e6
    assert cli.json("costs", "summary")["total"] == pytest.approx(expected, abs=1e-9)
    titles = sorted(s["title"] for s in cli.json("sessions", "list"))
    assert titles == sorted(f"shop: question {n}" for n in range(12))
    assert run(cli, tmp_path / "p")["imported"] == 0


def test_no_logs_in_the_default_folders_says_where_it_looked(cli):
    result = cli("costs", "import", "--from", "claude-code")
    assert result.stdout.startswith("claude-code: 0 files")
    home = os.environ["HOME"]
    assert f"no claude-code logs found under {home}/.claude/projects" in result.stderr


def test_a_title_written_after_the_first_import_names_the_session(cli, tmp_path):
    log = write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1))
    run(cli, tmp_path / "p")
    assert [s["title"] for s in cli.json("sessions", "list")] == ["shop"]  # its project alone, so far
    write(log, {"type": "summary", "summary": "Rounding fixed", "leafUuid": "u-msg_A-1"}, mode="a")
    run(cli, tmp_path / "p")
    assert [s["title"] for s in cli.json("sessions", "list")] == ["shop: Rounding fixed"]
    cli("sessions", "rename", str(cli.json("sessions", "list")[0]["id"]), "mine")
    write(log, {"type": "summary", "summary": "Another summary", "leafUuid": "u-msg_A-1"}, mode="a")
    run(cli, tmp_path / "p")
    assert [s["title"] for s in cli.json("sessions", "list")] == ["mine"]  # a name given is kept


def test_a_removed_agent_s_imported_words_do_not_come_back(cli, tmp_path):
    log = write(tmp_path / "p" / "x" / "s1.jsonl", user("p1", "2026-11-02T09:00:00Z", "an old secret plan"),
                assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5, text="noted"))  # fmt: skip
    run(cli, tmp_path / "p")
    cli("agents", "remove", "claude-code", "--yes")
    other = log.with_name("s1.jsonl.new")
    other.write_bytes(log.read_bytes())  # made while the old one lives: another inode
    other.replace(log)  # another file at the same path: read again from its start
    summary = run(cli, tmp_path / "p")
    assert (summary["lines"], summary["imported"], summary["messages"]) == (2, 0, 0)
    assert cli.json("sessions", "search", "secret") == []
    assert cli.json("sessions", "list") == []
