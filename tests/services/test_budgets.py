"""Budgets: a call whose worst case could pass a limit is not sent (exit 3), processes running at
once see each other's reservations, a tool loop is stopped mid-chain, a model with no price is
refused, the warning is said once, and the day begins at local midnight. On both stores."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import base_env, db_rows, set_tz
from tests.fakeprovider import Reply

# claude-sonnet-4-0: $3 in, $15 out a million tokens. max_tokens 100,000 makes a call's worst case
# a little over $1.50 (its output) and its actual cost a little over that too (the server reports
# 100,000 output tokens and more input than agentik's ceiling): a $5 budget takes exactly 3 calls,
# whatever the order in which they start and finish.
BIG = Reply(text="ok", input_tokens=400, output_tokens=100_000)


@pytest.fixture
def helper(cli):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--max-tokens", "100000")


def test_set_list_and_remove(cli, helper):
    cli("budgets", "set", "--daily", "5", "--monthly", "50")
    cli("budgets", "set", "--agent", "helper", "--daily", "1", "--warn", "50")
    rows = cli.json("budgets", "list")
    assert [(r["scope"], r["period"], r["limit"]) for r in rows] == [
        ("all", "day", 5.0),
        ("all", "month", 50.0),
        ("helper", "day", 1.0),
    ]
    assert rows[0] == {
        "scope": "all",
        "period": "day",
        "limit": 5.0,
        "spent": 0.0,
        "reserved": 0.0,
        "left": 5.0,
        "percent": 0.0,
    }
    csv = cli("budgets", "list", "--csv").stdout.splitlines()
    assert csv[0] == "scope,period,limit,spent,reserved,left,percent"
    cli("budgets", "set", "--daily", "7")  # updates
    assert cli.json("budgets", "list")[0]["limit"] == 7.0
    cli("budgets", "remove", "--monthly")
    assert [(r["scope"], r["period"]) for r in cli.json("budgets", "list")] == [("all", "day"), ("helper", "day")]
    cli("budgets", "remove", "--agent", "helper")
    cli("budgets", "remove", "--agent", "helper", code=1)
    cli("budgets", "set", code=2)
    cli("budgets", "set", "--daily", "-1", code=2)
    cli("budgets", "set", "--daily", "1", "--warn", "0", code=2)
    cli("budgets", "set", "--agent", "ghost", "--daily", "1", code=1)
    assert cli.json("costs", "summary")["budgets"][0]["scope"] == "all"


def test_a_call_that_could_go_over_is_not_sent(cli, fake, helper, agentik_home):
    fake.default = BIG
    cli("budgets", "set", "--agent", "helper", "--daily", "5")
    for _ in range(3):
        cli("chat", "helper", "-m", "go")
    result = cli("chat", "helper", "-m", "one more", code=3)
    assert len(fake.requests) == 3
    error = result.stderr.splitlines()
    assert error[0].startswith("agentik: error: refused by the daily budget of helper")
    assert "limit $5" in error[0] and error[1].startswith("hint: raise the budget to $")
    # neither the refused message nor a reservation is left
    assert db_rows(agentik_home, "SELECT count(*) FROM messages WHERE role = 'user'")[0][0] == 3
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 0
    status = cli.json("budgets", "list")[0]
    assert status["reserved"] == 0.0 and status["left"] == round(5 - status["spent"], 9)


def test_a_refusal_names_both_ways_out_with_their_numbers(cli, fake, helper, agentik_home):
    """With the default 8,192 max tokens the first call's worst case passes a $0.10 budget: the hint
    gives the limit that lets it through and the max tokens that fit, and each of them works (one
    token more does not)."""
    import re

    cli("budgets", "set", "--agent", "helper", "--daily", "0.10")
    error = cli("chat", "helper", "-m", "Summarise the incident report", code=3).stderr.splitlines()
    assert len(error) == 2 and fake.requests == []
    found = re.fullmatch(
        r"hint: raise the budget to \$(\d+\.\d\d) \(agentik budgets set --agent helper --daily (\d+\.\d\d)\), "
        r"or lower helper's max tokens to ([\d,]+) \(agentik agents update helper --max-tokens (\d+), "
        r"or --max-tokens (\d+) for one call\)",
        error[1],
    )
    assert found, error[1]
    limit, fits = found.group(1), int(found.group(4))
    assert found.group(2) == limit and int(found.group(3).replace(",", "")) == fits == int(found.group(5))
    assert 0 < fits < 8192
    cli("chat", "helper", "-m", "Summarise the incident report", "--max-tokens", str(fits + 1), code=3)
    cli("chat", "helper", "-m", "Summarise the incident report", "--max-tokens", str(fits))
    # the other way: the limit named (a cent less is not enough)
    again = cli("chat", "helper", "-m", "Summarise the incident report", code=3).stderr.splitlines()[1]
    raised = float(re.search(r"--daily (\d+\.\d\d)\)", again).group(1))
    cli("budgets", "set", "--agent", "helper", "--daily", f"{raised - 0.01:.2f}")
    cli("chat", "helper", "-m", "Summarise the incident report", code=3)
    cli("budgets", "set", "--agent", "helper", "--daily", f"{raised:.2f}")
    cli("chat", "helper", "-m", "Summarise the incident report")


@pytest.mark.both_stores
@pytest.mark.slow
def test_eight_processes_at_once_exactly_three_calls_reach_the_server(cli, fake, helper, agentik_home):
    fake.default = Reply(text="ok", input_tokens=400, output_tokens=100_000, delay=0.05)
    cli("budgets", "set", "--daily", "5")
    env = base_env(
        agentik_home,
        ANTHROPIC_BASE_URL=fake.url,
        ANTHROPIC_API_KEY="sk-ant-test-key-0123456789",
    )
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "agentik_cli", "chat", "helper", "-m", f"call {n}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    codes = sorted(child.wait(timeout=300) for child in children)
    assert codes == [0, 0, 0, 3, 3, 3, 3, 3]
    assert len(fake.requests) == 3  # counted where the calls arrive
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 3
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 0


def test_a_tool_loop_is_stopped_mid_chain(cli, fake, agentik_home):
    cli("agents", "create", "looper", "--model", "claude-sonnet-4-0", "--max-tokens", "100000", "--skill", "calc")
    call = {"name": "calc", "arguments": {"expression": "1+1"}}
    fake.default = Reply(text="", input_tokens=400, output_tokens=100_000, tool_calls=[call])
    cli("budgets", "set", "--agent", "looper", "--daily", "5", "--warn", "50")
    # a prompt long enough to hold the 400 tokens the server reports: no over-limit warning before
    # the budget's (tests/services/test_over_limit.py has those)
    result = cli("chat", "looper", "-m", "loop " * 80, code=3)
    assert len(fake.requests) == 3  # the fourth call of the chain was refused before it went out
    lines = [line for line in result.stderr.splitlines() if line.startswith("agentik:")]
    # the warning its earlier calls crossed is said, then the refusal
    assert lines[0].startswith("agentik: warning: the daily budget of looper is at ")
    assert lines[1].startswith("agentik: error: refused by the daily budget of looper")
    # the three rounds and their tool calls are stored; the loop just stopped
    assert db_rows(agentik_home, "SELECT count(*) FROM messages WHERE role = 'assistant'")[0][0] == 3
    assert db_rows(agentik_home, "SELECT count(*) FROM tool_calls")[0][0] == 3
    assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 0


def test_a_model_with_no_price_is_refused_unless_allowed(cli, fake):
    cli("agents", "create", "local", "--model", "llama3", "--base-url", fake.url + "/v1")
    cli("budgets", "set", "--monthly", "10")
    result = cli("chat", "local", "-m", "hi", code=3)
    assert "has no price" in result.stderr and "prices set llama3" in result.stderr
    assert fake.requests == []
    cli("budgets", "set", "--monthly", "10", "--allow-unpriced")
    cli("chat", "local", "-m", "hi")
    assert len(fake.requests) == 1


def test_the_warning_is_said_once(cli, fake):
    cli("agents", "create", "small", "--model", "claude-sonnet-4-0", "--max-tokens", "1000")
    fake.default = Reply(text="ok", input_tokens=400, output_tokens=1000)  # $0.0162 a call
    cli("budgets", "set", "--agent", "small", "--daily", "0.1", "--warn", "40")
    # each prompt long enough to hold the 400 tokens the server reports (else that is warned of too)
    assert "warning" not in cli("chat", "small", "-m", "a" * 400).stderr  # 16%
    assert "warning" not in cli("chat", "small", "-m", "b" * 400).stderr  # 32%
    warned = cli("chat", "small", "-m", "c" * 400).stderr  # 48.6%
    assert "agentik: warning: the daily budget of small is at 49%: $0.0486 of $0.1" in warned
    assert "warning" not in cli("chat", "small", "-m", "d" * 400).stderr


def test_the_day_begins_at_local_midnight(cli, helper, monkeypatch):
    set_tz(monkeypatch, "Asia/Kolkata")
    zone = ZoneInfo("Asia/Kolkata")
    midnight = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    before, after = midnight - timedelta(minutes=1), midnight + timedelta(minutes=1)
    for at, cost in ((before, "2"), (after, "1")):
        stamp = at.astimezone(UTC).isoformat()
        cli(
            "costs",
            "record",
            "--model",
            "m",
            "--provider",
            "openai",
            "--agent",
            "helper",
            "--cost",
            cost,
            "--input-tokens",
            "1",
            "--output-tokens",
            "1",
            "--at",
            stamp,
        )
    cli("budgets", "set", "--agent", "helper", "--daily", "10", "--monthly", "100")
    cli("budgets", "set", "--daily", "10")
    rows = {(r["scope"], r["period"]): r for r in cli.json("budgets", "list")}
    # yesterday's $2, one minute before local midnight, is not today's
    assert rows[("helper", "day")]["spent"] == 1.0 and rows[("all", "day")]["spent"] == 1.0
    if before.month == after.month:
        assert rows[("helper", "month")]["spent"] == 3.0
    assert json.dumps(rows[("helper", "day")])


def test_recorded_and_imported_spend_warns_as_a_chat_does(cli, tmp_path):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("budgets", "set", "--daily", "2", "--warn", "25")
    cli("budgets", "set", "--agent", "helper", "--daily", "1", "--warn", "50")
    record = ("costs", "record", "--provider", "anthropic", "--model", "claude-sonnet-4-0", "--output-tokens", "0")
    result = cli(*record, "--input-tokens", "200000")  # $0.60
    assert result.stderr == "agentik: warning: the daily budget over everything is at 30%: $0.6 of $2\n"
    row = {"model": "claude-sonnet-4-0", "provider": "anthropic", "agent": "helper", "input_tokens": 200_000}
    path = tmp_path / "usage.jsonl"
    path.write_text(json.dumps({**row, "output_tokens": 0}) + "\n")
    result = cli("costs", "import", str(path))
    assert result.stderr == "agentik: warning: the daily budget of helper is at 60%: $0.6 of $1\n"
    assert cli("costs", "import", str(path)).stderr == ""  # said once a period


def test_a_budget_belongs_to_its_agent_by_id(cli, fake, helper, agentik_home):
    """Renamed, its budget follows it in lists and refusals; removed, its budgets go with it (and
    `agents remove` says so); a new agent of the old name starts with none."""
    from tests.conftest import db_execute

    cli("budgets", "set", "--agent", "helper", "--daily", "0.01")
    cli("agents", "update", "helper", "--name", "b1")
    assert [b["scope"] for b in cli.json("budgets", "list")] == ["b1"]
    refused = cli("chat", "b1", "-m", "hi", code=3).stderr.splitlines()
    assert refused[0].startswith("agentik: error: refused by the daily budget of b1:")
    assert "--agent b1 --daily" in refused[1]
    removed = cli("agents", "remove", "b1", "--yes")
    assert "1 budget" in removed.stderr
    assert cli.json("budgets", "list") == []
    cli("agents", "create", "b1", "--model", "claude-sonnet-4-0", "--max-tokens", "100000")
    cli("chat", "b1", "-m", "hi")  # a new agent of the name: no budget of the old one
    # a budget a removed agent left (a store from before budgets went with their agent) is named so,
    # and is removed by that agent's id
    db_execute(
        agentik_home,
        (
            "INSERT INTO budgets (scope_key, period, agent_name, limit_nd, warn_percent, allow_unpriced, set_by, "
            "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (1, "month", "helper", 10**9, 80, False, "someone", "2026-12-01 00:00:00+00:00"),
        ),
    )
    assert [b["scope"] for b in cli.json("budgets", "list")] == ["helper (removed, id 1)"]
    cli("budgets", "remove", "--agent", "1")
    assert cli.json("budgets", "list") == []
