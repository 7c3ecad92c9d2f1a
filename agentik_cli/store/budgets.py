"""The budgets and reservations tables, and the sums a budget is checked against: the ledger's
cost in a period (the quarter-hour buckets for everything, the ledger's agent-and-time index for one
agent) and the reservations of calls in flight. Money in nano-dollars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import delete, func, select
from sqlmodel import Session, col

from agentik_cli.store import dialect
from agentik_cli.store.models import Agent, Budget, Cost, CostBucket, Reservation
from agentik_cli.store.unit import Unit

_BUDGETS: Any = cast(Any, Budget).__table__
_RESERVATIONS: Any = cast(Any, Reservation).__table__


@dataclass(frozen=True)
class BudgetRecord:
    scope_key: int  # 0: everything; else the agent's id
    period: str
    agent_name: str | None
    limit_nd: int
    warn_percent: int
    allow_unpriced: bool


def _records(session: Session, rows: list[Budget]) -> list[BudgetRecord]:
    """The budgets with their agents' names as they are now (a budget belongs to its agent by id:
    renamed, it follows; a budget left by an agent removed before budgets went with it is named so)."""
    keys = {row.scope_key for row in rows if row.scope_key}
    names: dict[int, str] = {}
    if keys:
        query = select(col(Agent.id), col(Agent.name)).where(col(Agent.id).in_(keys))
        names = {int(key): str(name) for key, name in session.execute(query).all()}
    return [
        BudgetRecord(
            row.scope_key,
            row.period,
            None if not row.scope_key else names.get(row.scope_key, f"{row.agent_name} (removed, id {row.scope_key})"),
            row.limit_nd,
            row.warn_percent,
            row.allow_unpriced,
        )
        for row in rows
    ]


def all_budgets(session: Session) -> list[BudgetRecord]:
    query = select(Budget).order_by(col(Budget.scope_key), col(Budget.period))
    return _records(session, list(session.execute(query).scalars()))


def applicable(session: Session, agent_id: int | None, *, lock: bool = False) -> list[BudgetRecord]:
    """The budgets over a call of this agent: the one over everything and the agent's own. `lock`
    holds their rows until the transaction ends (on PostgreSQL; SQLite's writer holds the file), so
    that two processes reserving at once take turns."""
    keys = [0] if agent_id is None else [0, agent_id]
    query = select(Budget).where(col(Budget.scope_key).in_(keys)).order_by(col(Budget.scope_key), col(Budget.period))
    if lock:
        query = query.with_for_update()
    return _records(session, list(session.execute(query).scalars()))


def put(unit: Unit, budget: BudgetRecord) -> None:
    values = {
        "scope_key": budget.scope_key,
        "period": budget.period,
        "agent_name": budget.agent_name,
        "limit_nd": budget.limit_nd,
        "warn_percent": budget.warn_percent,
        "allow_unpriced": budget.allow_unpriced,
        "set_by": unit.user,
        "updated_at": unit.now,
    }
    others = [k for k in values if k not in ("scope_key", "period")]
    dialect.upsert(unit.session, _BUDGETS, [values], ["scope_key", "period"], replace=others)


def remove(unit: Unit, scope_key: int, periods: list[str]) -> int:
    result: Any = unit.session.execute(
        delete(_BUDGETS).where(_BUDGETS.c.scope_key == scope_key, _BUDGETS.c.period.in_(periods))
    )
    return int(result.rowcount or 0)


def spent_and_reserved(session: Session, scope_key: int, since: datetime, live_since: datetime) -> tuple[int, int]:
    """The ledger's recorded cost since `since` (a local midnight: always a quarter hour), and the
    worst cases of calls in flight (reservations made since `live_since`: older ones were left by a
    process that died, and no longer count).

    One statement, so one snapshot: a call's cost is recorded and its reservation released in one
    transaction, and two statements on PostgreSQL (read committed) could fall either side of it
    and see neither, letting another call through."""
    spent: Any
    if scope_key == 0:
        spent = select(func.coalesce(func.sum(col(CostBucket.cost_nd)), 0)).where(col(CostBucket.start) >= since)
    else:
        spent = select(func.coalesce(func.sum(col(Cost.total_cost_nd)), 0)).where(
            col(Cost.agent_id) == scope_key, col(Cost.timestamp) >= since
        )
    reserved = select(func.coalesce(func.sum(col(Reservation.amount_nd)), 0)).where(
        col(Reservation.created_at) >= live_since
    )
    if scope_key != 0:
        reserved = reserved.where(col(Reservation.agent_id) == scope_key)
    row = session.execute(select(spent.scalar_subquery(), reserved.scalar_subquery())).one()
    return int(row[0]), int(row[1])


def reserve(unit: Unit, agent_id: int | None, amount_nd: int) -> int:
    row = {"agent_id": agent_id, "amount_nd": amount_nd, "created_at": unit.now, "user_name": unit.user}
    return int(unit.session.execute(_RESERVATIONS.insert().values(**row).returning(_RESERVATIONS.c.id)).scalar_one())


def release(unit: Unit, reservation_id: int) -> None:
    unit.session.execute(delete(_RESERVATIONS).where(_RESERVATIONS.c.id == reservation_id))


def expire(unit: Unit, before: datetime) -> None:
    unit.session.execute(delete(_RESERVATIONS).where(_RESERVATIONS.c.created_at < before))
