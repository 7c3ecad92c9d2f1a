"""A hostile review of `costs import --from` (issue 23): each test is a defect found by trying to
break the import (what a log may hold, what other commands do to what was imported, what --follow
and the summary say), named for the behaviour a user expects."""

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
from tests.sources.test_claude_code import SONNET, assistant, run, user, write

pytestmark = pytest.mark.both_stores


def rewrite(path: Path) -> None:
    """The same lines in another file at the same path (a rotation, a rewrite): read from the start."""
    other = path.with_name(path.name + ".new")
    other.write_bytes(path.read_bytes())  # made while the old one lives: another inode, surely
    other.replace(path)


def home() -> Path:
    return Path(os.environ["AGENTIK_HOME"])


def test_the_summary_gives_the_cost_of_the_calls_it_imported_not_of_those_already_stored(cli, tmp_path):
    log = write(
        tmp_path / "p" / "x" / "s1.jsonl",
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=1_000, out=100),
        assistant("msg_B", "2026-11-02T09:00:02Z", model="claude-imaginary-9", fresh=10, out=1),
    )
    first = run(cli, tmp_path / "p")
    assert first["cost"] == pytest.approx((1_000 * 3 + 100 * 15) / 1e6, abs=1e-12)
    assert first["unpriced_calls"] == 1
    rewrite(log)
    again = run(cli, tmp_path / "p")
    assert (again["imported"], again["skipped"]["duplicates"]) == (0, 2)
    # nothing was added to the ledger: the summary must not say $0.0045 (nor an unpriced call) again
    assert (again["cost"], again["unpriced_calls"]) == (0, 0)
    text = cli("costs", "import", "--from", "claude-code", str(tmp_path / "p")).stdout
    assert "imported 0 calls ($0.00)" in text


def test_an_absurd_token_count_in_a_log_is_skipped_neither_priced_nor_a_crash(cli, tmp_path):
    write(
        tmp_path / "p" / "x" / "s1.jsonl",
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10**15, out=5),  # $3 billion if priced
        assistant("msg_B", "2026-11-02T09:00:02Z", fresh=10**30, out=5),  # beyond any column
        assistant("msg_C", "2026-11-02T09:00:03Z", fresh=10, out=5),
    )
    summary = run(cli, tmp_path / "p")
    assert summary["imported"] == 1
    assert summary["skipped"]["unparsable"] == 2
    [row] = cli.json("costs", "list")
    assert (row["input_tokens"], row["output_tokens"]) == (10, 5)


def test_an_absurd_cost_usd_in_a_log_is_not_kept_and_no_crash(cli, tmp_path):
    good = assistant("msg_C", "2026-11-02T09:00:03Z", fresh=10, out=5, cost_usd=0.000105)
    lines = [
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5, cost_usd=1e20),
        assistant("msg_B", "2026-11-02T09:00:02Z", fresh=10, out=5),
        good,
    ]
    lines[1]["costUSD"] = float("inf")  # json.dumps writes Infinity, which json.loads reads back
    write(tmp_path / "p" / "x" / "s1.jsonl", *lines)
    plan = run(cli, tmp_path / "p", args=("--dry-run",))
    assert plan["days"][0]["source_cost"] == pytest.approx(0.000105, abs=1e-12)
    assert run(cli, tmp_path / "p")["imported"] == 3
    kept = db_rows(home(), "SELECT source_cost_nd FROM costs WHERE source_cost_nd IS NOT NULL")
    assert kept == [(105_000,)]


def test_follow_or_dry_run_without_from_hints_at_the_flag_itself(cli):
    result = cli("costs", "import", "--follow", code=2)
    assert "{flag}" not in result.stderr
    assert "agentik costs import --from claude-code --follow" in result.stderr


def test_a_non_utf8_byte_in_a_lines_text_keeps_the_calls_spend(cli, tmp_path):
    line = json.dumps(assistant("msg_A", "2026-11-02T09:00:01Z", fresh=1_000, out=100, text="caf\u00e9"))
    broken = line.encode().replace(b"caf\\u00e9", b"caf\xe9")  # Latin-1, not UTF-8
    log = tmp_path / "p" / "x" / "s1.jsonl"
    log.parent.mkdir(parents=True)
    log.write_bytes(broken + b"\n")
    summary = run(cli, tmp_path / "p")
    assert summary["imported"] == 1  # a byte of its text does not lose the call's $0.0045
    assert summary["cost"] == pytest.approx((1_000 * 3 + 100 * 15) / 1e6, abs=1e-12)


def test_a_removed_imported_session_does_not_come_back_when_its_file_is_read_again(cli, tmp_path):
    log = write(
        tmp_path / "p" / "x" / "s1.jsonl",
        user("p1", "2026-11-02T09:00:00Z", "a question I regret"),
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5, text="an answer"),
    )
    run(cli, tmp_path / "p")
    [session] = cli.json("sessions", "list")
    cli("sessions", "remove", str(session["id"]), "--yes")
    rewrite(log)  # a rotation, or Gemini CLI rewriting its .json chat at the next turn
    summary = run(cli, tmp_path / "p")
    assert summary["imported"] == 0
    assert cli.json("sessions", "list") == []  # no half session of the person's words alone
    assert cli.json("sessions", "search", "regret") == []


def test_a_forgotten_imported_message_does_not_come_back_when_its_file_is_read_again(cli, tmp_path):
    log = write(
        tmp_path / "p" / "x" / "s1.jsonl",
        user("p1", "2026-11-02T09:00:00Z", "my password is hunter2"),
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5, text="noted"),
    )
    run(cli, tmp_path / "p")
    [session] = cli.json("sessions", "list")
    [said] = [m for m in cli.json("sessions", "show", str(session["id"]))["messages"] if m["role"] == "user"]
    cli("sessions", "forget", str(said["id"]), "--yes")
    rewrite(log)
    run(cli, tmp_path / "p")
    assert cli.json("sessions", "search", "hunter2") == []


