"""The cost reports' queries. Each is one SQL aggregate: over the maintained totals (cost_totals per
agent, model, provider and user; cost_buckets per quarter hour) where the question allows, else over
an index range of the ledger. No report loads the ledger's rows into Python. Everything returned is
a plain value: counts and money as integers (nano-dollars), times as datetimes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal, select, text
from sqlmodel import Session

from agentik_cli.store.ledger import AGENTS, BUCKETS, COSTS, TOTALS, ledger_sums
from agentik_cli.store.sql import SUM_COLUMNS

# what each grouping is keyed by: its labels, and the columns of cost_totals and of the ledger they
# come from ("agent" is resolved to the agent's current name)
GROUPS = {
    "agent": ("agent",),
    "model": ("model", "provider"),
    "provider": ("provider",),
    "user": ("user",),
}


@dataclass(frozen=True)
class Figures:
    """The sums of a set of ledger rows (cost of the priced calls; unpriced ones counted apart)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_nd: int = 0
    unpriced_calls: int = 0
    # calls whose tokens agentik counted itself (the provider's usage never arrived)
    estimated_calls: int = 0

    @classmethod
    def of(cls, row: Any) -> Figures:
        return cls(*(int(getattr(row, name) or 0) for name in SUM_COLUMNS))

    def __add__(self, other: Figures) -> Figures:
        return Figures(*(getattr(self, n) + getattr(other, n) for n in SUM_COLUMNS))


@dataclass(frozen=True)
class Line:
    """One line of a breakdown: its labels (agent, model and provider, provider or user) and sums."""

    labels: dict[str, str]
    figures: Figures


def _summed(table: Any) -> list[Any]:
    return [func.coalesce(func.sum(table.c[name]), 0).label(name) for name in SUM_COLUMNS]


def bucket_figures(session: Session, since: datetime, until: datetime | None = None) -> Figures:
    query = select(*_summed(BUCKETS)).where(BUCKETS.c.start >= since)
    if until is not None:
        query = query.where(BUCKETS.c.start < until)
    return Figures.of(session.execute(query).one())


def _labels(by: str, source: Any, agent_id: Any) -> tuple[list[Any], list[Any]]:
    """(the labelled key columns, what to group by) of a grouping over cost_totals or the ledger."""
    c = source.c
    if by == "agent":
        name = func.coalesce(AGENTS.c.name, func.max(c.agent_name), literal("(no agent)")).label("agent")
        return [name], [agent_id, AGENTS.c.name]
    if by == "user":
        return [c.user_name.label("user")], [c.user_name]
    keys = [c[name] for name in GROUPS[by]]
    return keys, keys


def _lines(session: Session, by: str, query: Any) -> list[Line]:
    lines = []
    for row in session.execute(query).all():
        figures = Figures.of(row)
        if figures.calls:
            lines.append(Line({name: getattr(row, name) for name in GROUPS[by]}, figures))
    lines.sort(key=lambda line: (-line.figures.cost_nd, -line.figures.calls))
    return lines


def totals_by(session: Session, by: str) -> list[Line]:
    """The whole ledger grouped by `by`, from the maintained totals (a few hundred rows), largest
    cost first."""
    keys, group = _labels(by, TOTALS, TOTALS.c.agent_key)
    query = select(*keys, *_summed(TOTALS))
    if by == "agent":
        query = query.outerjoin(AGENTS, AGENTS.c.id == TOTALS.c.agent_key)
    return _lines(session, by, query.group_by(*group))


def ledger_by(session: Session, by: str, since: datetime | None, until: datetime | None) -> list[Line]:
    """A time window of the ledger grouped by `by`, in one aggregate over an index range."""
    c = COSTS.c
    keys, group = _labels(by, COSTS, c.agent_id)
    query = select(*keys, *ledger_sums())
    if by == "agent":
        query = query.outerjoin(AGENTS, AGENTS.c.id == c.agent_id)
    if since is not None:
        # left to itself, SQLite walks the whole ledger in GROUP BY order (ix_costs_by_model, or
        # ix_costs_by_user_and_timestamp) instead of the time range
        query = query.where(c.timestamp >= since).with_hint(COSTS, "INDEXED BY ix_costs_by_timestamp", "sqlite")
    if until is not None:
        query = query.where(c.timestamp < until)
    return _lines(session, by, query.group_by(*group))


def history(
    session: Session, bounds: list[tuple[int, datetime, datetime]], agent_id: int | None = None
) -> dict[int, Figures]:
    """The sums of each period (i, start, end), in one query: the periods, a VALUES list, joined to
    the quarter-hour buckets (or, for one agent, to that agent's range of the ledger index)."""
    stamp = BUCKETS.c.start.type
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
            "sum(CASE WHEN c.estimated THEN 1 ELSE 0 END) AS estimated_calls "
            'FROM periods p JOIN costs c ON c.agent_id = :agent AND c."timestamp" >= p.lo AND c."timestamp" < p.hi'
        )
    query = text(cte + sql + " GROUP BY p.i").bindparams(*params)
    return {row.i: Figures.of(row) for row in session.execute(query).all()}


# the ledger's columns as `costs list` gives them, plus the agent's current name
def _ledger_query() -> Any:
    return select(COSTS, AGENTS.c.name.label("current_agent_name")).outerjoin(AGENTS, AGENTS.c.id == COSTS.c.agent_id)


def _plain(row: Any) -> dict[str, Any]:
    found = dict(row._mapping)
    current = found.pop("current_agent_name")
    found["agent"] = current or found["agent_name"]
    return found


def cost_rows(
    session: Session,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    agent_id: int | None = None,
    model: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Ledger rows, newest first: every column (money in nano-dollars) and `agent`, the name it
    reports under."""
    c = COSTS.c
    query = _ledger_query()
    if agent_id is not None:
        query = query.where(c.agent_id == agent_id)
    if model is not None:
        query = query.where(c.model == model)
    if since is not None:
        query = query.where(c.timestamp >= since)
    if until is not None:
        query = query.where(c.timestamp < until)
    query = query.order_by(c.timestamp.desc(), c.id.desc())
    if limit:
        query = query.limit(limit)
    return [_plain(row) for row in session.execute(query).all()]


def cost_row(session: Session, cost_id: int) -> dict[str, Any] | None:
    found = session.execute(_ledger_query().where(COSTS.c.id == cost_id)).first()
    return _plain(found) if found is not None else None
