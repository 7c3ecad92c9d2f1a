"""Cost reports. Each is one SQL aggregate: over the maintained aggregates (cost_totals per agent and
model, cost_buckets per quarter hour) where the question allows, else over an index range of the
ledger. No report loads the ledger's rows into Python."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select, text
from sqlmodel import col

from agentik_cli.errors import UsageError
from agentik_cli.money import to_usd
from agentik_cli.services import agents
from agentik_cli.services.ledger import SUM_COLUMNS
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, Cost, CostBucket, CostTotal
from agentik_cli.timeutil import iso, local_midnight, today_local

GROUPS = ("agent", "model", "provider")
MAX_PERIODS = 5000  # each period is three bound parameters; SQLite takes 32,766
KEYS = {"agent": ("agent",), "model": ("model", "provider"), "provider": ("provider",)}
PERIODS = ("day", "week", "month")


@dataclass
class Window:
    since: datetime | None = None
    until: datetime | None = None

    def check(self) -> None:
        if self.since and self.until and self.until <= self.since:
            raise UsageError("--until is before --since")


def _totals_sums() -> list[Any]:
    t: Any = CostTotal
    return [
        func.coalesce(func.sum(t.calls), 0).label("calls"),
        func.coalesce(func.sum(t.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(t.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(t.cache_read_tokens), 0).label("cache_read_tokens"),
        func.coalesce(func.sum(t.cache_write_tokens), 0).label("cache_write_tokens"),
        func.coalesce(func.sum(t.cost_nd), 0).label("cost_nd"),
        func.coalesce(func.sum(t.unpriced_calls), 0).label("unpriced_calls"),
        func.coalesce(func.sum(t.estimated_calls), 0).label("estimated_calls"),
    ]


def _ledger_sums() -> list[Any]:
    c: Any = Cost
    return [
        func.count().label("calls"),
        func.coalesce(func.sum(c.input_tokens), 0).label("input_tokens"),
        func.coalesce(func.sum(c.output_tokens), 0).label("output_tokens"),
        func.coalesce(func.sum(c.cache_read_tokens), 0).label("cache_read_tokens"),
        func.coalesce(func.sum(c.cache_write_tokens), 0).label("cache_write_tokens"),
        func.coalesce(func.sum(c.total_cost_nd), 0).label("cost_nd"),
        func.count().filter(c.total_cost_nd.is_(None)).label("unpriced_calls"),
        func.count().filter(c.estimated).label("estimated_calls"),
    ]


def _bucket_sums() -> list[Any]:
    return [func.coalesce(func.sum(getattr(CostBucket, name)), 0).label(name) for name in SUM_COLUMNS]


def _figures(row: Any) -> dict[str, Any]:
    return {
        "calls": int(row.calls),
        "input_tokens": int(row.input_tokens),
        "output_tokens": int(row.output_tokens),
        "cache_read_tokens": int(row.cache_read_tokens),
        "cache_write_tokens": int(row.cache_write_tokens),
        "cost": to_usd(int(row.cost_nd)),
        "cost_nd": int(row.cost_nd),
        "unpriced_calls": int(row.unpriced_calls),
        # calls whose tokens agentik counted itself (the provider's usage never arrived)
        "estimated_calls": int(row.estimated_calls),
    }


def _bucket_total(session: Any, since: datetime, until: datetime | None = None) -> dict[str, Any]:
    query = select(*_bucket_sums()).where(col(CostBucket.start) >= since)
    if until is not None:
        query = query.where(col(CostBucket.start) < until)
    return _figures(session.execute(query).one())


def month_start(day: date) -> date:
    return day.replace(day=1)


def summary(store: Store) -> dict[str, Any]:
    today = today_local()
    with store.read() as session:
        today_figures = _bucket_total(session, local_midnight(today))
        month_figures = _bucket_total(session, local_midnight(month_start(today)))
        models = session.execute(
            select(col(CostTotal.model), col(CostTotal.provider), *_totals_sums())
            .group_by(col(CostTotal.model), col(CostTotal.provider))
            .order_by(func.sum(col(CostTotal.cost_nd)).desc(), col(CostTotal.model))
        ).all()
    total_nd = sum(int(m.cost_nd) for m in models)
    return {
        "currency": "USD",
        "today": today_figures["cost"],
        "month": month_figures["cost"],
        "total": to_usd(total_nd),
        "unpriced_calls": sum(int(m.unpriced_calls) for m in models),
        "estimated_calls": sum(int(m.estimated_calls) for m in models),
        "today_unpriced_calls": today_figures["unpriced_calls"],
        "month_unpriced_calls": month_figures["unpriced_calls"],
        "calls": sum(int(m.calls) for m in models),
        "models": [
            {
                "model": m.model,
                "provider": m.provider,
                "calls": int(m.calls),
                "input_tokens": int(m.input_tokens),
                "output_tokens": int(m.output_tokens),
                "cost": to_usd(int(m.cost_nd)),
                "unpriced_calls": int(m.unpriced_calls),
                "estimated_calls": int(m.estimated_calls),
            }
            for m in models
            if m.calls
        ],
        "total_nd": total_nd,
    }


def breakdown(store: Store, by: str, window: Window) -> list[dict[str, Any]]:
    """by-agent, by-model, by-provider: largest cost first. Without a window from the maintained
    totals; with one, one aggregate over the ledger's index range."""
    if by not in GROUPS:
        raise UsageError(f"unknown grouping '{by}'")
    window.check()
    with store.read() as session:
        if window.since is None and window.until is None:
            t: Any = CostTotal
            agent_name = func.coalesce(col(Agent.name), t.agent_name, literal("(no agent)"))
            keys = {"agent": [agent_name.label("agent")], "model": [t.model, t.provider], "provider": [t.provider]}[by]
            query: Select = select(*keys, *_totals_sums())
            if by == "agent":
                query = query.outerjoin(Agent, col(Agent.id) == t.agent_key).group_by(t.agent_key, agent_name)
            else:
                query = query.group_by(*keys)
        else:
            c: Any = Cost
            agent_name = func.coalesce(col(Agent.name), c.agent_name, literal("(no agent)"))
            keys = {"agent": [agent_name.label("agent")], "model": [c.model, c.provider], "provider": [c.provider]}[by]
            query = select(*keys, *_ledger_sums())
            if window.since is not None:
                # left to itself, SQLite walks the whole ledger in GROUP BY order (ix_costs_by_model)
                # instead of the time range
                query = query.where(c.timestamp >= window.since).with_hint(
                    c, "INDEXED BY ix_costs_by_timestamp", "sqlite"
                )
            if window.until is not None:
                query = query.where(c.timestamp < window.until)
            if by == "agent":
                query = query.outerjoin(Agent, col(Agent.id) == c.agent_id).group_by(c.agent_id, agent_name)
            else:
                query = query.group_by(*keys)
        rows = session.execute(query).all()
    result = []
    for row in rows:
        figures = _figures(row)
        if not figures["calls"]:
            continue
        result.append({key: getattr(row, key) for key in KEYS[by]} | figures)
    result.sort(key=lambda r: (-r["cost_nd"], -r["calls"]))
    return result


