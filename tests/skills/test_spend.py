"""The `spend` skill: what the agent running it has cost today, this month and in all, from the ledger
of the store its context holds, and no other agent's costs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from agentik_cli.services.reports import spend_of
from agentik_cli.skills.base import Context, Rules
from agentik_cli.skills.builtin import BUILTIN
from agentik_cli.store import ledger as store_ledger


def _row(agent_id: int, name: str, cost_nd: int | None, when: datetime) -> dict:
    return {
        "agent_id": agent_id,
        "agent_name": name,
        "session_id": None,
        "model": "gpt-4o",
        "provider": "openai",
        "input_tokens": 10,
        "output_tokens": 2,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "total_tokens": 12,
        "total_cost_nd": cost_nd,
        "timestamp": when,
        "estimated": False,
    }


def test_spend_sums_the_agents_own_calls_by_window(cli, store):
    mine = cli.json("agents", "create", "mine", "--model", "gpt-4o")["id"]
    other = cli.json("agents", "create", "other", "--model", "gpt-4o")["id"]
    now = datetime.now(UTC)
    with store.write() as unit:
        store_ledger.add_costs(
            unit,
            [
                _row(mine, "mine", 1_500, now),
                _row(mine, "mine", None, now),  # unpriced: counted, costs nothing
                _row(mine, "mine", 20_000, now - timedelta(days=40)),  # before this month
                _row(other, "other", 7_000_000, now),
            ],
        )

    outcome = BUILTIN["spend"]().run("spend", {}, Context(mine, "mine", Rules(), spend_of(store, mine)))

    assert outcome.status == "ok"
    assert json.loads(outcome.output) == {
        "agent": "mine",
        "currency": "USD",
        "today": {"cost": 0.0000015, "calls": 2, "unpriced_calls": 1},
        "month": {"cost": 0.0000015, "calls": 2, "unpriced_calls": 1},
        "all_time": {"cost": 0.0000215, "calls": 3, "unpriced_calls": 1},
    }


def test_spend_without_an_agent_is_an_error_for_the_model(store):
    outcome = BUILTIN["spend"]().run("spend", {}, Context(None, "", Rules()))

    assert outcome.status == "error"
    assert outcome.error == "no agent: spend reports an agent's own costs"
