"""What a team store must get right beyond the commands themselves: no password ever shown, a bad
URL is bad usage, a copy never into itself, a chat into a session removed meanwhile."""

from __future__ import annotations

import os

import pytest

from agentik_cli.store.engine import mask_url


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (
            "postgresql+psycopg://me:hunter2@db.example.com:5432/agentik",
            "postgresql+psycopg://me:***@db.example.com:5432/agentik",
        ),
        # an @ in the password (not escaped) must not leave part of it in view
        ("postgresql+psycopg://me:hun@ter2@/agentik?host=/tmp/x", "postgresql+psycopg://me:***@/agentik?host=/tmp/x"),
        (
            "postgresql+psycopg://me@/agentik?host=/tmp/x&password=hunter2&port=5",
            "postgresql+psycopg://me@/agentik?host=/tmp/x&password=***&port=5",
        ),
        ("postgresql+psycopg://me@/agentik?PASSWORD=hunter2", "postgresql+psycopg://me@/agentik?PASSWORD=***"),
        ("postgresql+psycopg://me@/a?host=%2Frun%2Fpostgresql", "postgresql+psycopg://me@/a?host=/run/postgresql"),
    ],
)
def test_a_database_url_is_shown_without_its_password(url, shown):
    assert mask_url(url) == shown
    assert "hunter2" not in mask_url(url) and "ter2" not in mask_url(url)


@pytest.mark.parametrize("tail", ["port=notaport", "port=5432&bogus=1"])
def test_a_url_that_cannot_be_used_is_bad_usage(cli, tail):
    result = cli("--db", f"postgresql+psycopg://me:hunter2@/agentik?host=/nonexistent&{tail}", "agents", "list", code=2)
    lines = result.stderr.strip().splitlines()
    assert "not a usable database URL" in lines[0] and lines[1].startswith("hint:") and len(lines) == 2
    assert "hunter2" not in result.stderr


@pytest.mark.postgres_only
def test_a_copy_into_the_same_database_by_another_url_is_refused(cli):
    url = os.environ["AGENTIK_DB"]
    cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "5", "--output-tokens", "1")
    base, query = url.split("?", 1)
    respelled = base + "?" + "&".join(reversed(query.split("&")))
    assert respelled != url
    result = cli("db", "copy", "--to", respelled, "--yes", code=2)
    assert "the store being copied" in result.stderr
    assert len(cli.json("costs", "list")) == 1


def test_a_chat_into_a_session_removed_meanwhile_says_so(cli, fake, store):
    from agentik_cli.errors import NotFound
    from agentik_cli.services import recording

    cli("agents", "create", "a", "--model", "gpt-4o-mini")
    cli("chat", "a", "-m", "hello")
    session_id = cli.json("sessions", "list")[0]["id"]
    cli("sessions", "remove", str(session_id), "--yes")
    agent_id = cli.json("agents", "show", "a")["id"]
    with pytest.raises(NotFound, match="no longer exists"):
        recording.add_user_message(store, agent_id=agent_id, session_id=session_id, content="again", channel="cli")
    assert cli.json("sessions", "list") == []


def test_the_ledger_table_shows_who_made_each_call(cli):
    cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "5", "--output-tokens", "1",
        env={"AGENTIK_USER": "zoe"})  # fmt: skip
    table = cli("costs", "list").stdout
    assert "user" in table.splitlines()[0] and "zoe" in table
