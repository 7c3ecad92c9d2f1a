"""The three listings people run most, `costs summary`, `agents list` and `sessions list`: read
without the ORM where that applies (services/opening.py `quick_read`, store/lightreads.py), else
through the opened store, giving the same rows either way, so the CLI prints them alike."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from agentik_cli.services.opening import command_store, quick_read
from agentik_cli.timeutil import local_midnight, today_local

if TYPE_CHECKING:
    from agentik_cli.store.engine import Store
    from agentik_cli.store.quickread import Query


def summary(store: Store | None = None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Today, this month, all time and each model's share (in nano-dollars), and the budgets in
    force as JSON objects. `store`: read from that open store (a live view), not the environment's."""
    today = today_local()
    since = (local_midnight(today), local_midnight(today.replace(day=1)))

    def light(query: Query) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        from agentik_cli.store import lightreads

        if lightreads.has_budgets(query):  # a budget's status weighs the calls in flight: services/budgets.py
            return None
        today_figures, month_figures = (lightreads.bucket_figures(query, moment) for moment in since)
        return _summary(today_figures, month_figures, lightreads.model_totals(query)), []

    found = quick_read(light) if store is None else None
    if found is not None:
        return found
    from agentik_cli.services import budgets
    from agentik_cli.store import reports

    store = store or command_store()
    with store.read() as session:
        today_figures, month_figures = (reports.bucket_figures(session, moment) for moment in since)
        models = reports.model_totals(session)
    return _summary(today_figures, month_figures, models), [b.to_json() for b in budgets.statuses(store)]


def _summary(today: Any, month: Any, models: list[tuple[str, str, Any]]) -> dict[str, Any]:
    return {
        "currency": "USD",
        "today_nd": today.cost_nd,
        "month_nd": month.cost_nd,
        "total_nd": sum(f.cost_nd for _, _, f in models),
        "unpriced_calls": sum(f.unpriced_calls for _, _, f in models),
        "estimated_calls": sum(f.estimated_calls for _, _, f in models),
        "over_limit_calls": sum(f.over_limit_calls for _, _, f in models),
        "today_unpriced_calls": today.unpriced_calls,
        "month_unpriced_calls": month.unpriced_calls,
        "today_estimated_calls": today.estimated_calls,
        "month_estimated_calls": month.estimated_calls,
        "today_over_limit_calls": today.over_limit_calls,
        "month_over_limit_calls": month.over_limit_calls,
        "calls": sum(f.calls for _, _, f in models),
        "models": [
            {
                "model": model,
                "provider": provider,
                "calls": f.calls,
                "input_tokens": f.input_tokens,
                "output_tokens": f.output_tokens,
                "cost_nd": f.cost_nd,
                "unpriced_calls": f.unpriced_calls,
                "estimated_calls": f.estimated_calls,
                "over_limit_calls": f.over_limit_calls,
            }
            for model, provider, f in models
            if f.calls
        ],
    }


def agents(status: str | None = None, limit: int | None = None, sort: str = "name") -> list[tuple[Any, Any]]:
    """The agents (services/agents.py list_agents), each with its share of the ledger (ledger_figures)."""

    def light(query: Query) -> list[tuple[Any, Any]] | None:
        from agentik_cli.store import lightreads

        # anything but the plain listing is checked (and said to be wrong) by services/agents.py
        if status is not None or sort not in lightreads.AGENT_ORDER or (limit is not None and limit <= 0):
            return None
        return lightreads.agents(query, sort, limit)

    found = quick_read(light)
    if found is not None:
        return found
    from agentik_cli.services import agents as agent_service

    store = command_store()
    listed = agent_service.list_agents(store, status=status, limit=limit, sort=sort)
    return list(zip(listed, agent_service.ledger_figures(store, listed), strict=True))


def sessions(
    agent: str | None = None, channel: str | None = None, since: datetime | None = None, limit: int | None = 50
) -> list[Any]:
    """Sessions, most recently active first, with their totals (services/sessions.py list_sessions)."""

    def light(query: Query) -> list[Any] | None:
        from agentik_cli.store import lightreads

        # an agent is named by the rules of services/agents.py: that path reads one
        if agent is not None or (limit is not None and limit <= 0):
            return None
        return lightreads.sessions(query, channel, since, limit)

    found = quick_read(light)
    if found is not None:
        return found
    from agentik_cli.services import sessions as session_service

    return session_service.list_sessions(command_store(), agent=agent, channel=channel, since=since, limit=limit)