def test_a_reimport_after_costs_cleanup_neither_fails_nor_brings_the_rows_back(cli, tmp_path):
    log = write(
        tmp_path / "p" / "x" / "s1.jsonl",
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5),
    )
    run(cli, tmp_path / "p")
    cli("costs", "cleanup", "--older-than", "1", "--yes")
    assert cli.json("costs", "list") == []
    rewrite(log)
    write(log, assistant("msg_B", time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), fresh=10, out=5), mode="a")
    assert run(cli, tmp_path / "p", args=("--dry-run",))["imported"] == 1  # what the import will do
    summary = run(cli, tmp_path / "p")  # was: exit 1, "unexpected IntegrityError", every run after
    # what the user removed stays removed; what is new comes in
    assert (summary["imported"], summary["skipped"]["duplicates"]) == (1, 1)
    assert [row["output_tokens"] for row in cli.json("costs", "list")] == [5]
    assert len(cli.json("costs", "list")) == 1


def test_an_import_into_a_db_copy_adds_no_empty_sessions(cli, tmp_path):
    write(
        tmp_path / "p" / "x" / "s1.jsonl",
        user("p1", "2026-11-02T09:00:00Z", "Find the bug"),
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5),
    )
    run(cli, tmp_path / "p")
    target = tmp_path / "copy" / "agentik.db"
    target.parent.mkdir()
    cli("db", "copy", "--to", str(target))
    env = {"AGENTIK_HOME": str(target.parent), "AGENTIK_DB": None}
    summary = json.loads(cli("costs", "import", "--from", "claude-code", str(tmp_path / "p"), "--json", env=env).stdout)
    assert (summary["imported"], summary["sessions"]) == (0, 0)
    sessions = json.loads(cli("sessions", "list", "--json", env=env).stdout)
    assert [s["messages"] for s in sessions] == [2]


def test_db_copy_keeps_what_an_import_needs_to_carry_on_in_the_copy(cli, tmp_path):
    log = write(
        tmp_path / "p" / "x" / "s1.jsonl",
        assistant("msg_A", "2026-11-02T09:00:01Z", fresh=10, out=5, cost_usd=0.000105),
    )
    run(cli, tmp_path / "p")
    target = tmp_path / "copy" / "agentik.db"
    target.parent.mkdir()
    cli("db", "copy", "--to", str(target))
    env = {"AGENTIK_HOME": str(target.parent), "AGENTIK_DB": None}
    write(log, assistant("msg_B", "2026-11-02T09:00:09Z", fresh=10, out=5), mode="a")
    cli("costs", "import", "--from", "claude-code", str(tmp_path / "p"), "--json", env=env)
    # the session's next call joins the copied session, and the tool's own cost came along
    sessions = json.loads(cli("sessions", "list", "--json", env=env).stdout)
    assert [s["messages"] for s in sessions] == [2]
    import sqlite3

    with sqlite3.connect(target) as db:
        assert db.execute("SELECT source_cost_nd FROM costs WHERE source_cost_nd IS NOT NULL").fetchall() == [
            (105_000,)
        ]


@pytest.mark.slow
def test_follow_with_json_still_warns_and_sends_budget_events(cli, tmp_path):
    folder = tmp_path / "p" / "x"
    log = write(folder / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=5, out=1))
    run(cli, tmp_path / "p")
    cli("budgets", "set", "--monthly", "0.01", "--agent", "claude-code")
    process = subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", "costs", "import", "--from", "claude-code", str(tmp_path / "p")]
        + ["--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(),
    )
    try:
        json.loads(process.stdout.readline())  # the first round (nothing new)
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        write(log, assistant("msg_B", now, model=SONNET, fresh=5, out=1_000), mode="a")  # $0.015 of $0.01
        assert json.loads(process.stdout.readline())["imported"] == 1
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGTERM)
        _, err = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "budget" in err
    assert db_rows(home(), "SELECT count(*) FROM settings WHERE key LIKE 'budget_exceeded:%'")[0][0] == 1


def test_a_prompt_of_exactly_200k_tokens_is_not_yet_long_context(cli, tmp_path):
    # Anthropic (and genai-prices, whose tiers agentik reads) charge the long-context rates for a
    # prompt that exceeds 200k: 200,000 is still $3 in and $15 out
    write(tmp_path / "p" / "x" / "s1.jsonl", assistant("msg_A", "2026-11-02T09:00:01Z", fresh=200_000, out=1_000))
    run(cli, tmp_path / "p")
    [row] = cli.json("costs", "list")
    assert row["total_cost"] == pytest.approx((200_000 * 3 + 1_000 * 15) / 1e6, abs=1e-12)


def test_sonnet_4_past_200k_is_priced_at_its_long_context_rates_too(cli, tmp_path):
    # the issue: "a long context's premium on the whole request" for Sonnet 4 as for 4.5 ($6 / $22.50)
    write(
        tmp_path / "p" / "x" / "s1.jsonl",
        assistant("msg_A", "2026-11-02T09:00:01Z", model="claude-sonnet-4-20250514", fresh=250_000, out=1_000),
    )
    run(cli, tmp_path / "p")
    [row] = cli.json("costs", "list")
    assert row["total_cost"] == pytest.approx((250_000 * 6 + 1_000 * 22.5) / 1e6, abs=1e-12)
