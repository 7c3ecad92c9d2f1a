"""The cost ledger, the conversation log, and every running total the store keeps beside them.

The rule for the running totals is written once, in `move`: a set of ledger rows moves
cost_totals (per agent, model, provider and user), cost_buckets (per UTC quarter hour) and the
totals of the sessions they belong to, by + when they are written and by - when they are removed.
Every write that adds or removes ledger rows goes through `add_costs`, `BulkWriter` or
`remove_costs`, inside one Unit (one transaction), so the totals always equal the ledger."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import delete, func, insert, literal_column, select, update
from sqlmodel import Session, col

from agentik_cli.store import dialect
from agentik_cli.store.models import Agent, ChatSession, Cost, CostBucket, CostTotal, Message, Setting
from agentik_cli.store.unit import Unit

# the sums cost_totals and cost_buckets keep, in their column order
SUM_COLUMNS = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_nd",
    "unpriced_calls",
    "estimated_calls",
)
# the sums a session keeps of its own calls
SESSION_COLUMNS = ("input_tokens", "output_tokens", "cost_nd", "unpriced_calls")
TOTALS_KEY = ("agent_key", "model", "provider", "user_name")


def quarter_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


def _row_sums(row: dict[str, Any]) -> tuple[int, ...]:
    cost = row["total_cost_nd"]
    return (
        1,
        row["input_tokens"],
        row["output_tokens"],
        row["cache_read_tokens"],
        row["cache_write_tokens"],
        cost or 0,
        1 if cost is None else 0,
        1 if row.get("estimated") else 0,
    )


@dataclass
class Movement:
    """What a set of ledger rows adds to (or, negated, takes from) each running total."""

    totals: dict[tuple[Any, ...], dict[str, Any]]
    buckets: dict[datetime, dict[str, Any]]
    sessions: dict[int, dict[str, int]]

    @classmethod
    def of_rows(cls, rows: Iterable[dict[str, Any]]) -> Movement:
        """Summed in Python, for rows about to be written."""
        moved = cls({}, {}, {})
        for row in rows:
            sums = _row_sums(row)
            key = (row["agent_id"] or 0, row["model"], row["provider"], row["user_name"])
            total = moved.totals.get(key)
            if total is None:
                total = moved.totals[key] = dict(zip(TOTALS_KEY, key, strict=True))
                total["agent_name"] = row["agent_name"]
                total.update(dict.fromkeys(SUM_COLUMNS, 0))
            start = quarter_hour(row["timestamp"])
            bucket = moved.buckets.get(start)
            if bucket is None:
                bucket = moved.buckets[start] = {"start": start, **dict.fromkeys(SUM_COLUMNS, 0)}
            for column, value in zip(SUM_COLUMNS, sums, strict=True):
                total[column] += value
                bucket[column] += value
            if row.get("session_id") is not None:
                moved.sessions.setdefault(row["session_id"], dict.fromkeys(SESSION_COLUMNS, 0))
                for column in SESSION_COLUMNS:
                    moved.sessions[row["session_id"]][column] += (
                        row["total_cost_nd"] or 0
                        if column == "cost_nd"
                        else (1 if row["total_cost_nd"] is None else 0)
                        if column == "unpriced_calls"
                        else row[column]
                    )
        return moved

    @classmethod
    def of_ledger(cls, session: Session, where: Any) -> Movement:
        """Summed by SQL over the ledger rows that `where` selects, for rows about to be removed or
        written already (a bulk insert): grouped aggregates, never the rows themselves."""
        c: Any = Cost
        moved = cls({}, {}, {})
        sums = [
            func.count(),
            func.coalesce(func.sum(c.input_tokens), 0),
            func.coalesce(func.sum(c.output_tokens), 0),
            func.coalesce(func.sum(c.cache_read_tokens), 0),
            func.coalesce(func.sum(c.cache_write_tokens), 0),
            func.coalesce(func.sum(c.total_cost_nd), 0),
            func.count().filter(c.total_cost_nd.is_(None)),
            func.count().filter(c.estimated),
        ]
        # the 0 inline: PostgreSQL takes two bound zeros (SELECT and GROUP BY) for different expressions
        agent_key = func.coalesce(c.agent_id, literal_column("0"))
        keys = (agent_key, c.model, c.provider, c.user_name)
        for row in session.execute(select(*keys, func.max(c.agent_name), *sums).where(where).group_by(*keys)):
            total = dict(zip(TOTALS_KEY, row[:4], strict=True))
            total["agent_name"] = row[4]
            total.update(zip(SUM_COLUMNS, (int(v) for v in row[5:]), strict=True))
            moved.totals[tuple(row[:4])] = total
        quarter = literal_column(dialect.quarter_hour_sql(session), type_=CostBucket.__table__.c.start.type)  # type: ignore[attr-defined]
        for row in session.execute(select(quarter, *sums).where(where).group_by(quarter)):
            start = row[0].replace(tzinfo=UTC) if row[0].tzinfo is None else row[0].astimezone(UTC)
            moved.buckets[start] = {"start": start, **dict(zip(SUM_COLUMNS, (int(v) for v in row[1:]), strict=True))}
        for row in session.execute(
            select(c.session_id, *(sums[i] for i in (1, 2, 5, 6)))
            .where(where, c.session_id.is_not(None))
            .group_by(c.session_id)
        ):
            moved.sessions[int(row[0])] = dict(zip(SESSION_COLUMNS, (int(v) for v in row[1:]), strict=True))
        return moved

    def negated(self) -> Movement:
        def neg(sums: dict[str, Any], columns: tuple[str, ...]) -> dict[str, Any]:
            return {k: (-v if k in columns else v) for k, v in sums.items()}

        return Movement(
            {k: neg(v, SUM_COLUMNS) for k, v in self.totals.items()},
            {k: neg(v, SUM_COLUMNS) for k, v in self.buckets.items()},
            {k: neg(v, SESSION_COLUMNS) for k, v in self.sessions.items()},
        )


def move(session: Session, moved: Movement) -> None:
    """The one rule for the running totals: add a Movement to cost_totals, cost_buckets and the
    sessions' totals (upserts and in-place additions, so concurrent writers never lose an update)."""
    dialect.upsert(
        session, CostTotal, list(moved.totals.values()), TOTALS_KEY, add=SUM_COLUMNS, replace=("agent_name",)
    )
    dialect.upsert(session, CostBucket, list(moved.buckets.values()), ("start",), add=SUM_COLUMNS)
    for session_id, sums in moved.sessions.items():
        session.execute(
            update(ChatSession)
            .where(col(ChatSession.id) == session_id)
            .values({column: getattr(ChatSession, column) + sums[column] for column in SESSION_COLUMNS})
        )


