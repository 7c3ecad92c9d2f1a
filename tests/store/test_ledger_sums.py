"""Issue 8, the ledger: a removed agent stays reachable wherever it is listed, and every money total
is the sum of the ledger rows it covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import db_execute, db_rows


def _record(cli, agent: str, tokens: int, at: str | None = None) -> None:
    args = ["costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", str(tokens)]
    args += ["--output-tokens", "10", "--agent", agent]
    if at:
        args += ["--at", at]
    cli(*args)


def test_a_removed_agent_listed_by_by_agent_can_be_asked_for_by_name_or_id(cli):
    cli("agents", "create", "Old", "--model", "gpt-4o")
    cli("agents", "create", "other", "--model", "gpt-4o")
    _record(cli, "old", 1000)
    _record(cli, "other", 5)
    cli("agents", "remove", "old", "--yes")
    assert "Old" in {row["agent"] for row in cli.json("costs", "by-agent")}
    for ref in ("old", "OLD", "1"):
        rows = cli.json("costs", "list", "--agent", ref)
        assert [(r["agent"], r["input_tokens"]) for r in rows] == [("Old", 1000)]
        history = cli.json("costs", "history", "--days", "1", "--agent", ref)
        assert history[-1]["calls"] == 1 and history[-1]["input_tokens"] == 1000
    assert cli("costs", "list", "--agent", "never-was", code=1).stderr.startswith("agentik: error: no agent")


def test_two_removed_agents_of_one_name_are_told_apart_by_id(cli):
    for _ in range(2):
        cli("agents", "create", "temp", "--model", "gpt-4o")
        _record(cli, "temp", 7)
        cli("agents", "remove", "temp", "--yes")
    result = cli("costs", "list", "--agent", "temp", code=2)
    assert "1, 2" in result.stderr
    assert len(cli.json("costs", "list", "--agent", "2")) == 1


def test_cleanup_leaves_the_sessions_totals_as_their_messages_costs(cli, fake, agentik_home):
    """`costs cleanup` removes ledger rows only (issue 21): a session keeps what its calls cost, the
    sum of its messages' costs, rather than dropping below them."""
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    cli("chat", "gpt", "-m", "old question")
    cli("chat", "gpt", "-c", "-m", "new question")
    old = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S.000000")
    first = db_rows(agentik_home, "SELECT min(id) FROM costs")[0][0]
    db_execute(
        agentik_home,
        ("UPDATE costs SET timestamp = ? WHERE id = ?", (old, first)),
        # keep the quarter-hour buckets in step with the moved row, as if it had been written then
        ("DELETE FROM cost_buckets", ()),
        (
            "INSERT INTO cost_buckets (start, calls, input_tokens, output_tokens, cache_read_tokens, "
            "cache_write_tokens, cost_nd, unpriced_calls, estimated_calls) SELECT timestamp, 1, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, coalesce(total_cost_nd, 0), "
            "CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END, CASE WHEN estimated THEN 1 ELSE 0 END FROM costs",
            (),
        ),
    )
    cli("costs", "cleanup", "--older-than", "30", "--yes")
    assert db_rows(agentik_home, "SELECT count(*) FROM costs WHERE session_id = 1") == [(1,)]
    session = cli.json("sessions", "show", "1")
    messages = db_rows(
        agentik_home, "SELECT sum(input_tokens), sum(output_tokens), sum(cost_nd) FROM messages WHERE session_id = 1"
    )
    assert [(session["input_tokens"], session["output_tokens"])] == [messages[0][:2]]
    assert session["message_count"] == 4  # the conversation itself stays


def test_removing_a_session_takes_its_replies_out_of_the_average_response_time(cli, fake, agentik_home):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    cli("chat", "gpt", "-m", "one")
    cli("chat", "gpt", "-m", "two")
    db_execute(
        agentik_home,
        ("UPDATE messages SET response_ms = 9000 WHERE session_id = 1 AND role = 'assistant'", ()),
        ("UPDATE messages SET response_ms = 100 WHERE session_id = 2 AND role = 'assistant'", ()),
        ("UPDATE agents SET stat_response_ms = 9100, stat_responses = 2", ()),
    )
    cli("sessions", "remove", "1", "--yes")
    assert cli.json("agents", "stats", "gpt")["avg_response_ms"] == 100


def test_reports_say_how_many_calls_are_estimates(cli, fake, agentik_home):
    from tests.fakeprovider import Reply

    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    cli("chat", "gpt", "-m", "complete")
    fake.add(Reply(text="cut short after a few words of the reply", chunks=8, drop_after=3))
    cli("chat", "gpt", "-m", "dropped", code=1)
    rows = cli.json("costs", "list")
    assert [r["estimated"] for r in rows] == [True, False]
    assert rows[0]["output_tokens"] > 0 and rows[0]["total_cost"] > 0
    assert cli.json("costs", "summary")["estimated_calls"] == 1
    assert [r["estimated_calls"] for r in cli.json("costs", "by-model")] == [1]
    assert cli.json("costs", "by-agent", "--since", "today")[0]["estimated_calls"] == 1
    assert cli.json("costs", "history", "--days", "1")[-1]["estimated_calls"] == 1
    assert cli.json("costs", "history", "--days", "1", "--agent", "gpt")[-1]["estimated_calls"] == 1
