"""The scripting contract, checked on every command of the app: help with an example; with --json,
nothing but JSON on stdout; bad input gives the contract's exit code, one line, no traceback."""

from __future__ import annotations

import json

import pytest
import typer.main

from agentik_cli.cli.app import app
from tests.conftest import built_once


def leaf_commands() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, (*path, name))
        else:
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), ())
    return found


COMMANDS = leaf_commands()

# a valid invocation of every command that takes --json, run against the `world` fixture
JSON_RUNS: dict[str, list[str]] = {
    "agents create": ["agents", "create", "new-one", "--model", "gpt-4o"],
    "agents list": ["agents", "list"],
    "agents show": ["agents", "show", "helper"],
    "agents update": ["agents", "update", "helper", "--description", "d"],
    "agents stats": ["agents", "stats"],
    "agents search": ["agents", "search", "help"],
    "agents default": ["agents", "default"],
    "chat": ["chat", "helper", "-m", "hello"],
    "sessions list": ["sessions", "list"],
    "sessions show": ["sessions", "show", "1"],
    "sessions recent": ["sessions", "recent"],
    "sessions search": ["sessions", "search", "hello"],
    "costs summary": ["costs", "summary"],
    "costs by-agent": ["costs", "by-agent"],
    "costs by-model": ["costs", "by-model"],
    "costs by-provider": ["costs", "by-provider"],
    "costs by-user": ["costs", "by-user"],
    "costs history": ["costs", "history"],
    "costs list": ["costs", "list"],
    "costs record": [
        "costs",
        "record",
        "--model",
        "gpt-4o",
        "--provider",
        "openai",
        "--input-tokens",
        "1",
        "--output-tokens",
        "1",
    ],
    "costs import": ["costs", "import", "-"],
    "costs cleanup": ["costs", "cleanup", "--older-than", "30", "--dry-run"],
    "prices show": ["prices", "show", "gpt-4o"],
    "prices list": ["prices", "list"],
    "keys list": ["keys", "list"],
    "db status": ["db", "status"],
    "db backup": ["db", "backup", "{tmp}/backup.db"],
    "db copy": ["db", "copy", "--to", "{tmp}/copy.db"],
    "skills list": ["skills", "list"],
    "budgets set": ["budgets", "set", "--daily", "5"],
    "budgets list": ["budgets", "list"],
    "skills show": ["skills", "show", "calc"],
    "skills test": ["skills", "test", "calc", "--args", '{"expression": "1+1"}'],
    "webhooks add": ["webhooks", "add", "https://hooks.example.com/agentik"],
    "webhooks list": ["webhooks", "list"],
    "webhooks log": ["webhooks", "log"],
    "sessions tail": ["sessions", "tail", "-n", "1"],  # one JSON line a message
    "statusline": ["statusline"],
    "sessions redact": ["sessions", "redact", "hello", "--all", "--dry-run"],
}
IMPORT_LINE = json.dumps({"model": "gpt-4o", "provider": "openai", "input_tokens": 2, "output_tokens": 2}) + "\n"

