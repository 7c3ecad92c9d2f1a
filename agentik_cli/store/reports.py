"""The cost reports' queries. Each is one SQL aggregate: over the maintained totals (cost_totals per
agent, model, provider and user; cost_buckets per quarter hour) where the question allows, else over
an index range of the ledger. No report loads the ledger's rows into Python. Money comes back as
integer nano-dollars."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, literal, select, text
from sqlalchemy.dialects.sqlite.base import SQLiteCompiler
from sqlmodel import Session, col

from agentik_cli.records import for_output
from agentik_cli.records import ledger_row as ledger_row_json
from agentik_cli.store.models import SUM_COLUMNS, Agent, Cost, CostBucket, CostTotal

NO_AGENT = "(no agent)"


def _sqlite_from_hint(compiler: Any, table: Any, text: str | None) -> str | None:
    return text


# SQLAlchemy's SQLite compiler drops FROM hints (get_from_hint_text returns None for every table),
# so `with_hint(..., "INDEXED BY ...", "sqlite")` rendered nothing and the windowed reports walked
# the whole ledger in GROUP BY order: SQLite takes `table INDEXED BY index` as MySQL takes its hints.
SQLiteCompiler.get_from_hint_text = _sqlite_from_hint  # type: ignore[method-assign,assignment]


@dataclass(frozen=True)
class Figures:
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_nd: int = 0
    unpriced_calls: int = 0
    # calls whose tokens agentik counted itself (the provider's usage never arrived)
    estimated_calls: int = 0
    # calls whose provider reported more than their worst case (recorded as reported)
    over_limit_calls: int = 0

    @classmethod
    def of(cls, row: Any) -> Figures:
        return cls(*(int(getattr(row, name) or 0) for name in SUM_COLUMNS))

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def _sums(table: Any) -> list[Any]:
    return [func.coalesce(func.sum(getattr(table, name)), 0).label(name) for name in SUM_COLUMNS]


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
        func.count().filter(c.over_limit).label("over_limit_calls"),
    ]


def bucket_figures(session: Session, since: datetime, until: datetime | None = None) -> Figures:
    query = select(*_sums(CostBucket)).where(col(CostBucket.start) >= since)
    if until is not None:
        query = query.where(col(CostBucket.start) < until)
    return Figures.of(session.execute(query).one())


def model_totals(session: Session) -> list[tuple[str, str, Figures]]:
    """(model, provider, figures) of every model, largest cost first."""
    t: Any = CostTotal
    rows = session.execute(
        select(t.model, t.provider, *_sums(CostTotal))
        .group_by(t.model, t.provider)
        .order_by(func.sum(t.cost_nd).desc(), t.model)
    ).all()
    return [(row.model, row.provider, Figures.of(row)) for row in rows]


# the keys of each grouping, as they appear in its rows
KEYS = {"agent": ("agent", "agent_id"), "model": ("model", "provider"), "provider": ("provider",), "user": ("user",)}


def breakdown(
    session: Session, by: str, since: datetime | None = None, until: datetime | None = None
) -> list[tuple[dict[str, Any], Figures]]:
    """Spend grouped by agent, model, provider or user: from the maintained totals without a time
    window; with one, one aggregate over the ledger's index range."""
    windowed = since is not None or until is not None
    source: Any = Cost if windowed else CostTotal
    agent_id = source.agent_id if windowed else source.agent_key
    agent_name = func.coalesce(col(Agent.name), source.agent_name, literal(NO_AGENT))
    keys = {
        # live_id: the agent's id while it exists (None once removed), to tell a removed agent's rows
        # from a live one's of the same name
        "agent": [agent_name.label("agent"), agent_id.label("agent_id"), col(Agent.id).label("live_id")],
        "model": [source.model, source.provider],
        "provider": [source.provider],
        "user": [source.user_name.label("user")],
    }[by]
    query: Select = select(*keys, *(_ledger_sums() if windowed else _sums(CostTotal)))
    if since is not None:
        # left to itself, SQLite walks the whole ledger in GROUP BY order (ix_costs_by_model)
        # instead of the time range
        query = query.where(source.timestamp >= since).with_hint(
            Cost.__table__,  # type: ignore[attr-defined]
            "INDEXED BY ix_costs_by_timestamp",
            "sqlite",
        )
    if until is not None:
        query = query.where(source.timestamp < until)
    if by == "agent":
        query = query.outerjoin(Agent, col(Agent.id) == agent_id).group_by(agent_id, agent_name, col(Agent.id))
    else:
        query = query.group_by(*keys)
    result = []
    for row in session.execute(query).all():
        figures = Figures.of(row)
        if figures.calls:
            named = {key: getattr(row, key) for key in KEYS[by]}
            if by == "agent":
                if not named["agent_id"]:
                    named["agent_id"] = None
                named["removed"] = named["agent_id"] is not None and row.live_id is None
            result.append((named, figures))
    result.sort(key=lambda pair: (-pair[1].cost_nd, -pair[1].calls))
    return result