def add_costs(unit: Unit, rows: list[dict[str, Any]]) -> list[int]:
    """Write ledger rows and move every running total by them. Returns their ids."""
    if not rows:
        return []
    session = unit.session
    ids = [session.execute(insert(Cost).values(**row).returning(col(Cost.id))).scalar_one() for row in rows]
    move(session, Movement.of_rows(rows))
    return ids


@dataclass(frozen=True)
class Removal:
    rows: int
    cost_nd: int
    unpriced_calls: int


def count_costs(session: Session, cutoff: datetime) -> Removal:
    c: Any = Cost
    rows, cost_nd, unpriced = session.execute(
        select(
            func.count(), func.coalesce(func.sum(c.total_cost_nd), 0), func.count().filter(c.total_cost_nd.is_(None))
        ).where(c.timestamp < cutoff)
    ).one()
    return Removal(int(rows), int(cost_nd), int(unpriced))


def remove_costs_before(unit: Unit, cutoff: datetime) -> Removal:
    """Remove the ledger rows older than `cutoff`, taking their sums off every running total first.
    The count is taken in the same transaction as the removal (on PostgreSQL the rows are locked), so
    it is what was removed, whatever other writers do meanwhile."""
    session = unit.session
    if dialect.is_postgres(session):
        session.execute(select(col(Cost.id)).where(col(Cost.timestamp) < cutoff).with_for_update())
    counted = count_costs(session, cutoff)
    if counted.rows:
        move(session, Movement.of_ledger(session, col(Cost.timestamp) < cutoff).negated())
        session.execute(delete(Cost).where(col(Cost.timestamp) < cutoff))
        # quarter hours now empty are dropped, so that the buckets hold what the ledger holds
        session.execute(delete(CostBucket).where(col(CostBucket.calls) == 0))
    return counted


# ---- bulk writes (an import) ----


