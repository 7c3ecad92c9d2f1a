"""`agentik sessions`: list, show, recent, search (FTS5), rename, remove."""

from __future__ import annotations

import json

import pytest

from tests.conftest import db_rows
from tests.fakeprovider import Reply


@pytest.fixture
def chats(cli, fake):
    """Two agents, three sessions."""
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.add(
        Reply(text="Use a connection pool with a small maximum.", input_tokens=100, output_tokens=20),
        Reply(text="Pools recycle connections.", input_tokens=150, output_tokens=10),
        Reply(text="Tabs versus spaces is a matter of taste.", input_tokens=50, output_tokens=8),
        Reply(text="Bread needs flour, water, salt and time.", input_tokens=40, output_tokens=9),
    )
    cli("chat", "claude", "-m", "How do I size a database connection pool?")
    cli("chat", "claude", "-c", "-m", "And what do pools do with idle connections?")
    cli("chat", "claude", "-m", "Tabs or spaces?", "--channel", "slack")
    cli("chat", "gpt", "-m", "How do I bake bread?")
    return fake


def test_list_newest_first_with_totals(cli, chats):
    rows = cli.json("sessions", "list")
    assert [r["id"] for r in rows] == [3, 2, 1]
    first = rows[-1]
    assert set(first) >= {
        "id",
        "agent",
        "title",
        "channel",
        "messages",
        "input_tokens",
        "output_tokens",
        "total_cost",
        "started_at",
        "last_message_at",
    }
    assert first["agent"] == "claude" and first["messages"] == 4
    assert first["title"] == "How do I size a database connection pool?"
    assert (first["input_tokens"], first["output_tokens"]) == (250, 30)
    # 250 * $3/M + 30 * $15/M
    assert first["total_cost"] == 0.0012


def test_list_filters(cli, chats):
    assert [r["id"] for r in cli.json("sessions", "list", "--agent", "gpt")] == [3]
    assert [r["id"] for r in cli.json("sessions", "list", "--channel", "slack")] == [2]
    assert len(cli.json("sessions", "list", "--limit", "2")) == 2
    assert len(cli.json("sessions", "list", "--since", "1h")) == 3
    assert cli.json("sessions", "list", "--since", "2099-01-01") == []
    lines = cli("sessions", "list", "--csv").stdout.splitlines()
    assert lines[0] == (
        "id,agent,title,channel,messages,input_tokens,output_tokens,total_cost,unpriced_calls,estimated_calls,over_limit_calls,"
        "started_at,"
        "last_message_at,agent_id"
    )
    assert len(lines) == 4


def test_show_json_and_markdown(cli, chats):
    data = cli.json("sessions", "show", "1")
    assert data["id"] == 1 and data["message_count"] == 4
    message = data["messages"][1]
    assert set(message) >= {
        "id",
        "role",
        "content",
        "timestamp",
        "model",
        "input_tokens",
        "output_tokens",
        "cost",
        "response_ms",
        "error",
        "attachments",
        "skills_used",
    }
    assert message["role"] == "assistant" and message["model"] == "claude-sonnet-4-0"
    transcript = cli("sessions", "show", "1", "--markdown").stdout
    assert transcript.startswith("# How do I size a database connection pool?")
    assert "## You" in transcript and "## claude" in transcript and "Use a connection pool" in transcript


def test_recent(cli, chats):
    rows = cli.json("sessions", "recent", "--limit", "3")
    assert [r["content"] for r in rows] == [
        "Bread needs flour, water, salt and time.",
        "How do I bake bread?",
        "Tabs versus spaces is a matter of taste.",
    ]
    assert rows[0]["agent"] == "gpt" and rows[0]["session_id"] == 3


@pytest.mark.both_stores
def test_search_ranked_with_snippet(cli, chats):
    rows = cli.json("sessions", "search", "connection pool")
    assert {r["session_id"] for r in rows} == {1}
    assert rows[0]["snippet"] and "connection" in rows[0]["snippet"].lower()
    assert {"session_id", "message_id", "agent", "role", "timestamp", "snippet"} <= set(rows[0])
    assert {r["content"] for r in cli.json("sessions", "search", "bread", "--agent", "gpt")} == {
        "Bread needs flour, water, salt and time.",
        "How do I bake bread?",
    }
    assert cli.json("sessions", "search", "bread", "--agent", "claude") == []
    assert cli.json("sessions", "search", "nonexistentword") == []
    # FTS syntax in what people type is only text
    assert cli.json("sessions", "search", 'pool" OR "x') is not None
    assert "pool" in cli("sessions", "search", "pool").stdout


