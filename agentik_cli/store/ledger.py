"""The ledger's writes, each inside a unit of work (store/unit.py, the transaction): cost rows, the
messages and sessions a reply touches, and the running totals. Every function here takes the unit,
writes through its session, stamps rows with its time and user, and emits the change's event.

The running totals (cost_totals per agent, model, provider and user; cost_buckets per quarter hour;
each session's tokens and cost) are moved by one rule, `move_totals`: whatever set of ledger rows is
added or removed, the same grouped aggregate of exactly those rows is added to or taken off every
total, in the transaction that writes or deletes them. Adding a reply, recording a call, importing a
million rows and cleaning up old ones all go through it, so the totals always equal the ledger; a
session's, which keep what its calls cost when `costs cleanup` removes their rows, equal it until then."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ColumnElement, delete, func, insert, literal, literal_column, select, update
from sqlmodel import Session

from agentik_cli.store import dialect, reports, sessions
from agentik_cli.store.models import (
    SUM_COLUMNS,
    Agent,
    ChatSession,
    Cost,
    CostBucket,
    CostTotal,
    Message,
    Setting,
    ToolCallRecord,
)

if TYPE_CHECKING:
    from agentik_cli.store.unit import Unit
    from agentik_cli.values import ReplyRecord

__all__ = ["SUM_COLUMNS", "TOTALS_KEY", "Where", "move_totals"]

COSTS: Any = Cost.__table__  # type: ignore[attr-defined]
TOTALS: Any = CostTotal.__table__  # type: ignore[attr-defined]
BUCKETS: Any = CostBucket.__table__  # type: ignore[attr-defined]
SESSIONS: Any = ChatSession.__table__  # type: ignore[attr-defined]
AGENTS: Any = Agent.__table__  # type: ignore[attr-defined]
MESSAGES: Any = Message.__table__  # type: ignore[attr-defined]
TOOL_CALLS: Any = ToolCallRecord.__table__  # type: ignore[attr-defined]

# the key of a cost_totals row
TOTALS_KEY = ("agent_key", "model", "provider", "user_name")
# a big IN list is split: SQLite takes at most 32,766 bound parameters a statement
IDS_PER_STATEMENT = 5000

Where = ColumnElement[bool]


def quarter_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


def ledger_sums(sign: int = 1) -> list[Any]:
    """The sums of the ledger rows in a query, in SUM_COLUMNS order, labelled by column, negated for a
    removal."""
    c = COSTS.c
    sums = [
        func.count(),
        func.coalesce(func.sum(c.input_tokens), 0),
        func.coalesce(func.sum(c.output_tokens), 0),
        func.coalesce(func.sum(c.cache_read_tokens), 0),
        func.coalesce(func.sum(c.cache_write_tokens), 0),
        func.coalesce(func.sum(c.total_cost_nd), 0),
        func.count().filter(c.total_cost_nd.is_(None)),
        func.count().filter(c.estimated),
        func.count().filter(c.over_limit),
    ]
    return [(s if sign > 0 else -s).label(name) for s, name in zip(sums, SUM_COLUMNS, strict=True)]


def move_totals(session: Session, where: Where, sign: int, *, sessions: bool = True) -> None:
    """THE rule for the running totals: add (sign 1) or take off (sign -1) the ledger rows matching
    `where` to every total that holds them. Called after rows are inserted, or before they are
    deleted, in the same transaction. `sessions=False` leaves the sessions' sums alone (a copy
    recounts the sessions it brings, whose rows arrive with their sums: store/copying)."""
    c = COSTS.c
    sums = ledger_sums(sign)

    # the 0 inline: PostgreSQL takes two bound zeros (SELECT and GROUP BY) for different expressions
    key = [func.coalesce(c.agent_id, literal_column("0")), c.model, c.provider, c.user_name]
    rows = select(*key, func.max(c.agent_name), *sums).where(where).group_by(*key)
    stmt = dialect.insert(session, TOTALS).from_select([*TOTALS_KEY, "agent_name", *SUM_COLUMNS], rows)
    moved = {name: TOTALS.c[name] + stmt.excluded[name] for name in SUM_COLUMNS}
    if sign > 0:  # the ledger reports under the name of the latest row (an agent renamed since keeps its rows)
        moved["agent_name"] = stmt.excluded.agent_name
    session.execute(stmt.on_conflict_do_update(index_elements=list(TOTALS_KEY), set_=moved))

    start: Any = literal_column(dialect.quarter_hour_sql(session, '"timestamp"'))
    rows = select(start, *sums).where(where).group_by(start)
    stmt = dialect.insert(session, BUCKETS).from_select(["start", *SUM_COLUMNS], rows)
    moved = {name: BUCKETS.c[name] + stmt.excluded[name] for name in SUM_COLUMNS}
    session.execute(stmt.on_conflict_do_update(index_elements=["start"], set_=moved))

    # A session's tokens and cost are what its calls cost as they were made (a removed session's rows
    # have none), the sum of its messages' own costs. Rows added move them; rows removed do not: the
    # only removal is `costs cleanup`, which removes ledger rows only (the contract; sessions have
    # their own `remove`) and leaves the messages' costs, so lowering the session would show totals
    # that disagree with its messages (issue 21). The agents' and the reports' totals follow the
    # ledger, cleaned-up rows and all.
    if sign < 0 or not sessions:
        return
    by_session = (
        select(c.session_id, *sums).where(where, c.session_id.is_not(None)).group_by(c.session_id).subquery("moved")
    )
    s = SESSIONS.c
    session.execute(
        update(SESSIONS)
        .where(s.id == by_session.c.session_id)
        .values(
            input_tokens=s.input_tokens + by_session.c.input_tokens,
            output_tokens=s.output_tokens + by_session.c.output_tokens,
            cost_nd=s.cost_nd + by_session.c.cost_nd,
            unpriced_calls=s.unpriced_calls + by_session.c.unpriced_calls,
        )
    )


def lock_ledger(session: Session) -> None:
    """Keep other writers off the ledger until this transaction ends, so that a count, the totals
    moved and the rows written or deleted are the same rows. On SQLite every write transaction
    already holds the database's write lock (BEGIN IMMEDIATE); on PostgreSQL the table lock lets
    readers on and makes other writers of cost rows wait."""
    if dialect.is_postgres(session):
        session.connection().exec_driver_sql("LOCK TABLE costs IN SHARE ROW EXCLUSIVE MODE")


# ---- cost rows ----


def add_costs(unit: Unit, rows: list[dict[str, Any]]) -> list[int]:
    """Ledger rows, with cost_totals, cost_buckets and their sessions' totals moved by them. A row
    that does not say who made the call is the unit's user's. Returns their ids, in order."""
    if not rows:
        return []
    for row in rows:
        row.setdefault("user_name", unit.user)
    session = unit.session
    ids = list(session.execute(insert(COSTS).returning(COSTS.c.id, sort_by_parameter_order=True), rows).scalars())
    for first in range(0, len(ids), IDS_PER_STATEMENT):
        move_totals(session, COSTS.c.id.in_(ids[first : first + IDS_PER_STATEMENT]), 1)
    for cost_id, row in zip(ids, rows, strict=True):
        unit.emit("cost.recorded", reports.cost_data(cost_id), row.get("agent_id"))
    return ids


def call_stored(unit: Unit, key: str) -> bool:
    """Whether the ledger has the cost row of the call with this journal key."""
    query = select(COSTS.c.id).where(COSTS.c.call_key == key).limit(1)
    return unit.session.execute(query).first() is not None


# ---- removing ----


@dataclass(frozen=True)
class CostRows:
    """How many ledger rows, their priced cost and their unpriced calls (what a cleanup takes)."""

    rows: int
    cost_nd: int
    unpriced_calls: int


def count_costs(session: Session, where: Where) -> CostRows:
    """How many ledger rows match, their priced cost and their unpriced calls."""
    c = COSTS.c
    rows, cost_nd, unpriced = session.execute(
        select(
            func.count(), func.coalesce(func.sum(c.total_cost_nd), 0), func.count().filter(c.total_cost_nd.is_(None))
        ).where(where)
    ).one()
    return CostRows(int(rows), int(cost_nd), int(unpriced))


def remove_costs(unit: Unit, where: Where) -> CostRows:
    """Delete the ledger rows matching `where`, every total moved down by them first. The count, the
    totals and the delete see the same rows (the ledger is locked). Returns what went."""
    session = unit.session
    lock_ledger(session)
    removed = count_costs(session, where)
    if removed.rows:
        move_totals(session, where, -1)
        session.execute(delete(COSTS).where(where))
        # a quarter hour with nothing left in it is no bucket at all
        session.execute(delete(BUCKETS).where(BUCKETS.c.calls == 0))
    return removed


def older_than(cutoff: datetime) -> Where:
    return COSTS.c.timestamp < cutoff


# ---- messages and sessions ----


def open_session(unit: Unit, agent_id: int, title: str, channel: str, at: datetime | None = None) -> int:
    """A new chat session, counted on its agent, started now (or `at`: an imported one, when its
    first record was)."""
    now = at or unit.now
    sid = unit.session.execute(
        insert(SESSIONS)
        .values(
            agent_id=agent_id,
            title=title,
            channel=channel,
            started_at=now,
            last_message_at=now,
            message_count=0,
            input_tokens=0,
            output_tokens=0,
            cost_nd=0,
            unpriced_calls=0,
        )
        .returning(SESSIONS.c.id)
    ).scalar_one()
    unit.session.execute(update(AGENTS).where(AGENTS.c.id == agent_id).values(stat_sessions=AGENTS.c.stat_sessions + 1))
    unit.emit("session.created", sessions.session_data(sid), agent_id, f"session:{sid}")
    return int(sid)


def has_session(unit: Unit, session_id: int) -> bool:
    """Whether the session is there, locked until the unit ends (on PostgreSQL; SQLite's write
    transaction holds the whole file), so that a removal cannot slip in before a write."""
    query = select(literal(1)).where(SESSIONS.c.id == session_id).with_for_update()
    return unit.session.execute(query).first() is not None


def add_message(unit: Unit, **values: Any) -> int:
    """A message (the unit's time and user unless given), counted on its session and agent (a
    reply's response time too)."""
    row = {
        "attachments": [],
        "skills_used": [],
        "interrupted": False,
        "timestamp": unit.now,
        "user_name": unit.user,
        **values,
    }
    message_id = unit.session.execute(insert(MESSAGES).values(**row).returning(MESSAGES.c.id)).scalar_one()
    count_message(unit, row["agent_id"], row["session_id"], row["timestamp"], row.get("response_ms"))
    unit.emit("message.created", sessions.message_data(message_id), row["agent_id"], f"message:{message_id}")
    return int(message_id)


def add_reply(unit: Unit, reply: ReplyRecord) -> int | None:
    """The assistant's reply and its cost row. A reply whose session was removed meanwhile (a
    journal replayed late) keeps only its cost row: the money was spent. Returns the message id."""
    row = asdict(reply.cost)
    if row["user_name"] is None:  # a record journaled by an agentik from before users were recorded
        row["user_name"] = unit.user
    message_id = None
    if has_session(unit, reply.session_id):
        message_id = add_message(
            unit,
            agent_id=reply.agent_id,
            session_id=reply.session_id,
            channel=reply.channel,
            role="assistant",
            content=reply.content,
            timestamp=row["timestamp"],
            model=row["model"],
            input_tokens=row["input_tokens"],
            output_tokens=row["output_tokens"],
            tokens_used=row["total_tokens"],
            cost_nd=row["total_cost_nd"],
            response_ms=row["response_ms"],
            error=reply.error,
            interrupted=reply.interrupted,
            user_name=row["user_name"],
            parts=reply.parts,
        )
    else:
        row["session_id"] = None
    row["conversation_id"] = message_id
    add_costs(unit, [row])
    return message_id


def count_message(
    unit: Unit, agent_id: int, session_id: int, now: datetime | None = None, response_ms: int | None = None
) -> None:
    """One more message on its session and agent, at `now` (the unit's time unless given)."""
    now = now or unit.now
    unit.session.execute(
        update(SESSIONS)
        .where(SESSIONS.c.id == session_id)
        .values(message_count=SESSIONS.c.message_count + 1, last_message_at=now)
    )
    a = AGENTS.c
    counts: dict[str, Any] = {"stat_messages": a.stat_messages + 1, "last_active_at": now}
    if response_ms is not None:
        counts.update(stat_response_ms=a.stat_response_ms + response_ms, stat_responses=a.stat_responses + 1)
    unit.session.execute(update(AGENTS).where(a.id == agent_id).values(**counts))


def uncount(unit: Unit, agent_id: int, *, sessions: int, messages: int, response_ms: int, responses: int) -> None:
    """Removed sessions' or messages' part of their agent's counters (what open_session and
    add_message added): the counters follow what exists. Their cost rows stay, and so do the totals
    they moved."""
    a = AGENTS.c
    unit.session.execute(
        update(AGENTS)
        .where(a.id == agent_id)
        .values(
            stat_sessions=a.stat_sessions - sessions,
            stat_messages=a.stat_messages - messages,
            stat_response_ms=a.stat_response_ms - response_ms,
            stat_responses=a.stat_responses - responses,
        )
    )


def mark_failed(unit: Unit, message_id: int, error: str) -> None:
    unit.session.execute(update(MESSAGES).where(MESSAGES.c.id == message_id).values(error=error))


def add_tool_calls(unit: Unit, message_id: int, runs: list[dict[str, Any]]) -> bool:
    """The tool calls a message asked for, as run (ToolRun.to_json), and the message's skills_used.
    False when the message is gone (its session removed meanwhile)."""
    session = unit.session
    found = session.execute(
        select(MESSAGES.c.session_id, MESSAGES.c.agent_id, MESSAGES.c.skills_used)
        .where(MESSAGES.c.id == message_id)
        .with_for_update()
    ).first()
    if found is None:
        return False
    session_id, agent_id, used = found
    rows = [
        {
            "message_id": message_id,
            "session_id": session_id,
            "agent_id": agent_id,
            "call_id": run["id"],
            "position": position,
            **{key: run[key] for key in ("skill", "tool", "arguments", "decision", "status", "duration_ms")},
            **{key: run[key] for key in ("output", "truncated", "error")},
            "started_at": unit.now,
            "user_name": unit.user,
        }
        for position, run in enumerate(runs)
    ]
    if rows:
        session.execute(insert(TOOL_CALLS), rows)
    skills = list(used or [])
    for run in runs:
        if run["skill"] and run["status"] not in ("denied",) and run["skill"] not in skills:
            skills.append(run["skill"])
    session.execute(update(MESSAGES).where(MESSAGES.c.id == message_id).values(skills_used=skills))
    return True


# ---- settings the ledger keeps ----


def read_setting(unit: Unit, key: str) -> str | None:
    found = unit.session.get(Setting, key)
    return found.value if found is not None else None


def write_setting(unit: Unit, key: str, value: str) -> None:
    unit.session.merge(Setting(key=key, value=value))
