"""The contract's JSON shape of each record, made in one place: `--json` output, the webhooks'
event bodies and `sessions tail` all print these. Each function takes a record as the store reads it
(money in nano-dollars, times as UTC datetimes) and gives the contract's object (money in dollars,
times in ISO 8601). Pure functions over values: every layer may use them."""

from __future__ import annotations

from typing import Any

from agentik_cli.money import to_usd
from agentik_cli.timeutil import iso

# the events a webhook can take: each carries one of these records (store/outbox.py, services/webhooks.py)
EVENTS = (
    "message.created",
    "cost.recorded",
    "costs.imported",
    "session.created",
    "agent.created",
    "agent.updated",
    "agent.removed",
    "budget.warning",
    "budget.exceeded",
)

# money keys of the services' rows (nano-dollars) and the dollar keys they are printed under
MONEY_KEYS = {
    "cost_nd": "cost",
    "today_nd": "today",
    "month_nd": "month",
    "total_nd": "total",
    "input_cost_nd": "input_cost",
    "output_cost_nd": "output_cost",
    "total_cost_nd": "total_cost",
    "price_input_nd": "price_input_per_mtok",
    "price_output_nd": "price_output_per_mtok",
    "price_cache_read_nd": "price_cache_read_per_mtok",
    "price_cache_write_nd": "price_cache_write_per_mtok",
    "source_cost_nd": "source_cost",
}


# the token counts of a call, in the order every listing shows them
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens")
# what a stats or session record says of the money, after its tokens in and out
COST_KEYS = ("total_cost", "unpriced_calls", "estimated_calls", "over_limit_calls")


def for_output(row: dict[str, Any]) -> dict[str, Any]:
    """The JSON and CSV shape of every report row: money from nano-dollars to dollars, made here
    once (nested lists of rows too)."""
    shaped: dict[str, Any] = {}
    for key, value in row.items():
        if key in MONEY_KEYS:
            shaped[MONEY_KEYS[key]] = to_usd(value)
        elif isinstance(value, list):
            shaped[key] = [for_output(item) if isinstance(item, dict) else item for item in value]
        else:
            shaped[key] = value
    return shaped


def recent_json(m: Any) -> dict[str, Any]:
    """A message among the latest of every session."""
    return {"session_id": m.session_id, "agent": m.agent, "title": m.title, **message_json(m)}


def match_json(m: Any, snippet: str) -> dict[str, Any]:
    """A message that matched a search, with the snippet around what matched."""
    return {
        "session_id": m.session_id,
        "message_id": m.id,
        "agent": m.agent,
        "title": m.title,
        "role": m.role,
        "user": m.user,
        "timestamp": iso(m.timestamp),
        "snippet": snippet,
        "content": m.content,
    }


def show_json(row: Any, messages: list[Any]) -> dict[str, Any]:
    """A session with its messages, as `sessions show --json` prints it."""
    data = session_json(row)
    data["message_count"] = data["messages"]
    data["messages"] = [message_json(m) for m in messages]
    return data


def ledger_row(cost: Any, agent_name: str | None) -> dict[str, Any]:
    """A ledger row with every field (money in nano-dollars, prices per million tokens); `agent_name`
    is the agent's name now, when it still exists (the row keeps the name it had)."""
    return {
        "id": cost.id,
        "timestamp": iso(cost.timestamp),
        "agent_id": cost.agent_id,
        "agent": agent_name or cost.agent_name,
        "session_id": cost.session_id,
        "conversation_id": cost.conversation_id,
        "model": cost.model,
        "provider": cost.provider,
        "input_tokens": cost.input_tokens,
        "output_tokens": cost.output_tokens,
        "cache_read_tokens": cost.cache_read_tokens,
        "cache_write_tokens": cost.cache_write_tokens,
        "total_tokens": cost.total_tokens,
        "input_cost_nd": cost.input_cost_nd,
        "output_cost_nd": cost.output_cost_nd,
        "total_cost_nd": cost.total_cost_nd,
        "price_input_nd": cost.price_input_nd,
        "price_output_nd": cost.price_output_nd,
        "price_cache_read_nd": cost.price_cache_read_nd,
        "price_cache_write_nd": cost.price_cache_write_nd,
        "response_ms": cost.response_ms,
        "channel": cost.channel,
        "endpoint": cost.endpoint,
        "estimated": cost.estimated,
        "over_limit": cost.over_limit,
        "user": cost.user_name,
        # what the tool an imported call came from said it cost (Claude Code's costUSD), beside ours
        "source_cost_nd": cost.source_cost_nd,
    }


