"""The tool loop through `agentik chat`, on both providers and both stores: each model call its own
assistant message with its own cost row, tool calls logged and shown, denial without a terminal,
the chain limit, and a continued session re-sending the exchange as each provider requires."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentik_cli.skills.toolbox import untrusted
from tests.conftest import db_rows
from tests.fakeprovider import Reply

MODELS = {"anthropic": "claude-sonnet-4-0", "openai": "gpt-4o-mini"}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "notes.md").write_text("pool size = 2 x cores\n")
    return folder


def make_agent(cli, provider: str, *skills: str, extra: tuple[str, ...] = ()) -> None:
    args = [f"--skill={s}" for s in skills]
    cli("agents", "create", "helper", "--model", MODELS[provider], *args, *extra)


def totals_equal_ledger(home: Path) -> None:
    ledger = db_rows(home, "SELECT count(*), coalesce(sum(total_cost_nd), 0) FROM costs")[0]
    totals = db_rows(home, "SELECT coalesce(sum(calls), 0), coalesce(sum(cost_nd), 0) FROM cost_totals")[0]
    assert tuple(map(int, ledger)) == tuple(map(int, totals))
    sessions = db_rows(home, "SELECT coalesce(sum(cost_nd), 0) FROM sessions")[0][0]
    assert int(sessions) == int(ledger[1])


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_round_trip_with_parallel_calls(cli, fake, agentik_home, project, provider, stream):
    make_agent(cli, provider, "files", "calc", extra=("--allow-dir", str(project)))
    fake.add(
        Reply(
            text="Let me look.",
            tool_calls=[
                {"id": "t1", "name": "read_file", "arguments": {"path": "notes.md"}},
                {"id": "t2", "name": "calc", "arguments": {"expression": "2*8"}},
            ],
        ),
        Reply(text="Sixteen."),
    )
    flags = [] if stream else ["--no-stream"]
    data = cli.json("chat", "helper", "-m", "what pool size for 8 cores?", *flags)
    assert data["rounds"] == 2
    assert [(c["tool"], c["status"], c["decision"]) for c in data["tool_calls"]] == [
        ("read_file", "ok", "auto"),
        ("calc", "ok", "auto"),
    ]
    assert data["tool_calls"][0]["output"] == "pool size = 2 x cores\n"
    assert data["tool_calls"][1]["output"] == "16"
    assert data["content"].endswith("Sixteen.")
    # the second call carried both results back
    sent = fake.requests[-1].body["messages"]
    if provider == "anthropic":
        results = sent[-1]["content"]
        assert [(r["type"], r["tool_use_id"], r["content"]) for r in results] == [
            ("tool_result", "t1", untrusted("read_file", "pool size = 2 x cores\n")),
            ("tool_result", "t2", untrusted("calc", "16")),
        ]
    else:
        assert [(m["role"], m["tool_call_id"], m["content"]) for m in sent[-2:]] == [
            ("tool", "t1", untrusted("read_file", "pool size = 2 x cores\n")),
            ("tool", "t2", untrusted("calc", "16")),
        ]
    # one assistant message and one cost row per model call; the usage is the sum of both
    assert db_rows(agentik_home, "SELECT count(*) FROM messages WHERE role = 'assistant'")[0][0] == 2
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 2
    assert data["usage"]["input_tokens"] == 50
    assert db_rows(agentik_home, "SELECT count(*) FROM tool_calls")[0][0] == 2
    skills_used = db_rows(agentik_home, "SELECT skills_used FROM messages WHERE role = 'assistant' ORDER BY id")
    assert [json.loads(s) if isinstance(s, str) else s for (s,) in skills_used] == [["files", "calc"], []]
    totals_equal_ledger(agentik_home)


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_continued_session_re_sends_the_exchange(cli, fake, agentik_home, provider):
    make_agent(cli, provider, "calc")
    fake.add(
        Reply(
            text="", thinking="compute", tool_calls=[{"id": "c1", "name": "calc", "arguments": {"expression": "6*7"}}]
        ),
        Reply(text="42."),
        Reply(text="Yes."),
    )
    cli("chat", "helper", "-m", "6*7?")
    cli("chat", "helper", "-c", "-m", "sure?")
    sent = fake.requests[-1].body["messages"]
    if provider == "anthropic":
        assert [m["role"] for m in sent] == ["user", "assistant", "user", "assistant", "user"]
        assert sent[1]["content"] == [
            {"type": "thinking", "thinking": "compute", "signature": "c2ln"},
            {"type": "tool_use", "id": "c1", "name": "calc", "input": {"expression": "6*7"}},
        ]
        assert sent[2]["content"] == [
            {"type": "tool_result", "tool_use_id": "c1", "content": untrusted("calc", "42"), "is_error": False}
        ]
    else:
        assert [m["role"] for m in sent] == ["user", "assistant", "tool", "assistant", "user"]
        assert sent[1]["tool_calls"][0]["function"] == {"name": "calc", "arguments": '{"expression": "6*7"}'}
        assert sent[2] == {"role": "tool", "tool_call_id": "c1", "content": untrusted("calc", "42")}


def test_shell_without_a_terminal_is_denied_and_the_turn_completes(cli, fake, agentik_home):
    make_agent(cli, "openai", "shell", extra=("--allow-command", "echo hi"))
    fake.add(
        Reply(text="", tool_calls=[{"id": "s1", "name": "shell", "arguments": {"command": "echo hi"}}]),
        Reply(text="I was not allowed."),
    )
    result = cli("chat", "helper", "-m", "say hi")
    assert "I was not allowed." in result.stdout
    assert "needs approval" in result.stderr
    told = fake.requests[-1].body["messages"][-1]
    assert told["role"] == "tool" and '<untrusted-content source="shell">\ndenied: needs approval' in told["content"]
    assert db_rows(agentik_home, "SELECT decision, status FROM tool_calls") == [("denied", "denied")]


def test_approve_runs_shell_within_its_rules_only(cli, fake, agentik_home):
    make_agent(cli, "openai", "shell", extra=("--allow-command", "echo *", "--deny-command", "echo secret"))
    fake.add(
        Reply(
            text="",
            tool_calls=[
                {"id": "a", "name": "shell", "arguments": {"command": "echo hi"}},
                {"id": "b", "name": "shell", "arguments": {"command": "echo secret"}},
                {"id": "c", "name": "shell", "arguments": {"command": "ls /"}},
            ],
        ),
        Reply(text="done"),
    )
    data = cli.json("chat", "helper", "-m", "go", "--approve", "shell")
    assert [(c["decision"], c["status"]) for c in data["tool_calls"]] == [
        ("flag", "ok"),
        ("denied", "denied"),
        ("denied", "denied"),
    ]
    assert data["tool_calls"][0]["output"] == "hi\n"
    assert "deny-command" in data["tool_calls"][1]["error"]


def test_approve_names_one_of_the_agents_skills(cli, fake):
    make_agent(cli, "openai", "calc")
    assert "no such skill" in cli("chat", "helper", "-m", "x", "--approve", "shell", code=2).stderr
    assert fake.requests == []


def test_the_chain_limit_stops_the_loop(cli, fake, agentik_home):
    make_agent(cli, "anthropic", "calc")
    loop = Reply(text="again", tool_calls=[{"name": "calc", "arguments": {"expression": "1+1"}}])
    fake.default = loop
    result = cli("chat", "helper", "-m", "loop forever", "--chain-limit", "3")
    assert len(fake.requests) == 3  # no call after the third that asked for tools
    assert "chain limit" in result.stderr
    rows = db_rows(agentik_home, "SELECT status FROM tool_calls ORDER BY id")
    assert [s for (s,) in rows] == ["ok", "ok", "denied"]  # the last round's calls were not run
    assert db_rows(agentik_home, "SELECT count(*) FROM costs")[0][0] == 3
    totals_equal_ledger(agentik_home)
    cli("chat", "helper", "-m", "x", "--chain-limit", "0", code=2)


def test_sessions_show_renders_and_lists_the_calls(cli, fake, agentik_home, project):
    make_agent(cli, "anthropic", "files", extra=("--allow-dir", str(project)))
    fake.add(
        Reply(text="Reading.", tool_calls=[{"id": "r", "name": "read_file", "arguments": {"path": "../outside"}}]),
        Reply(text="Refused."),
    )
    cli("chat", "helper", "-m", "read it")
    shown = cli.json("sessions", "show", "1")
    first = shown["messages"][1]
    assert first["tool_calls"] == [
        {
            "id": "r",
            "skill": "files",
            "tool": "read_file",
            "arguments": {"path": "../outside"},
            "decision": "auto",
            "status": "denied",
            "duration_ms": first["tool_calls"][0]["duration_ms"],
            "output": "",
            "truncated": False,
            "error": first["tool_calls"][0]["error"],
        }
    ]
    assert "outside the agent's folders" in first["tool_calls"][0]["error"]
    assert first["skills_used"] == []
    text = cli("sessions", "show", "1").stdout
    assert "read_file" in text and "denied" in text


def test_agents_take_known_skills_and_their_rules(cli, project, tmp_path):
    assert "unknown skill" in cli("agents", "create", "a", "--model", "gpt-4o-mini", "--skill", "nope", code=2).stderr
    missing = tmp_path / "missing"
    cli("agents", "create", "a", "--model", "gpt-4o-mini", "--skill", "files", "--allow-dir", str(missing), code=2)
    result = cli(
        "agents",
        "create",
        "a",
        "--model",
        "gpt-4o-mini",
        "--skill",
        "files",
        "--skill",
        "fetch",
        "--allow-dir",
        str(project / ".." / project.name),
        "--allow-host",
        "LocalHost",
    )
    assert "leak" in result.stderr  # files + fetch: the exfiltration pair
    shown = cli.json("agents", "show", "a")
    assert shown["allow_dirs"] == [str(project.resolve())]
    assert shown["allow_hosts"] == ["localhost"]
    assert "leak" in cli("agents", "show", "a").stderr
    result = cli("agents", "update", "a", "--skill", "files", "--skill", "calc")
    assert "leak" not in result.stderr
    cli("agents", "update", "a", "--allow-command", "git status", "--deny-command", "git push")
    shown = cli.json("agents", "show", "a")
    assert (shown["allow_commands"], shown["deny_commands"]) == (["git status"], ["git push"])


def test_db_copy_carries_tool_calls(cli, fake, agentik_home, tmp_path):
    make_agent(cli, "openai", "calc")
    fake.add(
        Reply(text="", tool_calls=[{"id": "k", "name": "calc", "arguments": {"expression": "3*3"}}]), Reply(text="9")
    )
    cli("chat", "helper", "-m", "3*3?")
    target = f"sqlite:///{tmp_path / 'copy.db'}"
    data = cli.json("db", "copy", "--to", target, "--yes")
    assert data["copied"]["tool_calls"] == 1
    import sqlite3

    with sqlite3.connect(tmp_path / "copy.db") as db:
        assert db.execute("SELECT tool, output FROM tool_calls").fetchall() == [("calc", "9")]


def test_removing_a_session_or_an_agent_removes_its_tool_calls(cli, fake, agentik_home):
    make_agent(cli, "anthropic", "calc")
    call = {"name": "calc", "arguments": {"expression": "1+1"}}
    fake.add(Reply(text="", tool_calls=[call]), Reply(text="2"), Reply(text="", tool_calls=[call]), Reply(text="2"))
    cli("chat", "helper", "-m", "one")
    cli("chat", "helper", "-m", "two")
    assert db_rows(agentik_home, "SELECT count(*) FROM tool_calls")[0][0] == 2
    cli("sessions", "remove", "1", "--yes")
    assert db_rows(agentik_home, "SELECT count(*) FROM tool_calls")[0][0] == 1
    cli("agents", "remove", "helper", "--yes")
    assert db_rows(agentik_home, "SELECT count(*) FROM tool_calls")[0][0] == 0
    # the money stays: every round's cost row is in the ledger
    ledger = db_rows(agentik_home, "SELECT count(*), coalesce(sum(total_cost_nd), 0) FROM costs")[0]
    totals = db_rows(agentik_home, "SELECT coalesce(sum(calls), 0), coalesce(sum(cost_nd), 0) FROM cost_totals")[0]
    assert tuple(map(int, ledger)) == tuple(map(int, totals)) and int(ledger[0]) == 4