def _periods(period: str, first: date, last: date) -> list[tuple[str, date]]:
    """(label, first local day) of every period from the one holding `first` to the one holding `last`."""
    out: list[tuple[str, date]] = []
    if period == "day":
        day = first
        while day <= last:
            out.append((day.isoformat(), day))
            day += timedelta(days=1)
    elif period == "week":
        day = first - timedelta(days=first.weekday())
        while day <= last:
            year, week, _ = day.isocalendar()
            out.append((f"{year}-W{week:02d}", day))
            day += timedelta(days=7)
    elif period == "month":
        day = first.replace(day=1)
        while day <= last:
            out.append((f"{day.year}-{day.month:02d}", day))
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    else:
        raise UsageError(f"unknown period '{period}'", hint="use one of: day, week, month")
    return out


def _next_start(period: str, start: date) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def history(
    store: Store,
    *,
    days: int | None = None,
    since: datetime | None = None,
    by: str = "day",
    agent: str | None = None,
) -> list[dict[str, Any]]:
    """Spend per local day, week or month, oldest first, empty periods included. One query: the
    periods (as UTC instants) are a VALUES list joined to the quarter-hour buckets (or, for one
    agent, to that agent's range of the ledger index)."""
    if days is not None and since is not None:
        raise UsageError("give --days or --since, not both")
    if days is not None and days <= 0:
        raise UsageError("--days must be 1 or more")
    today = today_local()
    if since is not None:
        first = since.astimezone().date()
        if first > today:
            raise UsageError("--since is in the future")
    else:
        first = today - timedelta(days=(days or 30) - 1)
    periods = _periods(by, first, today)
    if len(periods) > MAX_PERIODS:
        raise UsageError(f"{len(periods):,} periods are too many to chart", hint="use --by week or --by month")
    bounds = [
        (i, local_midnight(start), local_midnight(_next_start(by, start))) for i, (_, start) in enumerate(periods)
    ]
    stamp = CostBucket.__table__.c.start.type  # type: ignore[attr-defined]
    params = [
        bindparam(f"{name}{i}", value, type_=stamp if name != "i" else None)
        for i, lo, hi in bounds
        for name, value in (("i", i), ("lo", lo), ("hi", hi))
    ]
    rows_sql = ", ".join(f"(:i{i}, :lo{i}, :hi{i})" for i, _, _ in bounds)
    # the periods as a VALUES list in a CTE (SQLite and PostgreSQL both read it), joined to the data
    cte = f"WITH periods (i, lo, hi) AS (VALUES {rows_sql}) "
    with store.read() as session:
        if agent is None:
            sums = ", ".join(f"coalesce(sum(b.{n}), 0) AS {n}" for n in SUM_COLUMNS)
            sql = f"SELECT p.i AS i, {sums} FROM periods p JOIN cost_buckets b ON b.start >= p.lo AND b.start < p.hi"
        else:
            params.append(bindparam("agent", agents.ledger_agent_id(session, agent)))
            sql = (
                "SELECT p.i AS i, count(*) AS calls, sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS "
                "output_tokens, sum(c.cache_read_tokens) AS cache_read_tokens, sum(c.cache_write_tokens) AS "
                "cache_write_tokens, coalesce(sum(c.total_cost_nd), 0) AS cost_nd, "
                "sum(CASE WHEN c.total_cost_nd IS NULL THEN 1 ELSE 0 END) AS unpriced_calls, "
                "sum(CASE WHEN c.estimated THEN 1 ELSE 0 END) AS estimated_calls "
                "FROM periods p JOIN costs c ON c.agent_id = :agent AND c.timestamp >= p.lo AND c.timestamp < p.hi"
            )
        query = text(cte + sql + " GROUP BY p.i").bindparams(*params)
        found = {row.i: _figures(row) for row in session.execute(query).all()}
    empty = {
        "calls": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "cost": 0.0,
        "cost_nd": 0,
        "unpriced_calls": 0,
        "estimated_calls": 0,
    }
    return [{"period": label, **found.get(i, empty)} for i, (label, _) in enumerate(periods)]


