"""`agentik agents` through the CLI, with the store checked behind it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import db_rows


def agent_count(home: Path) -> int:
    return db_rows(home, "SELECT count(*) FROM agents")[0][0]


def test_create_prints_id_and_json_object(cli):
    first = cli("agents", "create", "Helper", "--model", "claude-sonnet-4-0")
    assert first.stdout.strip() == "1"
    data = cli.json(
        "agents",
        "create",
        "coder",
        "--model",
        "gpt-4o-mini",
        "--description",
        "writes code",
        "--system",
        "Be terse.",
        "--temperature",
        "0.3",
        "--max-tokens",
        "512",
        "--channel",
        "cli",
        "--channel",
        "slack",
        "--skill",
        "fetch",
        "--status",
        "paused",
    )
    assert set(data) == {
        "id",
        "name",
        "description",
        "system_prompt",
        "model",
        "provider",
        "temperature",
        "max_tokens",
        "channels",
        "skills",
        "status",
        "base_url",
        "api_key_env",
        "allow_dirs",
        "allow_hosts",
        "allow_commands",
        "deny_commands",
        "sandbox",
        "created_at",
        "updated_at",
        "last_active_at",
        "stats",
    }
    assert data["provider"] == "openai"
    assert data["channels"] == ["cli", "slack"] and data["skills"] == ["fetch"]
    assert data["temperature"] == 0.3 and data["max_tokens"] == 512 and data["status"] == "paused"
    assert data["stats"] == {
        "sessions": 0,
        "messages": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "total_cost": 0.0,
        "unpriced_calls": 0,
        "estimated_calls": 0,
        "over_limit_calls": 0,
        "avg_response_ms": None,
    }


@pytest.mark.parametrize(
    ("model", "provider"),
    [
        ("claude-opus-4-1", "anthropic"),
        ("gpt-4o", "openai"),
        ("o1-mini", "openai"),
        ("o3", "openai"),
        ("o4-mini", "openai"),
        ("chatgpt-4o-latest", "openai"),
    ],
)
def test_provider_is_inferred_from_the_model(cli, model, provider):
    assert cli.json("agents", "create", "a", "--model", model)["provider"] == provider


def test_base_url_means_an_openai_compatible_server(cli):
    data = cli.json(
        "agents",
        "create",
        "local",
        "--model",
        "llama3.2",
        "--base-url",
        "http://localhost:11434/v1",
        "--api-key-env",
        "OLLAMA_KEY",
    )
    assert data["provider"] == "openai" and data["base_url"] == "http://localhost:11434/v1"


def test_anthropic_temperature_is_kept_with_a_note(cli):
    result = cli("agents", "create", "c", "--model", "claude-sonnet-4-0", "--temperature", "0.7")
    assert "not sent" in result.stderr
    assert cli.json("agents", "show", "c")["temperature"] == 0.7


def test_system_file(cli, tmp_path):
    prompt = tmp_path / "prompt.md"
    prompt.write_text("You review pull requests.\n")
    cli("agents", "create", "rev", "--model", "gpt-4o", "--system-file", str(prompt))
    assert cli.json("agents", "show", "REV")["system_prompt"] == "You review pull requests.\n"


def test_list_sort_status_limit_and_csv(cli):
    for name in ("bravo", "alpha", "charlie"):
        cli("agents", "create", name, "--model", "gpt-4o-mini")
    cli("agents", "update", "charlie", "--status", "archived")
    assert [a["name"] for a in cli.json("agents", "list")] == ["alpha", "bravo", "charlie"]
    assert [a["name"] for a in cli.json("agents", "list", "--sort", "created")] == ["charlie", "alpha", "bravo"]
    assert [a["name"] for a in cli.json("agents", "list", "--status", "active")] == ["alpha", "bravo"]
    assert len(cli.json("agents", "list", "--limit", "2")) == 2
    lines = cli("agents", "list", "--csv").stdout.splitlines()
    assert lines[0].startswith("id,name,model,provider,status")
    assert len(lines) == 4 and lines[1].split(",")[1] == "alpha"
    table = cli("agents", "list").stdout
    assert "alpha" in table and "gpt-4o-mini" in table and "\x1b[" not in table


def test_show_by_name_any_case_or_id(cli):
    cli("agents", "create", "Helper", "--model", "gpt-4o")
    assert cli.json("agents", "show", "hElPeR")["id"] == 1
    assert cli.json("agents", "show", "1")["name"] == "Helper"
    assert "gpt-4o" in cli("agents", "show", "helper").stdout


def test_update_changes_only_what_is_given(cli):
    cli("agents", "create", "h", "--model", "gpt-4o", "--description", "d", "--channel", "cli")
    data = cli.json("agents", "update", "h", "--model", "claude-sonnet-4-0", "--name", "Helper2", "--skill", "calc")
    assert data["name"] == "Helper2" and data["model"] == "claude-sonnet-4-0"
    assert data["provider"] == "anthropic"  # follows the new model
    assert data["description"] == "d" and data["channels"] == ["cli"] and data["skills"] == ["calc"]
    assert data["updated_at"] >= data["created_at"]


def test_rename_to_an_existing_name_is_refused(cli):
    cli("agents", "create", "one", "--model", "gpt-4o")
    cli("agents", "create", "two", "--model", "gpt-4o")
    result = cli("agents", "update", "two", "--name", "ONE", code=2)
    assert "already exists" in result.stderr
    assert cli.json("agents", "show", "two")["name"] == "two"


def test_search(cli):
    cli("agents", "create", "reviewer", "--model", "gpt-4o", "--system", "You review Python code.")
    cli("agents", "create", "writer", "--model", "gpt-4o", "--description", "Writes release notes")
    assert [a["name"] for a in cli.json("agents", "search", "python")] == ["reviewer"]
    assert [a["name"] for a in cli.json("agents", "search", "RELEASE")] == ["writer"]
    assert cli.json("agents", "search", "nothing-like-this") == []


def test_default(cli):
    assert cli.json("agents", "default") is None
    cli("agents", "create", "one", "--model", "gpt-4o")
    cli("agents", "create", "two", "--model", "gpt-4o")
    assert cli("agents", "default", "TWO").stdout.strip() == "two"
    assert cli.json("agents", "default")["name"] == "two"
    cli("agents", "remove", "two", "--yes")
    assert cli.json("agents", "default") is None


def test_stats_one_and_all(cli):
    cli("agents", "create", "one", "--model", "gpt-4o")
    cli("agents", "create", "two", "--model", "gpt-4o")
    one = cli.json("agents", "stats", "one")
    assert one["name"] == "one" and one["sessions"] == 0
    assert [s["name"] for s in cli.json("agents", "stats")] == ["one", "two"]


def test_remove_says_what_goes_and_keeps_the_ledger(cli, store, agentik_home):
    from agentik_cli.services import recording
    from agentik_cli.services.pricing import price_call
    from agentik_cli.values import Usage

    cli("agents", "create", "doomed", "--model", "gpt-4o-mini")
    session_id, _, _ = recording.add_user_message(store, agent_id=1, session_id=None, content="hi", channel="cli")
    usage = Usage(input_tokens=1000, output_tokens=100)
    entry = recording.CostEntry(
        model="gpt-4o-mini", provider="openai", usage=usage, priced=price_call("gpt-4o-mini", "openai", usage)
    )
    recording.add_reply(
        store, agent_id=1, agent_name="doomed", session_id=session_id, content="hello", channel="cli", cost=entry
    )
    result = cli("agents", "remove", "doomed", "--yes")
    assert "1 sessions, 2 messages" in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM messages")[0][0] == 0
    assert db_rows(agentik_home, "SELECT count(*) FROM sessions")[0][0] == 0
    # the row keeps the removed agent's id (never given to another agent) and name
    assert db_rows(agentik_home, "SELECT agent_id, agent_name, total_cost_nd FROM costs") == [
        (1, "doomed", 210_000)  # 1000 * $0.15/M + 100 * $0.60/M = $0.00021
    ]


# ---- bad input: the contract's exit code, one line on stderr, no traceback, nothing changed ----


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--temperature", "2.5"], "temperature must be between 0 and 2"),
        (["--temperature", "-0.1"], "temperature must be between 0 and 2"),
        (["--max-tokens", "0"], "max tokens must be a positive number"),
        (["--max-tokens", "-5"], "max tokens must be a positive number"),
        (["--provider", "mystery"], "unknown provider 'mystery'"),
        (["--system-file", "/no/such/file.md"], "no such file"),
        (["--status", "sleeping"], "unknown status"),
    ],
)
def test_create_bad_input(cli, agentik_home, args, message):
    cli("agents", "create", "keep", "--model", "gpt-4o")
    result = cli("agents", "create", "new", "--model", "gpt-4o", *args, code=2)
    assert result.stderr.startswith("agentik: error: ") and message in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    assert agent_count(agentik_home) == 1


def test_empty_name_duplicate_name_and_unknown_model(cli, agentik_home):
    cli("agents", "create", "Helper", "--model", "gpt-4o")
    assert "cannot be empty" in cli("agents", "create", "  ", "--model", "gpt-4o", code=2).stderr
    assert "already exists" in cli("agents", "create", "HELPER", "--model", "gpt-4o", code=2).stderr
    result = cli("agents", "create", "x", "--model", "mystery-model", code=2)
    assert "cannot tell the provider" in result.stderr and "--provider" in result.stderr
    assert agent_count(agentik_home) == 1


def test_update_bad_input_changes_nothing(cli):
    cli("agents", "create", "h", "--model", "gpt-4o", "--temperature", "1")
    cli("agents", "update", "h", "--temperature", "3", code=2)
    cli("agents", "update", "h", "--max-tokens", "0", code=2)
    assert cli.json("agents", "show", "h")["temperature"] == 1.0


@pytest.mark.parametrize(
    "command",
    [
        ["show", "ghost"],
        ["update", "ghost", "--model", "gpt-4o"],
        ["remove", "ghost", "--yes"],
        ["stats", "ghost"],
        ["default", "ghost"],
    ],
)
def test_unknown_agent(cli, command):
    result = cli("agents", *command, code=1)
    assert result.stderr.splitlines()[0] == "agentik: error: no agent named 'ghost'"


def test_remove_without_terminal_or_yes_refuses(cli, agentik_home):
    cli("agents", "create", "h", "--model", "gpt-4o")
    result = cli("agents", "remove", "h", code=2)
    assert "--yes" in result.stderr
    assert agent_count(agentik_home) == 1


def test_db_option_directory_and_non_database(cli, tmp_path):
    result = cli("--db", str(tmp_path), "agents", "list", code=2)
    assert "is a directory" in result.stderr
    junk = tmp_path / "notes.txt"
    junk.write_text("these are not the rows you are looking for\n" * 10)
    result = cli("--db", str(junk), "agents", "list", code=2)
    assert "not a SQLite database" in result.stderr
    assert junk.read_text().startswith("these are not")
    result = cli("--db", str(tmp_path / "missing" / "x.db"), "agents", "list", code=2)
    assert "does not exist" in result.stderr


def test_db_option_and_env_choose_the_database(cli, tmp_path, monkeypatch):
    path = tmp_path / "other.db"
    cli("--db", str(path), "agents", "create", "elsewhere", "--model", "gpt-4o")
    assert cli.json("agents", "list") == []
    monkeypatch.setenv("AGENTIK_DB", str(path))
    assert [a["name"] for a in cli.json("agents", "list")] == ["elsewhere"]
    monkeypatch.setenv("AGENTIK_DB", f"sqlite:///{path}")
    assert [a["name"] for a in cli.json("agents", "list")] == ["elsewhere"]


def test_unknown_option_is_one_line_usage_error(cli):
    result = cli("agents", "list", "--frobnicate", code=2)
    assert result.stderr.startswith("agentik: error: No such option: --frobnicate")
    assert "Traceback" not in result.stderr


def test_debug_shows_the_real_exception(cli):
    from agentik_cli.errors import NotFound

    result = cli("agents", "show", "ghost", env={"AGENTIK_DEBUG": "1"}, code=1)
    assert isinstance(result.exception, NotFound)


def test_json_is_the_only_stdout(cli):
    cli("agents", "create", "c", "--model", "claude-sonnet-4-0", "--temperature", "0.5", "--json")
    json.loads(cli("agents", "create", "d", "--model", "claude-sonnet-4-0", "--temperature", "0.5", "--json").stdout)
