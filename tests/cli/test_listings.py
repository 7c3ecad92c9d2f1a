"""Every listing takes --json and --csv (issue 19), and its CSV columns are the keys of its JSON rows.
The listings are found in the app itself, so a listing added later without --csv fails here."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer.main

from agentik_cli.cli.app import app
from tests.conftest import built_once
from tests.webhook_receiver import Receiver

# Commands that take --json but print one object, a count or a stream, not a list of records. Any
# other command with --json is a listing. (`sessions tail` prints one JSON line a message as they
# come, a stream the contract fixes, not a list.)
NOT_LISTINGS = {
    "agents create",
    "agents show",
    "agents update",
    "agents default",
    "chat",
    "sessions show",
    "sessions redact",
    "sessions tail",
    "costs summary",
    "costs record",
    "costs import",
    "costs cleanup",
    "statusline",
    "prices show",
    "db status",
    "db backup",
    "db copy",
    "skills show",
    "skills test",
    "budgets set",
    "webhooks add",
}

# a run of each listing on the `world` store, which holds at least one row for it
RUNS: dict[str, list[str]] = {
    "agents list": ["agents", "list"],
    "agents stats": ["agents", "stats"],
    "agents search": ["agents", "search", "helper"],
    "sessions list": ["sessions", "list"],
    "sessions recent": ["sessions", "recent"],
    "sessions search": ["sessions", "search", "hello"],
    "costs by-agent": ["costs", "by-agent"],
    "costs by-model": ["costs", "by-model"],
    "costs by-provider": ["costs", "by-provider"],
    "costs by-user": ["costs", "by-user"],
    "costs history": ["costs", "history", "--days", "2"],
    "costs list": ["costs", "list"],
    "prices list": ["prices", "list", "--provider", "openai"],
    "keys list": ["keys", "list"],
    "skills list": ["skills", "list"],
    "budgets list": ["budgets", "list"],
    "webhooks list": ["webhooks", "list"],
    "webhooks log": ["webhooks", "log"],
}

# The agent listings' CSV is the agent object flattened as `agents list --csv` has always written it:
# `stats` spread into its keys, and the long or list-valued settings left out.
AGENT_CSV_OMITS = {"system_prompt", "api_key_env", "allow_dirs", "allow_hosts", "allow_commands", "deny_commands"}


def _with_json() -> dict[str, object]:
    found: dict[str, object] = {}

    def walk(command: object, path: tuple[str, ...]) -> None:
        children = getattr(command, "commands", None)
        if children:
            for name, child in children.items():
                walk(child, (*path, name))
        elif any("--json" in getattr(p, "opts", ()) for p in getattr(command, "params", ())):
            found[" ".join(path)] = command

    walk(typer.main.get_command(app), ())
    return found


WITH_JSON = _with_json()
LISTINGS = sorted(set(WITH_JSON) - NOT_LISTINGS)


def test_the_walk_finds_the_commands():
    # a walk that found nothing would pass every check below
    assert {"agents list", "sessions recent", "webhooks log", "prices list", "agents show"} <= set(WITH_JSON)
    assert NOT_LISTINGS <= set(WITH_JSON), "a command named here has gone or lost --json"


@pytest.mark.parametrize("name", LISTINGS)
def test_every_listing_takes_csv_and_has_a_run_here(name):
    params = {opt for p in WITH_JSON[name].params for opt in getattr(p, "opts", ())}  # type: ignore[attr-defined]
    assert "--csv" in params, f"`{name}` lists records: it takes --csv too (issue 19)"
    assert name in RUNS, f"`{name}` is a listing: give it a run in RUNS"


RECORD = ("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "5", "--output-tokens", "1")


@pytest.fixture
def world(cli, fake, agentik_home):
    """A row for every listing (built once a process on SQLite: tests.conftest.built_once)."""

    def build() -> None:
        cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--skill", "time", "--channel", "cli")
        cli("chat", "helper", "-m", "hello there")
        cli(*RECORD)
        cli("prices", "set", "my-local", "--provider", "openai", "--input", "0", "--output", "0")
        cli("budgets", "set", "--daily", "5")
        receiver = Receiver().start()
        try:
            cli("webhooks", "add", receiver.url, "--allow-internal", "--event", "cost.recorded")
            cli(*RECORD)  # a cost.recorded event for the webhook
            # delivered, or (a machine so busy that the receiver's answer came late) attempted: the
            # listings need an attempt in the log either way
            done = cli.runner.invoke(app, ["webhooks", "deliver"])
            assert done.exit_code in (0, 1) and "Traceback" not in done.stderr, done.stderr
        finally:
            receiver.stop()

    built_once("listings", agentik_home, build)


def _header_and_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    header, *lines = list(csv.reader(io.StringIO(text)))
    return header, [dict(zip(header, line, strict=True)) for line in lines]


@pytest.mark.parametrize("name", sorted(RUNS))
def test_the_csv_header_is_the_json_keys(cli, world, name):
    args = RUNS[name]
    rows = json.loads(cli(*args, "--json").stdout)
    assert rows and isinstance(rows, list), f"`{name}` has no row to compare on this store"
    header, csv_rows = _header_and_rows(cli(*args, "--csv").stdout)
    assert len(csv_rows) == len(rows)
    keys = list(rows[0])
    if name in ("agents list", "agents search"):
        flat = [k for k in keys if k != "stats"] + list(rows[0]["stats"])
        assert set(header) == set(flat) - AGENT_CSV_OMITS and len(header) == len(set(header))
        return
    # the same keys; the order is the JSON's but where a column was added to an older CSV, at its end
    assert set(header) == set(keys) and len(header) == len(keys)
    if name not in ("sessions list",):
        assert header == keys
    # a nested value is its JSON text in the cell (and the CSV reads back to the JSON)
    for row, csv_row in zip(rows, csv_rows, strict=True):
        for key, value in row.items():
            if isinstance(value, list | dict):
                assert json.loads(csv_row[key]) == value, (name, key)


@pytest.mark.parametrize("name", sorted(RUNS))
def test_json_and_csv_together_are_refused(cli, name):
    result = cli(*RUNS[name], "--json", "--csv", code=2)
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == "agentik: error: choose one of --json and --csv"


def test_nested_values_are_json_text_in_the_csv(cli, world):
    (recent,) = [r for r in cli.json("sessions", "recent") if r["role"] == "user"]
    header, rows = _header_and_rows(cli("sessions", "recent", "--csv").stdout)
    (row,) = [r for r in rows if r["role"] == "user"]
    assert row["content"] == "hello there"
    assert json.loads(row["tool_calls"]) == recent["tool_calls"] == []
    (hook,) = _header_and_rows(cli("webhooks", "list", "--csv").stdout)[1]
    assert hook["events"] == '["cost.recorded"]'