def session_json(row: Any) -> dict[str, Any]:
    """A session object of the contract (`sessions list`, and `show` with its messages added)."""
    return {
        "id": row.id,
        "agent": row.agent,
        "agent_id": row.agent_id,
        "title": row.title,
        "channel": row.channel,
        "messages": row.messages,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_cost": to_usd(row.cost_nd),
        "unpriced_calls": row.unpriced_calls,
        "estimated_calls": row.estimated_calls,
        "over_limit_calls": row.over_limit_calls,
        "started_at": iso(row.started_at),
        "last_message_at": iso(row.last_message_at),
    }


def message_json(m: Any) -> dict[str, Any]:
    """A message object of the contract, with who wrote it (`user`)."""
    return {
        "id": m.id,
        "role": m.role,
        "content": m.content,
        "timestamp": iso(m.timestamp),
        "user": m.user,
        "model": m.model,
        "input_tokens": m.input_tokens,
        "output_tokens": m.output_tokens,
        "cost": to_usd(m.cost_nd),
        "response_ms": m.response_ms,
        "error": m.error,
        "interrupted": m.interrupted,
        # the text of an attached file went to the model; the transcript names the file
        "attachments": [{k: v for k, v in a.items() if k != "text"} for a in m.attachments],
        "skills_used": list(m.skills_used),
        "tool_calls": list(m.tool_calls),
        "redacted": m.redacted,
    }


def placed_message_json(m: Any) -> dict[str, Any]:
    """A message with where it was said: `sessions tail` and the message.created event."""
    return {"session_id": m.session_id, "agent": m.agent, **message_json(m)}


def stats_json(agent: Any, figures: Any) -> dict[str, Any]:
    """The `stats` object: counts from what exists, money from the ledger (services/agents.py says
    why). `total_cost` counts priced calls only; `unpriced_calls` says how many are not in it and
    `estimated_calls` how many were counted by agentik because the provider's usage never came,
    `over_limit_calls` how many the provider reported beyond their worst case."""
    return {
        "sessions": agent.stat_sessions,
        "messages": agent.stat_messages,
        "input_tokens": figures.input_tokens,
        "output_tokens": figures.output_tokens,
        "total_cost": to_usd(figures.cost_nd),
        "unpriced_calls": figures.unpriced_calls,
        "estimated_calls": figures.estimated_calls,
        "over_limit_calls": figures.over_limit_calls,
        "avg_response_ms": round(agent.stat_response_ms / agent.stat_responses) if agent.stat_responses else None,
    }


def agent_json(agent: Any, figures: Any) -> dict[str, Any]:
    """The agent object of the contract: --json, --csv (flattened) and the tables read this."""
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "system_prompt": agent.system_prompt,
        "model": agent.model,
        "provider": agent.provider,
        "temperature": agent.temperature,
        "max_tokens": agent.max_tokens,
        "channels": list(agent.channels or []),
        "skills": list(agent.skills or []),
        "status": agent.status,
        "base_url": agent.base_url,
        "api_key_env": agent.api_key_env,
        "allow_dirs": list(agent.allow_dirs or []),
        "allow_hosts": list(agent.allow_hosts or []),
        "allow_commands": list(agent.allow_commands or []),
        "deny_commands": list(agent.deny_commands or []),
        "sandbox": bool(getattr(agent, "sandbox", True)),
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
        "last_active_at": iso(agent.last_active_at),
        "stats": stats_json(agent, figures),
    }