# invalid input for every command: (args, exit code)
BAD_RUNS: dict[str, tuple[list[str], int]] = {
    "agents create": (["agents", "create", "x", "--model", "gpt-4o", "--temperature", "9"], 2),
    "agents list": (["agents", "list", "--sort", "colour"], 2),
    "agents show": (["agents", "show", "ghost"], 1),
    "agents update": (["agents", "update", "helper", "--max-tokens", "-1"], 2),
    "agents remove": (["agents", "remove", "helper"], 2),
    "agents stats": (["agents", "stats", "ghost"], 1),
    "agents search": (["agents", "search", " "], 2),
    "agents default": (["agents", "default", "ghost"], 1),
    "chat": (["chat", "helper", "-m", " "], 2),
    "sessions list": (["sessions", "list", "--since", "whenever"], 2),
    "sessions show": (["sessions", "show", "999"], 1),
    "sessions recent": (["sessions", "recent", "--limit", "0"], 2),
    "sessions search": (["sessions", "search", "?!"], 2),
    "sessions rename": (["sessions", "rename", "999", "x"], 1),
    "sessions remove": (["sessions", "remove", "1"], 2),
    "costs summary": (["costs", "summary", "extra"], 2),
    "costs by-agent": (["costs", "by-agent", "--since", "bad"], 2),
    "costs by-model": (["costs", "by-model", "--until", "bad"], 2),
    "costs by-provider": (["costs", "by-provider", "--since", "2026-02-01", "--until", "2026-01-01"], 2),
    "costs by-user": (["costs", "by-user", "--since", "2026-02-01", "--until", "2026-01-01"], 2),
    "costs history": (["costs", "history", "--by", "year"], 2),
    "costs list": (["costs", "list", "--agent", "ghost"], 1),
    "costs record": (["costs", "record", "--model", "m", "--provider", "p", "--input-tokens", "1"], 2),
    "costs import": (["costs", "import", "/no/such/file.jsonl"], 2),
    "costs cleanup": (["costs", "cleanup", "--older-than", "0"], 2),
    "prices show": (["prices", "show", "unknown-model", "--provider", "openai"], 1),
    "prices set": (["prices", "set", "m", "--provider", "openai", "--input", "-1", "--output", "1"], 2),
    "prices list": (["prices", "list", "--provider"], 2),
    "prices remove": (["prices", "remove", "m", "--provider", "openai"], 1),
    "keys set": (["keys", "set", "nobody"], 2),
    "keys list": (["keys", "list", "--frob"], 2),
    "keys remove": (["keys", "remove", "openai"], 1),
    "db status": (["db", "status", "--frob"], 2),
    "db upgrade": (["db", "upgrade", "extra"], 2),
    "db backup": (["db", "backup", "/no/such/folder/backup.db"], 2),
    "db copy": (["db", "copy", "--to", "/no/such/folder/copy.db"], 2),
    "skills list": (["skills", "list", "--frob"], 2),
    "budgets set": (["budgets", "set", "--daily", "nan"], 2),
    "budgets list": (["budgets", "list", "--json", "--csv"], 2),
    "budgets remove": (["budgets", "remove"], 1),
    "budgets release": (["budgets", "release", "--agent", "ghost"], 1),
    "skills show": (["skills", "show", "nope"], 2),
    "skills test": (["skills", "test", "calc", "--args", "[1]"], 2),
    "skills remove": (["skills", "remove", "files", "--yes"], 2),
    "skills add-mcp": (["skills", "add-mcp", "x"], 2),
    "webhooks add": (["webhooks", "add", "http://example.com/hook"], 2),
    "webhooks list": (["webhooks", "list", "--frob"], 2),
    "webhooks remove": (["webhooks", "remove", "99", "--yes"], 1),
    "webhooks test": (["webhooks", "test", "99"], 1),
    "webhooks log": (["webhooks", "log", "--limit", "0"], 2),
    "webhooks deliver": (["webhooks", "deliver", "extra"], 2),
    "costs watch": (["costs", "watch", "--frob"], 2),
    "sessions tail": (["sessions", "tail", "--agent", "ghost"], 1),
    "statusline": (["statusline", "--agent", "ghost"], 1),
    "sessions forget": (["sessions", "forget", "999", "--yes"], 1),
    "sessions redact": (["sessions", "redact", "hello"], 2),
}


@pytest.fixture
def world(cli, fake, agentik_home):
    """An agent and a chat (built once a process on SQLite: tests.conftest.built_once)."""

    def build() -> None:
        cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--description", "helps")
        cli("chat", "helper", "-m", "hello there")

    built_once("contract", agentik_home, build)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_help_with_an_example(cli, name):
    result = cli(*name.split(), "--help")
    assert "Example:" in result.stdout, f"`agentik {name} --help` has no example"


def test_every_json_command_is_exercised():
    takes_json = {
        name for name, command in COMMANDS.items() if any("--json" in getattr(p, "opts", []) for p in command.params)
    }
    assert takes_json == set(JSON_RUNS)
    assert set(BAD_RUNS) == set(COMMANDS)


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(n, marks=pytest.mark.sqlite_only(reason="db backup copies a SQLite file"))
        if n == "db backup"
        else n
        for n in sorted(JSON_RUNS)
    ],
)
def test_json_output_is_only_json(cli, world, name, tmp_path):
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in JSON_RUNS[name]]
    result = cli(*args, "--json", input=IMPORT_LINE if name == "costs import" else None)
    json.loads(result.stdout)


@pytest.mark.parametrize("name", sorted(BAD_RUNS))
def test_bad_input_exit_code_and_one_line(cli, world, name):
    args, code = BAD_RUNS[name]
    result = cli(*args, code=code, input="")
    lines = result.stderr.strip().splitlines()
    assert lines and lines[0].startswith("agentik: error: "), result.stderr
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("hint: "))
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["agents list", "sessions list", "costs by-agent", "costs history", "costs list"])
def test_csv_has_a_header_and_no_control_codes(cli, world, name):
    result = cli(*name.split(), "--csv")
    assert "\x1b" not in result.stdout
    assert "," in result.stdout.splitlines()[0]


def test_nothing_but_data_on_stdout_when_piped(cli, world):
    chat = cli("chat", "helper", "-m", "again")
    assert "\x1b" not in chat.stdout and "in /" not in chat.stdout  # the usage line is on stderr
    assert "in /" in chat.stderr
    for args in (["agents", "list"], ["costs", "summary"], ["costs", "history"], ["sessions", "list"]):
        assert "\x1b" not in cli(*args).stdout