@pytest.mark.both_stores
def test_search_ranks_the_better_match_first(cli, fake):
    cli("agents", "create", "a", "--model", "gpt-4o-mini")
    fake.add(Reply(text="kettle"), Reply(text="kettle"), Reply(text="ok"))
    cli("chat", "a", "-m", "a long message that mentions the word kettle only once among many other words here")
    cli("chat", "a", "-m", "kettle kettle kettle")
    rows = cli.json("sessions", "search", "kettle", "--limit", "2")
    assert len(rows) == 2
    assert rows[0]["content"] in ("kettle kettle kettle", "kettle")


def test_rename(cli, chats):
    cli("sessions", "rename", "1", "Pool sizing")
    assert cli.json("sessions", "show", "1")["title"] == "Pool sizing"
    assert "cannot be empty" in cli("sessions", "rename", "1", "  ", code=2).stderr
    assert "no session 99" in cli("sessions", "rename", "99", "x", code=1).stderr


@pytest.mark.both_stores
def test_remove_keeps_the_ledger_and_the_index_in_step(cli, chats, agentik_home):
    before = cli.json("costs", "summary")
    by_agent_before = cli.json("costs", "by-agent")
    result = cli("sessions", "remove", "1", code=2)  # no terminal, no --yes
    assert "--yes" in result.stderr
    cli("sessions", "remove", "1", "--yes")
    assert cli.json("sessions", "list", "--agent", "claude")[0]["id"] == 2
    assert cli.json("sessions", "search", "pool") == []  # the FTS index lost the messages too
    assert cli.json("costs", "summary") == before
    assert cli.json("costs", "by-agent") == by_agent_before
    assert db_rows(agentik_home, "SELECT count(*) FROM costs WHERE session_id IS NULL") == [(2,)]
    stats = cli.json("agents", "stats", "claude")
    assert (stats["sessions"], stats["messages"]) == (1, 2)
    assert "no session 1" in cli("sessions", "show", "1", code=1).stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["list", "--since", "last tuesday"], 2, "cannot read 'last tuesday' as a time"),
        (["list", "--agent", "ghost"], 1, "no agent named 'ghost'"),
        (["show", "42"], 1, "no session 42"),
        (["remove", "42", "--yes"], 1, "no session 42"),
        (["search", "   "], 2, "empty"),
        (["search", "x", "--agent", "ghost"], 1, "no agent named 'ghost'"),
        (["list", "--limit", "0"], 2, ""),
    ],
)
def test_bad_input(cli, args, code, message):
    result = cli("sessions", *args, code=code)
    assert message in result.stderr and "Traceback" not in result.stderr


def test_json_output_parses(cli, chats):
    for args in (["list"], ["show", "2"], ["recent"], ["search", "bread"]):
        json.loads(cli("sessions", *args, "--json").stdout)


def test_a_tail_line_is_cut_to_the_width_it_is_given():
    from datetime import UTC, datetime
    from types import SimpleNamespace

    from rich.cells import cell_len

    from agentik_cli.cli.session_views import tail_line

    m = SimpleNamespace(
        timestamp=datetime(2026, 11, 3, 9, 30, tzinfo=UTC),
        agent="helper",
        session_id=7,
        role="assistant",
        interrupted=False,
        error=None,
        content="界" * 30 + "\x1b[2J",
    )
    whole = tail_line(m, None)
    # control characters escaped, then measured: the escape's four cells count
    assert whole.endswith(" helper #7  assistant: " + "界" * 30 + "\\x1b[2J") and cell_len(whole) == 99
    assert tail_line(m, 99) == tail_line(m, 200) == whole
    # a wide character takes two cells; one that would not fit whole is left out
    assert tail_line(m, 41).endswith(" helper #7  assistant: " + "界" * 4 + "…")
    assert tail_line(m, 40).endswith(" helper #7  assistant: " + "界" * 3 + " …")
    assert [cell_len(tail_line(m, w)) for w in (98, 41, 40, 10)] == [98, 41, 40, 10]
