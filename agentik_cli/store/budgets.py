"""The budgets and reservations tables, and the sums a budget is checked against: the ledger's
cost in a period (the quarter-hour buckets for everything, the ledger's agent-and-time index for one
agent) and the reservations of calls in flight. Money in nano-dollars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import and_, delete, func, or_, select
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


@dataclass(frozen=True)
class Held:
    """A reservation, with the process that holds it."""

    id: int
    agent_id: int | None
    amount_nd: int
    created_at: datetime
    user_name: str
    host: str | None  # None: made by an agentik from before processes were named
    pid: int | None
    started: str | None
    heartbeat_at: datetime | None
    agent_name: str | None  # as the agent is called now; None for one removed since


def held(session: Session, agent_id: int | None = None) -> list[Held]:
    """The reservations (of one agent's calls, or of all), oldest first."""
    agents: Any = cast(Any, Agent).__table__
    query = (
        select(_RESERVATIONS, agents.c.name)
        .select_from(_RESERVATIONS.outerjoin(agents, agents.c.id == _RESERVATIONS.c.agent_id))
        .order_by(_RESERVATIONS.c.id)
    )
    if agent_id is not None:
        query = query.where(_RESERVATIONS.c.agent_id == agent_id)
    return [
        Held(
            int(r.id),
            r.agent_id,
            int(r.amount_nd),
            r.created_at,
            r.user_name,
            r.host,
            r.pid,
            r.started,
            r.heartbeat_at,
            r.name,
        )
        for r in session.execute(query).all()
    ]


def _seen(host: str, local: str) -> Any:
    """The reservations of processes this one can look at: this host's, in its pid namespace."""
    table = _RESERVATIONS.c
    return and_(
        table.host.is_not(None),
        table.host == host,
        table.started.is_not(None),
        table.started.startswith(local, autoescape=True),
    )


def on_host(session: Session, host: str, local: str) -> list[tuple[int, int, str]]:
    """The reservations of the processes this one can look at (`_seen`): (id, pid, start time)."""
    query = select(_RESERVATIONS.c.id, _RESERVATIONS.c.pid, _RESERVATIONS.c.started).where(_seen(host, local))
    return [(int(i), int(p or 0), str(s or "")) for i, p, s in session.execute(query).all()]


def spent_and_reserved(
    session: Session, scope_key: int, since: datetime, live: Any, gone: list[int]
) -> tuple[int, int]:
    """The ledger's recorded cost since `since` (a local midnight: always a quarter hour), and the
    worst cases of calls in flight: the reservations `live` admits (a condition from `lively`),
    but for those in `gone` (this host's processes that died).

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
    reserved = select(func.coalesce(func.sum(col(Reservation.amount_nd)), 0)).where(live)
    if gone:
        reserved = reserved.where(col(Reservation.id).not_in(gone))
    if scope_key != 0:
        reserved = reserved.where(col(Reservation.agent_id) == scope_key)
    row = session.execute(select(spent.scalar_subquery(), reserved.scalar_subquery())).one()
    return int(row[0]), int(row[1])


def lively(host: str, local: str, beaten_since: datetime, made_since: datetime) -> Any:
    """The reservations that may still be held by a running process: every one of the processes
    this one can look at (`_seen`: looked at one by one, `on_host`), another's whose heartbeat is
    recent, and one from before processes were named made recently."""
    table = _RESERVATIONS.c
    named = table.host.is_not(None)
    # every term true or false, never null: the condition is negated to release what it does not admit
    return or_(
        _seen(host, local),
        and_(named, table.heartbeat_at.is_not(None), table.heartbeat_at >= beaten_since),
        and_(table.host.is_(None), table.created_at >= made_since),
    )


def reserve(unit: Unit, agent_id: int | None, amount_nd: int, host: str, pid: int, started: str) -> int:
    row = {
        "agent_id": agent_id,
        "amount_nd": amount_nd,
        "created_at": unit.now,
        "user_name": unit.user,
        "host": host,
        "pid": pid,
        "started": started,
        "heartbeat_at": unit.now,
    }
    return int(unit.session.execute(_RESERVATIONS.insert().values(**row).returning(_RESERVATIONS.c.id)).scalar_one())


def beat(unit: Unit, reservation_id: int) -> None:
    unit.session.execute(
        _RESERVATIONS.update().where(_RESERVATIONS.c.id == reservation_id).values(heartbeat_at=unit.now)
    )


def release(unit: Unit, reservation_id: int) -> None:
    unit.session.execute(delete(_RESERVATIONS).where(_RESERVATIONS.c.id == reservation_id))


def release_all(unit: Unit, ids: list[int]) -> int:
    if not ids:
        return 0
    result: Any = unit.session.execute(delete(_RESERVATIONS).where(_RESERVATIONS.c.id.in_(ids)))
    return int(result.rowcount or 0)


def release_lapsed(unit: Unit, live: Any, gone: list[int]) -> int:
    """Release what no running process holds: this host's in `gone`, and whatever `live` does not admit."""
    condition = ~live
    if gone:
        condition = condition | _RESERVATIONS.c.id.in_(gone)
    result: Any = unit.session.execute(delete(_RESERVATIONS).where(condition))
    return int(result.rowcount or 0)
