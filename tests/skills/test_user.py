"""Skills of the user's own: command skills (TOML in AGENTIK_HOME/skills/) and MCP servers through
the official SDK (tests/mcp_server.py), listed, shown, tested by hand, called in a chat, removed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.conftest import db_rows
from tests.fakeprovider import Reply

SERVER = str(Path(__file__).parents[1] / "mcp_server.py")


def write_skill(home: Path, name: str, body: str) -> Path:
    folder = home / "skills"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(body)
    return path


def command_skill(home: Path, name: str, script: str, **fields: str) -> Path:
    extra = "".join(f"{k} = {v}\n" for k, v in fields.items())
    return write_skill(
        home,
        name,
        f'name = "{name}"\ndescription = "a test skill"\nrisk = "read"\n{extra}'
        f"command = {json.dumps([sys.executable, '-c', script])}\n"
        '[parameters]\ntype = "object"\nrequired = ["n"]\n[parameters.properties.n]\ntype = "integer"\n',
    )


DOUBLE = "import json, sys; print(json.load(sys.stdin)['n'] * 2)"
FAILING = "import sys; print('partial'); sys.stderr.write('it broke\\n'); sys.exit(3)"


@pytest.mark.sqlite_only("user skills: files in the data folder, no store involved")
def test_a_command_skill_gets_its_arguments_as_json_on_stdin(cli, agentik_home):
    command_skill(agentik_home, "double", DOUBLE)
    listed = {s["name"]: s for s in cli.json("skills", "list")}
    assert listed["double"] == {"name": "double", "kind": "command", "risk": "read", "description": "a test skill"}
    shown = cli.json("skills", "show", "double")
    assert shown["tools"][0]["parameters"]["required"] == ["n"]
    assert cli.json("skills", "test", "double", "--args", '{"n": 21}') == {
        "status": "ok",
        "output": "42\n",
        "truncated": False,
        "error": None,
    }
    # arguments are checked against the schema before anything runs
    result = cli("skills", "test", "double", "--args", '{"n": "x"}', code=1)
    assert "bad arguments" in result.stderr


@pytest.mark.sqlite_only("user skills: files in the data folder, no store involved")
def test_a_non_zero_exit_is_an_error_result_not_a_crash(cli, agentik_home):
    command_skill(agentik_home, "broken", FAILING)
    data = json.loads(cli("skills", "test", "broken", "--args", '{"n": 1}', "--json", code=1).stdout)
    assert data["status"] == "error" and "exit code 3" in data["error"]
    assert "partial" in data["output"] and "it broke" in data["output"]


@pytest.mark.sqlite_only("user skills: files in the data folder, no store involved")
def test_a_malformed_skill_file_is_named_and_skipped(cli, agentik_home):
    write_skill(agentik_home, "bad", 'name = "bad"\ncommand = "not a list"\n')
    command_skill(agentik_home, "double", DOUBLE)
    result = cli("skills", "list", "--json")
    assert "bad.toml" in result.stderr and "command" in result.stderr
    assert [s["name"] for s in json.loads(result.stdout)][-1] == "double"
    assert "broken" in cli("skills", "show", "bad", code=2).stderr
    assert "broken" in cli("agents", "create", "a", "--model", "gpt-4o-mini", "--skill", "bad", code=2).stderr


@pytest.mark.sqlite_only("user skills: files in the data folder, no store involved")
def test_remove_a_user_skill_not_a_built_in(cli, agentik_home):
    path = command_skill(agentik_home, "double", DOUBLE)
    cli("skills", "remove", "files", "--yes", code=2)
    cli("skills", "remove", "double", code=2)  # no terminal, no --yes
    cli("skills", "remove", "double", "--yes")
    assert not path.exists()
    cli("skills", "remove", "double", "--yes", code=1)


def test_an_agent_whose_skill_was_removed_is_told_so(cli, fake, agentik_home):
    from tests.fakeprovider import Reply

    command_skill(agentik_home, "double", DOUBLE)
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--skill", "double", "--skill", "calc")
    (agentik_home / "skills" / "double.toml").unlink()
    fake.add(Reply(text="fine"))
    result = cli("chat", "helper", "-m", "hello")
    assert "helper has the skill double, which no longer exists or cannot be read" in result.stderr
    offered = [t["name"] for t in fake.requests[-1].body["tools"]]
    assert offered == ["calc"]


@pytest.mark.slow
@pytest.mark.sqlite_only("MCP: a server process, no store involved")
def test_an_mcp_server_is_added_listed_and_called(cli, agentik_home):
    added = cli("skills", "add-mcp", "calc2", "--risk", "read", "--", sys.executable, SERVER)
    assert "calc2.add, calc2.echo, calc2.pid, calc2.fail" in added.stderr
    listed = {s["name"]: s for s in cli.json("skills", "list")}
    assert listed["calc2"]["kind"] == "mcp" and listed["calc2"]["risk"] == "read"
    shown = cli.json("skills", "show", "calc2")
    assert [t["name"] for t in shown["tools"]] == ["calc2.add", "calc2.echo", "calc2.pid", "calc2.fail"]
    assert cli.json("skills", "test", "calc2.add", "--args", '{"a": 2, "b": 40}')["output"] == "42"
    failed = json.loads(cli("skills", "test", "calc2.fail", "--json", code=1).stdout)
    assert failed["status"] == "error"
    # a name taken, a server that does not start
    cli("skills", "add-mcp", "calc2", "--", sys.executable, SERVER, code=2)
    cli("skills", "add-mcp", "nope", "--", sys.executable, "-c", "import sys; sys.exit(1)", code=2)
    assert not (agentik_home / "skills" / "nope.toml").exists()


@pytest.mark.slow
def test_an_mcp_tool_in_a_chat_asks_by_default(cli, fake, agentik_home):
    cli("skills", "add-mcp", "calc2", "--", sys.executable, SERVER)  # risk: exec, asks every call
    cli("agents", "create", "m", "--model", "gpt-4o-mini", "--skill", "calc2")
    call = {"id": "x", "name": "calc2__add", "arguments": {"a": 1, "b": 2}}
    fake.add(
        Reply(text="", tool_calls=[call]), Reply(text="denied"), Reply(text="", tool_calls=[call]), Reply(text="3")
    )
    cli("chat", "m", "-m", "1+2?")
    tools = fake.requests[0].body["tools"]
    assert [t["function"]["name"] for t in tools] == ["calc2__add", "calc2__echo", "calc2__pid", "calc2__fail"]
    data = cli.json("chat", "m", "-m", "1+2?", "--approve", "calc2")
    assert [(c["tool"], c["decision"], c["status"], c["output"]) for c in data["tool_calls"]] == [
        ("calc2.add", "flag", "ok", "3")
    ]
    assert db_rows(agentik_home, "SELECT status FROM tool_calls ORDER BY id") == [("denied",), ("ok",)]


@pytest.mark.slow
def test_an_mcp_server_is_kept_for_the_conversation_and_stopped_after(cli, fake, agentik_home):
    import time

    cli("skills", "add-mcp", "srv", "--risk", "read", "--", sys.executable, SERVER)
    cli("agents", "create", "m", "--model", "claude-sonnet-4-0", "--skill", "srv")
    ask = {"name": "srv__pid", "arguments": {}}
    fake.add(Reply(text="", tool_calls=[ask]), Reply(text="", tool_calls=[ask]), Reply(text="done"))
    data = cli.json("chat", "m", "-m", "pids?")
    first, second = (int(c["output"]) for c in data["tool_calls"])
    assert first == second  # one server for the whole conversation
    # (its pid is the sandbox's own: look for the server's command line among the host's processes)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _running(SERVER):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the MCP server outlived the conversation")


def _running(word: str) -> list[int]:
    import os

    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                if word.encode() in handle.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found