class BulkWriter:
    """Many ledger rows in one Unit (an import). SQLite: one executemany a batch, the totals summed
    once by SQL over the rows written, at `finish` (summing in Python costs a fifth of the import).
    PostgreSQL: COPY a batch at a time, the totals summed in Python a batch at a time."""

    def __init__(self, unit: Unit) -> None:
        self.session = unit.session
        self.postgres = dialect.is_postgres(self.session)
        self.after = 0
        if not self.postgres:
            self.after = self.session.execute(select(func.coalesce(func.max(col(Cost.id)), 0))).scalar_one()
        self.columns = [column.name for column in Cost.__table__.columns if column.name != "id"]  # type: ignore[attr-defined]

    def add(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        if self.postgres:
            move(self.session, Movement.of_rows(rows))
            _copy(self.session, self.columns, rows)
            return
        # keys that no row of the batch sets are left to their NULL default
        used = [key for key in rows[0] if any(row[key] is not None for row in rows)]
        if len(used) < len(rows[0]):
            rows = [{key: row[key] for key in used} for row in rows]
        _executemany(self.session, Cost.__table__, used, rows)  # type: ignore[attr-defined]

    def finish(self) -> None:
        if not self.postgres:
            move(self.session, Movement.of_ledger(self.session, col(Cost.id) > self.after))


def _copy(session: Session, columns: list[str], rows: list[dict[str, Any]]) -> None:
    """COPY rows into costs (PostgreSQL): several times faster than INSERT for an import."""
    cursor: Any = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(columns)
    with cursor.copy(f"COPY costs ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([row.get(name, False if name == "estimated" else None) for name in columns])


def _executemany(session: Session, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """An INSERT compiled by SQLAlchemy from the table, executed for many rows through the same
    connection with each column's own bind processor: what Core's executemany does, less its
    per-row bookkeeping (a third of the time of an import)."""
    conn = session.connection()
    sql_dialect = conn.dialect
    statement = insert(table).compile(dialect=sql_dialect, column_keys=keys)
    names = statement.positiontup
    if not names:  # a named paramstyle: let Core do it
        conn.execute(insert(table), rows)
        return
    processors = [
        (i, p)
        for i, name in enumerate(names)
        if (p := table.c[name].type._cached_bind_processor(sql_dialect)) is not None
    ]
    take = itemgetter(*names)
    params: list[Any] = []
    append = params.append
    for row in rows:
        values = list(take(row)) if len(names) > 1 else [row[names[0]]]
        for i, process in processors:
            values[i] = process(values[i])
        append(tuple(values))
    conn.exec_driver_sql(str(statement), params)


# ---- the conversation log ----


def open_session(unit: Unit, *, agent_id: int, title: str, channel: str) -> int:
    session_id = unit.session.execute(
        insert(ChatSession)
        .values(
            agent_id=agent_id,
            title=title,
            channel=channel,
            started_at=unit.now,
            last_message_at=unit.now,
            message_count=0,
            input_tokens=0,
            output_tokens=0,
            cost_nd=0,
            unpriced_calls=0,
        )
        .returning(col(ChatSession.id))
    ).scalar_one()
    unit.session.execute(
        update(Agent).where(col(Agent.id) == agent_id).values(stat_sessions=col(Agent.stat_sessions) + 1)
    )
    return int(session_id)


def add_message(
    unit: Unit,
    *,
    agent_id: int,
    session_id: int,
    role: str,
    content: str,
    channel: str,
    timestamp: datetime,
    user_name: str,
    **fields: Any,
) -> int:
    """A message, counted on its session and its agent."""
    session = unit.session
    values = {
        "attachments": [],
        "skills_used": [],
        "interrupted": False,
        **fields,
    }
    message_id = session.execute(
        insert(Message)
        .values(
            agent_id=agent_id,
            session_id=session_id,
            channel=channel,
            role=role,
            content=content,
            timestamp=timestamp,
            user_name=user_name,
            **values,
        )
        .returning(col(Message.id))
    ).scalar_one()
    session.execute(
        update(ChatSession)
        .where(col(ChatSession.id) == session_id)
        .values(message_count=col(ChatSession.message_count) + 1, last_message_at=timestamp)
    )
    agent_values: dict[str, Any] = {"stat_messages": col(Agent.stat_messages) + 1, "last_active_at": timestamp}
    if fields.get("response_ms") is not None:
        agent_values["stat_response_ms"] = col(Agent.stat_response_ms) + fields["response_ms"]
        agent_values["stat_responses"] = col(Agent.stat_responses) + 1
    session.execute(update(Agent).where(col(Agent.id) == agent_id).values(agent_values))
    return int(message_id)


def uncount_session(unit: Unit, agent_id: int, *, messages: int, response_ms: int, responses: int) -> None:
    """A removed session's part of its agent's counters (what open_session and add_message added):
    the counters follow what exists. Its cost rows stay, and so do the totals they moved."""
    unit.session.execute(
        update(Agent)
        .where(col(Agent.id) == agent_id)
        .values(
            stat_sessions=col(Agent.stat_sessions) - 1,
            stat_messages=col(Agent.stat_messages) - messages,
            stat_response_ms=col(Agent.stat_response_ms) - response_ms,
            stat_responses=col(Agent.stat_responses) - responses,
        )
    )


def session_exists(unit: Unit, session_id: int) -> bool:
    """Whether the session is there, locked until the unit ends (on PostgreSQL; SQLite's write
    transaction holds the whole file), so that a removal cannot slip in before the write."""
    found = unit.session.execute(
        select(col(ChatSession.id)).where(col(ChatSession.id) == session_id).with_for_update()
    ).first()
    return found is not None


def mark_failed(unit: Unit, message_id: int, error: str) -> None:
    unit.session.execute(update(Message).where(col(Message.id) == message_id).values(error=error))


# ---- settings the ledger keeps ----


def get_setting(unit: Unit, key: str) -> Any:
    found = unit.session.get(Setting, key)
    return json.loads(found.value) if found is not None else None


def put_setting(unit: Unit, key: str, value: Any) -> None:
    unit.session.merge(Setting(key=key, value=json.dumps(value)))
