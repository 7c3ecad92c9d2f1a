"""The store: pragmas, running totals kept by the ledger, exact money."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from agentik_cli.money import fmt_usd, to_nd, to_usd
from agentik_cli.records import stats_json
from agentik_cli.services import agents, recording
from agentik_cli.services.agents import AgentFields
from agentik_cli.services.pricing import price_call
from agentik_cli.values import Usage


@pytest.mark.sqlite_only(reason="SQLite's pragmas")
def test_sqlite_pragmas(store):
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() >= 5000


@pytest.mark.sqlite_only(reason="the SQLite file in AGENTIK_HOME")
def test_database_created_on_first_use_in_agentik_home(store, agentik_home):
    assert (agentik_home / "agentik.db").exists()


def _chat_turn(
    store, agent, session_id, tokens_in, tokens_out, response_ms, model="claude-sonnet-4-0", provider="anthropic"
):
    session_id, _, _ = recording.add_user_message(
        store, agent_id=agent.id, session_id=session_id, content="question", channel="cli"
    )
    usage = Usage(input_tokens=tokens_in, output_tokens=tokens_out)
    entry = recording.CostEntry(
        model=model,
        provider=provider,
        usage=usage,
        priced=price_call(model, provider, usage),
        response_ms=response_ms,
        channel="cli",
        endpoint="messages",
    )
    recording.add_reply(
        store,
        agent_id=agent.id,
        agent_name=agent.name,
        session_id=session_id,
        content="answer",
        channel="cli",
        cost=entry,
    )
    return session_id


def test_stats_move_with_messages_and_costs(store):
    agent = agents.create(store, AgentFields(name="a", model="claude-sonnet-4-0"))
    session_id = _chat_turn(store, agent, None, 1000, 200, 300)
    _chat_turn(store, agent, session_id, 2000, 100, 500)
    _chat_turn(store, agent, None, 10, 10, 100, model="my-local-model", provider="openai")
    fresh = agents.get(store, "a")
    assert stats_json(fresh, agents.ledger_figures(store, [fresh])[0]) == {
        "sessions": 2,
        "messages": 6,
        "input_tokens": 3010,
        "output_tokens": 310,
        # (3000 * 3 + 300 * 15) / 1e6 = 0.0135; the unpriced call adds nothing but is counted
        "total_cost": 0.0135,
        "unpriced_calls": 1,
        "estimated_calls": 0,
        "over_limit_calls": 0,
        "avg_response_ms": 300,
    }
    assert fresh.last_active_at is not None
    with store.read() as session:
        row = session.execute(
            text(
                "SELECT message_count, input_tokens, output_tokens, cost_nd, unpriced_calls FROM sessions "
                "WHERE id = :id"
            ),
            {"id": session_id},
        ).one()
        assert tuple(row) == (4, 3000, 300, 13_500_000, 0)
        unpriced = session.execute(text("SELECT total_cost_nd FROM costs WHERE model='my-local-model'")).one()
        assert unpriced[0] is None


def test_cost_row_keeps_unit_prices_and_cache_tokens(store):
    agent = agents.create(store, AgentFields(name="a", model="claude-sonnet-4-0"))
    session_id, _, _ = recording.add_user_message(store, agent_id=agent.id, session_id=None, content="q", channel="cli")
    usage = Usage(input_tokens=1000, output_tokens=500, cache_read_tokens=200, cache_write_tokens=100)
    priced = price_call("claude-sonnet-4-0", "anthropic", usage)
    entry = recording.CostEntry(model="claude-sonnet-4-0", provider="anthropic", usage=usage, priced=priced)
    recording.add_reply(
        store, agent_id=agent.id, agent_name="a", session_id=session_id, content="r", channel="cli", cost=entry
    )
    with store.engine.connect() as conn:
        row = tuple(
            conn.execute(
                text(
                    "SELECT input_tokens, cache_read_tokens, cache_write_tokens, total_tokens, input_cost_nd, "
                    "output_cost_nd, total_cost_nd, price_input_nd, price_output_nd, price_cache_read_nd, "
                    "price_cache_write_nd FROM costs"
                )
            ).one()
        )
    # 700 uncached * $3 + 200 reads * $0.30 + 100 writes * $3.75 = $0.002535; 500 * $15 = $0.0075
    assert row == (
        1000,
        200,
        100,
        1500,
        2_535_000,
        7_500_000,
        10_035_000,
        3_000_000_000,
        15_000_000_000,
        300_000_000,
        3_750_000_000,
    )


def test_money_is_exact():
    amounts = [to_nd("0.000000001"), to_nd("0.1"), to_nd("0.2")]
    assert sum(amounts) == 300_000_001
    assert to_usd(sum(amounts)) == 0.300000001
    assert fmt_usd(to_nd("0.000135")) == "$0.000135"
    assert fmt_usd(to_nd("1234.5")) == "$1,234.50"
    assert fmt_usd(None) == "n/a"


def test_removing_a_session_agent_keeps_costs_via_foreign_keys(store):
    agent = agents.create(store, AgentFields(name="a", model="gpt-4o-mini"))
    _chat_turn(store, agent, None, 100, 10, 50, model="gpt-4o-mini", provider="openai")
    agents.remove(store, "a")
    with store.read() as session:
        assert session.execute(text("SELECT count(*) FROM messages")).scalar() == 0
        # the session and message are gone; the row keeps its agent's id, which is never reused
        assert session.execute(text("SELECT agent_id, session_id, conversation_id FROM costs")).one() == (
            agent.id,
            None,
            None,
        )