def history(
    session: Session, bounds: list[tuple[int, datetime, datetime]], agent_id: int | None = None
) -> dict[int, Figures]:
    """Figures per period (index, UTC start, UTC end), in one query: the periods are a VALUES list
    joined to the quarter-hour buckets (or, for one agent, to that agent's range of the ledger)."""
    stamp = CostBucket.__table__.c.start.type  # type: ignore[attr-defined]
    params = [
        bindparam(f"{name}{i}", value, type_=stamp if name != "i" else None)
        for i, lo, hi in bounds
        for name, value in (("i", i), ("lo", lo), ("hi", hi))
    ]
    rows_sql = ", ".join(f"(:i{i}, :lo{i}, :hi{i})" for i, _, _ in bounds)
    # the periods as a VALUES list in a CTE (SQLite and PostgreSQL both read it), joined to the data
    cte = f"WITH periods (i, lo, hi) AS (VALUES {rows_sql}) "
    if agent_id is None:
        sums = ", ".join(f"coalesce(sum(b.{n}), 0) AS {n}" for n in SUM_COLUMNS)
        sql = f"SELECT p.i AS i, {sums} FROM periods p JOIN cost_buckets b ON b.start >= p.lo AND b.start < p.hi"
    else:
        params.append(bindparam("agent", agent_id))
        sql = (
            "SELECT p.i AS i, count(*) AS calls, sum(c.input_tokens) AS input_tokens, sum(c.output_tokens) AS "
            "output_tokens, sum(c.cache_read_tokens) AS cache_read_tokens, sum(c.cache_write_tokens) AS "
            "cache_write_tokens, coalesce(sum(c.total_cost_nd), 0) AS cost_nd, "
            "sum(CASE WHEN c.total_cost_nd IS NULL THEN 1 ELSE 0 END) AS unpriced_calls, "
            "sum(CASE WHEN c.estimated THEN 1 ELSE 0 END) AS estimated_calls, "
            "sum(CASE WHEN c.over_limit THEN 1 ELSE 0 END) AS over_limit_calls "
            "FROM periods p JOIN costs c ON c.agent_id = :agent AND c.timestamp >= p.lo AND c.timestamp < p.hi"
        )
    query = text(cte + sql + " GROUP BY p.i").bindparams(*params)
    return {int(row.i): Figures.of(row) for row in session.execute(query).all()}


@dataclass(frozen=True)
class LedgerRow:
    cost: Cost
    # the agent's name now, when it still exists (the row keeps the name it had)
    agent_name: str | None


def ledger_rows(
    session: Session,
    since: datetime | None = None,
    until: datetime | None = None,
    agent_id: int | None = None,
    model: str | None = None,
    limit: int | None = 50,
) -> list[LedgerRow]:
    """Raw ledger rows, newest first (ix_costs_by_timestamp)."""
    query = select(Cost, col(Agent.name)).outerjoin(Agent, col(Agent.id) == col(Cost.agent_id))
    if agent_id is not None:
        query = query.where(col(Cost.agent_id) == agent_id)
    if model is not None:
        query = query.where(col(Cost.model) == model)
    if since is not None:
        query = query.where(col(Cost.timestamp) >= since)
    if until is not None:
        query = query.where(col(Cost.timestamp) < until)
    query = query.order_by(col(Cost.timestamp).desc(), col(Cost.id).desc())
    if limit:
        query = query.limit(limit)
    return [LedgerRow(cost, name) for cost, name in session.execute(query).all()]


def ledger_row(session: Session, cost_id: int) -> LedgerRow | None:
    found = session.execute(
        select(Cost, col(Agent.name))
        .outerjoin(Agent, col(Agent.id) == col(Cost.agent_id))
        .where(col(Cost.id) == cost_id)
    ).first()
    return LedgerRow(*found) if found is not None else None


def cost_data(cost_id: int) -> Callable[[Session], dict[str, Any]]:
    """What a cost.recorded event carries: the ledger row as `--json` gives it, read as its unit ends."""

    def read(session: Session) -> dict[str, Any]:
        found = ledger_row(session, cost_id)
        assert found is not None
        return for_output(ledger_row_json(found.cost, found.agent_name))

    return read