def ledger_row(cost: Cost, agent_name: str | None) -> dict[str, Any]:
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
        "input_cost": to_usd(cost.input_cost_nd),
        "output_cost": to_usd(cost.output_cost_nd),
        "total_cost": to_usd(cost.total_cost_nd),
        "price_input_per_mtok": to_usd(cost.price_input_nd),
        "price_output_per_mtok": to_usd(cost.price_output_nd),
        "price_cache_read_per_mtok": to_usd(cost.price_cache_read_nd),
        "price_cache_write_per_mtok": to_usd(cost.price_cache_write_nd),
        "response_ms": cost.response_ms,
        "channel": cost.channel,
        "endpoint": cost.endpoint,
        "estimated": cost.estimated,
    }


def list_costs(
    store: Store, window: Window, agent: str | None = None, model: str | None = None, limit: int | None = 50
) -> list[dict[str, Any]]:
    window.check()
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    with store.read() as session:
        query = select(Cost, col(Agent.name)).outerjoin(Agent, col(Agent.id) == col(Cost.agent_id))
        if agent is not None:
            query = query.where(col(Cost.agent_id) == agents.ledger_agent_id(session, agent))
        if model is not None:
            query = query.where(col(Cost.model) == model)
        if window.since is not None:
            query = query.where(col(Cost.timestamp) >= window.since)
        if window.until is not None:
            query = query.where(col(Cost.timestamp) < window.until)
        query = query.order_by(col(Cost.timestamp).desc(), col(Cost.id).desc())
        if limit:
            query = query.limit(limit)
        return [ledger_row(cost, name) for cost, name in session.execute(query).all()]


def get_cost(store: Store, cost_id: int) -> dict[str, Any]:
    with store.read() as session:
        found = session.execute(
            select(Cost, col(Agent.name))
            .outerjoin(Agent, col(Agent.id) == col(Cost.agent_id))
            .where(col(Cost.id) == cost_id)
        ).first()
    if found is None:
        from agentik_cli.errors import NotFound

        raise NotFound(f"no ledger row {cost_id}")
    return ledger_row(*found)
