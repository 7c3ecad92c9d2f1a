"""The ledger's writes: cost rows, the messages and sessions a reply touches, and the running totals.

The running totals (cost_totals per agent, model, provider and user; cost_buckets per quarter hour;
each session's tokens and cost) are moved by one rule, `move_totals`: whatever set of ledger rows is
added or removed, the same grouped aggregate of exactly those rows is added to or taken off every
total, in the transaction that writes or deletes them. Adding a reply, recording a call, importing a
million rows and cleaning up old ones all go through it, so the totals always equal the ledger; a
session's, which keep what its calls cost when `costs cleanup` removes their rows, equal it until then."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, delete, func, insert, literal, literal_column, select, update
from sqlmodel import Session

from agentik_cli.store import dialect
from agentik_cli.store.models import Agent, ChatSession, Cost, CostBucket, CostTotal, Message, Setting, ToolCallRecord
from agentik_cli.store.sql import SUM_COLUMNS

__all__ = ["SUM_COLUMNS", "TOTALS_KEY", "Removed", "Where", "move_totals"]

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


def move_totals(session: Session, where: Where, sign: int) -> None:
    """THE rule for the running totals: add (sign 1) or take off (sign -1) the ledger rows matching
    `where` to every total that holds them. Called after rows are inserted, or before they are
    deleted, in the same transaction."""
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
    if sign < 0:
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


# ---- adding ----


def add_costs(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ledger rows and move every total by them. Returns their ids, in order."""
    if not rows:
        return []
    ids = list(session.execute(insert(COSTS).returning(COSTS.c.id, sort_by_parameter_order=True), rows).scalars())
    for first in range(0, len(ids), IDS_PER_STATEMENT):
        move_totals(session, COSTS.c.id.in_(ids[first : first + IDS_PER_STATEMENT]), 1)
    return ids


def call_stored(session: Session, key: str) -> bool:
    return session.execute(select(COSTS.c.id).where(COSTS.c.call_key == key).limit(1)).first() is not None


# ---- removing ----


@dataclass(frozen=True)
class Removed:
    rows: int
    cost_nd: int
    unpriced_calls: int


def count_costs(session: Session, where: Where) -> Removed:
    """How many ledger rows match, their priced cost and their unpriced calls."""
    c = COSTS.c
    rows, cost_nd, unpriced = session.execute(
        select(
            func.count(), func.coalesce(func.sum(c.total_cost_nd), 0), func.count().filter(c.total_cost_nd.is_(None))
        ).where(where)
    ).one()
    return Removed(int(rows), int(cost_nd), int(unpriced))


def remove_costs(session: Session, where: Where) -> Removed:
    """Delete the ledger rows matching `where`, every total moved down by them first. The count, the
    totals and the delete see the same rows (the ledger is locked)."""
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


def open_session(session: Session, *, agent_id: int, title: str, channel: str, now: datetime) -> int:
    """A new chat session, counted on its agent."""
    sid = session.execute(
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
    session.execute(update(AGENTS).where(AGENTS.c.id == agent_id).values(stat_sessions=AGENTS.c.stat_sessions + 1))
    return int(sid)


def session_exists(session: Session, session_id: int) -> bool:
    """Whether the session is there, locked until the transaction ends (on PostgreSQL; SQLite's
    write transaction holds the whole file), so that a removal cannot slip in before a write."""
    query = select(literal(1)).where(SESSIONS.c.id == session_id).with_for_update()
    return session.execute(query).first() is not None


def add_tool_calls(session: Session, message_id: int, runs: list[dict[str, Any]], now: datetime, user: str) -> bool:
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
            "skill": run["skill"],
            "tool": run["tool"],
            "arguments": run["arguments"],
            "decision": run["decision"],
            "status": run["status"],
            "duration_ms": run["duration_ms"],
            "output": run["output"],
            "truncated": run["truncated"],
            "error": run["error"],
            "started_at": now,
            "user_name": user,
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


def add_message(session: Session, values: dict[str, Any]) -> int:
    """A message, counted on its session and agent (a reply's response time too)."""
    row = {"attachments": [], "skills_used": [], "interrupted": False, **values}
    message_id = session.execute(insert(MESSAGES).values(**row).returning(MESSAGES.c.id)).scalar_one()
    count_message(session, row["agent_id"], row["session_id"], row["timestamp"], row.get("response_ms"))
    return int(message_id)


def count_message(
    session: Session, agent_id: int, session_id: int, now: datetime, response_ms: int | None = None
) -> None:
    session.execute(
        update(SESSIONS)
        .where(SESSIONS.c.id == session_id)
        .values(message_count=SESSIONS.c.message_count + 1, last_message_at=now)
    )
    a = AGENTS.c
    counts: dict[str, Any] = {"stat_messages": a.stat_messages + 1, "last_active_at": now}
    if response_ms is not None:
        counts.update(stat_response_ms=a.stat_response_ms + response_ms, stat_responses=a.stat_responses + 1)
    session.execute(update(AGENTS).where(a.id == agent_id).values(**counts))


def uncount(session: Session, agent_id: int, *, sessions: int, messages: int, response_ms: int, responses: int) -> None:
    """Removed sessions' or messages' part of their agent's counters (what open_session and
    add_message added): the counters follow what exists. Their cost rows stay, and so do the totals
    they moved."""
    a = AGENTS.c
    session.execute(
        update(AGENTS)
        .where(a.id == agent_id)
        .values(
            stat_sessions=a.stat_sessions - sessions,
            stat_messages=a.stat_messages - messages,
            stat_response_ms=a.stat_response_ms - response_ms,
            stat_responses=a.stat_responses - responses,
        )
    )


def set_message_error(session: Session, message_id: int, error: str) -> None:
    session.execute(update(MESSAGES).where(MESSAGES.c.id == message_id).values(error=error))


# ---- the journal's bookkeeping ----


def read_setting(session: Session, key: str) -> str | None:
    found = session.get(Setting, key)
    return found.value if found is not None else None


def write_setting(session: Session, key: str, value: str) -> None:
    session.merge(Setting(key=key, value=value))
