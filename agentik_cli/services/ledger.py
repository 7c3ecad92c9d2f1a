"""Writing conversations and the cost ledger. Every write is one short transaction that also moves
the running totals of the session and the agent (the seed's updateStats), so no report or stat
ever needs to scan messages."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session, col

from agentik_cli import environment
from agentik_cli.errors import StoreError
from agentik_cli.store.engine import Store, notify
from agentik_cli.store.models import Agent, ChatSession, Cost, CostBucket, CostTotal, Message, Setting
from agentik_cli.timeutil import now_utc
from agentik_cli.values import Priced, Usage

TITLE_LENGTH = 60


def make_title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


@dataclass
class CostEntry:
    """One row of the ledger, before it is written."""

    model: str
    provider: str
    usage: Usage
    priced: Priced | None = None
    # an explicit cost in nano-dollars (costs record --cost): split is unknown, all of it is "total"
    total_nd: int | None = None
    agent_id: int | None = None
    agent_name: str | None = None
    session_id: int | None = None
    conversation_id: int | None = None
    timestamp: datetime = field(default_factory=now_utc)
    response_ms: int | None = None
    channel: str | None = None
    endpoint: str | None = None
    user_name: str = field(default_factory=lambda: environment.current().user)

    def row(self) -> dict[str, Any]:
        usage, priced = self.usage, self.priced
        row: dict[str, Any] = {
            "agent_id": self.agent_id,
            "agent_name": self.agent_name,
            "session_id": self.session_id,
            "conversation_id": self.conversation_id,
            "model": self.model,
            "provider": self.provider,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "total_tokens": usage.total_tokens,
            "input_cost_nd": None,
            "output_cost_nd": None,
            "total_cost_nd": self.total_nd,
            "price_input_nd": None,
            "price_output_nd": None,
            "price_cache_read_nd": None,
            "price_cache_write_nd": None,
            "timestamp": self.timestamp,
            "response_ms": self.response_ms,
            "channel": self.channel,
            "endpoint": self.endpoint,
            "estimated": usage.estimated,
            "user_name": self.user_name,
        }
        if priced is not None and self.total_nd is None:
            row.update(
                input_cost_nd=priced.input_nd,
                output_cost_nd=priced.output_nd,
                total_cost_nd=priced.total_nd,
                **priced.prices.stored,
            )
        return row

    @property
    def cost_nd(self) -> int | None:
        if self.total_nd is not None:
            return self.total_nd
        return self.priced.total_nd if self.priced is not None else None


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


# the key of a cost_totals row
TOTALS_KEY = ("agent_key", "model", "provider", "user_name")


def quarter_hour(moment: datetime) -> datetime:
    moment = moment.astimezone(UTC)
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


def _dialect_insert(session: Session) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert
    from sqlalchemy.dialects import sqlite

    return sqlite.insert


def _add_sums(session: Session, model: Any, keys: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    """Add each row's sums to the aggregate row with its keys (an upsert, executed for many rows)."""
    if not rows:
        return
    table = model.__table__
    stmt = _dialect_insert(session)(table)
    updates = {column: table.c[column] + stmt.excluded[column] for column in SUM_COLUMNS}
    if "agent_name" in table.c:
        updates["agent_name"] = stmt.excluded["agent_name"]
    session.execute(stmt.on_conflict_do_update(index_elements=list(keys), set_=updates), rows)


class Aggregates:
    """What a set of new ledger rows adds to the maintained aggregates (cost_totals, cost_buckets).
    Summing is plain Python and can run apart from the database; `apply` writes the sums."""

    def __init__(self) -> None:
        self.totals: dict[tuple[int, str, str, str], dict[str, Any]] = {}
        self.buckets: dict[datetime, dict[str, Any]] = {}

    def add(self, rows: list[dict[str, Any]]) -> Aggregates:
        for row in rows:
            cost = row["total_cost_nd"]
            sums = (
                1,
                row["input_tokens"],
                row["output_tokens"],
                row["cache_read_tokens"],
                row["cache_write_tokens"],
                cost or 0,
                1 if cost is None else 0,
                1 if row.get("estimated") else 0,
            )
            key = (row["agent_id"] or 0, row["model"], row["provider"], row["user_name"])
            total = self.totals.get(key)
            if total is None:
                total = self.totals[key] = {
                    "agent_key": key[0],
                    "model": key[1],
                    "provider": key[2],
                    "user_name": key[3],
                    "agent_name": row["agent_name"],
                    **dict.fromkeys(SUM_COLUMNS, 0),
                }
            start = quarter_hour(row["timestamp"])
            bucket = self.buckets.get(start)
            if bucket is None:
                bucket = self.buckets[start] = {"start": start, **dict.fromkeys(SUM_COLUMNS, 0)}
            for column, value in zip(SUM_COLUMNS, sums, strict=True):
                total[column] += value
                bucket[column] += value
        return self

    def apply(self, session: Session) -> None:
        _add_sums(session, CostTotal, TOTALS_KEY, list(self.totals.values()))
        _add_sums(session, CostBucket, ("start",), list(self.buckets.values()))


def write_cost(session: Session, entry: CostEntry) -> int:
    """Insert one ledger row and move the aggregates, inside the caller's transaction."""
    return write_cost_row(session, entry.row())


def write_cost_row(session: Session, row: dict[str, Any]) -> int:
    cost_id = session.execute(insert(Cost).values(**row).returning(col(Cost.id))).scalar_one()
    Aggregates().add([row]).apply(session)
    return cost_id


def subtract_from_aggregates(session: Session, condition: Any) -> None:
    """Before ledger rows matching `condition` are deleted: take their sums off cost_totals and off
    their sessions' totals, with grouped SQL aggregates (buckets are deleted whole by the caller)."""
    c: Any = Cost  # the class's columns, untyped: SQLModel types them as the Python values
    grouped = session.execute(
        select(
            func.coalesce(c.agent_id, 0).label("agent_key"),
            c.model,
            c.provider,
            c.user_name,
            func.max(c.agent_name).label("agent_name"),
            func.count().label("calls"),
            func.sum(c.input_tokens).label("input_tokens"),
            func.sum(c.output_tokens).label("output_tokens"),
            func.sum(c.cache_read_tokens).label("cache_read_tokens"),
            func.sum(c.cache_write_tokens).label("cache_write_tokens"),
            func.coalesce(func.sum(c.total_cost_nd), 0).label("cost_nd"),
            func.count().filter(c.total_cost_nd.is_(None)).label("unpriced_calls"),
            func.count().filter(c.estimated).label("estimated_calls"),
        )
        .where(condition)
        .group_by(func.coalesce(c.agent_id, 0), c.model, c.provider, c.user_name)
    ).all()
    rows = []
    for g in grouped:
        row = {
            "agent_key": g.agent_key,
            "model": g.model,
            "provider": g.provider,
            "user_name": g.user_name,
            "agent_name": g.agent_name,
        }
        row.update({column: -int(getattr(g, column)) for column in SUM_COLUMNS})
        rows.append(row)
    _add_sums(session, CostTotal, TOTALS_KEY, rows)
    # a session's tokens and cost are its rows of the ledger too (the session and its messages stay)
    for g in session.execute(
        select(
            c.session_id,
            func.sum(c.input_tokens).label("input_tokens"),
            func.sum(c.output_tokens).label("output_tokens"),
            func.coalesce(func.sum(c.total_cost_nd), 0).label("cost_nd"),
            func.count().filter(c.total_cost_nd.is_(None)).label("unpriced_calls"),
        )
        .where(condition, c.session_id.is_not(None))
        .group_by(c.session_id)
    ).all():
        session.execute(
            update(ChatSession)
            .where(col(ChatSession.id) == g.session_id)
            .values(
                input_tokens=col(ChatSession.input_tokens) - int(g.input_tokens),
                output_tokens=col(ChatSession.output_tokens) - int(g.output_tokens),
                cost_nd=col(ChatSession.cost_nd) - int(g.cost_nd),
                unpriced_calls=col(ChatSession.unpriced_calls) - int(g.unpriced_calls),
            )
        )


class BulkWriter:
    """Many ledger rows in the caller's transaction (an import). On SQLite the rows go in with one
    executemany a batch, and the aggregates are summed once, by SQL over the rows written, at
    `finish` (summing a million rows in Python or batch by batch costs a fifth of the import);
    elsewhere through Core, summed a batch at a time."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.sqlite = session.get_bind().dialect.name == "sqlite"
        self.after = (
            session.execute(select(func.coalesce(func.max(col(Cost.id)), 0))).scalar_one() if self.sqlite else 0
        )

    def add(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        # keys that no row of the batch sets are left to their NULL default
        used = [key for key in rows[0] if any(row[key] is not None for row in rows)]
        if len(used) < len(rows[0]):
            rows = [{key: row[key] for key in used} for row in rows]
        if self.sqlite:
            executemany(self.session, Cost.__table__, used, rows)  # type: ignore[attr-defined]
        else:
            self.session.execute(insert(Cost.__table__), rows)  # type: ignore[attr-defined]
            Aggregates().add(rows).apply(self.session)

    def finish(self) -> None:
        if self.sqlite:
            _sum_new_rows_sqlite(self.session, self.after)


def executemany(session: Session, table: Any, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """An INSERT compiled by SQLAlchemy from the table, executed for many rows through the same
    connection with each column's own bind processor: what Core's executemany does, less its
    per-row bookkeeping (a third of the time of an import)."""
    conn = session.connection()
    dialect = conn.dialect
    statement = insert(table).compile(dialect=dialect, column_keys=keys)
    names = statement.positiontup
    if not names:  # a named paramstyle: let Core do it
        conn.execute(insert(table), rows)
        return
    processors = [
        (i, p) for i, name in enumerate(names) if (p := table.c[name].type._cached_bind_processor(dialect)) is not None
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


def _sum_new_rows_sqlite(session: Session, after: int) -> None:
    from agentik_cli.store.sql import QUARTER_HOUR_SQLITE, SUMS_SQL

    conn = session.connection()
    columns = ", ".join(SUM_COLUMNS)  # the order of SUMS_SQL
    updates = ", ".join(f"{c} = {c} + excluded.{c}" for c in SUM_COLUMNS)
    conn.exec_driver_sql(
        f"INSERT INTO cost_totals (agent_key, model, provider, user_name, agent_name, {columns}) "
        f"SELECT coalesce(agent_id, 0), model, provider, user_name, max(agent_name), {SUMS_SQL} FROM costs "
        "WHERE id > ? GROUP BY coalesce(agent_id, 0), model, provider, user_name "
        "ON CONFLICT (agent_key, model, provider, user_name) "
        f"DO UPDATE SET {updates}, agent_name = excluded.agent_name",
        (after,),
    )
    conn.exec_driver_sql(
        f"INSERT INTO cost_buckets (start, {columns}) SELECT {QUARTER_HOUR_SQLITE}, {SUMS_SQL} FROM costs "
        f"WHERE id > ? GROUP BY {QUARTER_HOUR_SQLITE} ON CONFLICT (start) DO UPDATE SET {updates}",
        (after,),
    )


def add_user_message(
    store: Store,
    *,
    agent_id: int,
    session_id: int | None,
    content: str,
    channel: str,
    attachments: list[dict[str, Any]] | None = None,
) -> tuple[int, int]:
    """Store the user's message (before the provider is called), opening a session when none is
    given. Returns (session_id, message_id)."""
    now = now_utc()

    def work(session: Session) -> tuple[int, int]:
        sid = session_id
        if sid is None:
            sid = session.execute(
                insert(ChatSession)
                .values(
                    agent_id=agent_id,
                    title=make_title(content),
                    channel=channel,
                    started_at=now,
                    last_message_at=now,
                    message_count=0,
                    input_tokens=0,
                    output_tokens=0,
                    cost_nd=0,
                    unpriced_calls=0,
                )
                .returning(col(ChatSession.id))
            ).scalar_one()
            session.execute(
                update(Agent).where(col(Agent.id) == agent_id).values(stat_sessions=col(Agent.stat_sessions) + 1)
            )
        message_id = session.execute(
            insert(Message)
            .values(
                agent_id=agent_id,
                session_id=sid,
                channel=channel,
                role="user",
                content=content,
                user_name=environment.current().user,
                timestamp=now,
                attachments=attachments or [],
                skills_used=[],
                interrupted=False,
            )
            .returning(col(Message.id))
        ).scalar_one()
        _count_message(session, agent_id, sid, now)
        return sid, message_id

    with store.write() as unit:

        session = unit.session
        return work(session)


def _count_message(session: Session, agent_id: int, session_id: int, now: datetime) -> None:
    session.execute(
        update(ChatSession)
        .where(col(ChatSession.id) == session_id)
        .values(message_count=col(ChatSession.message_count) + 1, last_message_at=now)
    )
    session.execute(
        update(Agent)
        .where(col(Agent.id) == agent_id)
        .values(stat_messages=col(Agent.stat_messages) + 1, last_active_at=now)
    )


def mark_failed(store: Store, message_id: int, error: str) -> None:
    """A user message whose call failed outright: kept in the log, not re-sent."""
    _keep(store, {"kind": "failed", "message_id": message_id, "error": error})


def add_reply(
    store: Store,
    *,
    agent_id: int,
    agent_name: str,
    session_id: int,
    content: str,
    channel: str,
    cost: CostEntry,
    error: str | None = None,
    interrupted: bool = False,
) -> int | None:
    """Store the assistant's reply (complete or cut short) with its cost row, moving the session's
    totals in the same transaction. The call was paid for, so the record is never lost: like every
    write it waits for the write lock as long as it takes (engine._on_sqlite_begin), and when the
    database cannot be written at all (a full disk, a read-only file) it is kept in a journal that
    the next agentik command stores. Returns the message id, or None when it went to the journal."""
    cost.agent_id, cost.agent_name, cost.session_id = agent_id, agent_name, session_id
    cost.timestamp = now_utc()
    record = {
        "kind": "reply",
        "agent_id": agent_id,
        "session_id": session_id,
        "content": content,
        "channel": channel,
        "error": error,
        "interrupted": interrupted,
        "cost": cost.row(),
    }
    return _keep(store, record)


def _keep(store: Store, record: dict[str, Any]) -> int | None:
    """Write a record of a call now; when the database cannot take it, into the journal."""
    try:
        with store.write() as unit:
            session = unit.session
            return _write(session, record)
    except StoreError as exc:
        from agentik_cli.services import journal

        try:
            path = journal.keep(store.url, record)
        except OSError as failure:
            raise StoreError(
                f"could not store the record of this call ({exc.message}), nor keep it in the journal ({failure})"
            ) from exc
        notify(
            f"could not write to the database ({exc.message}): the record of this call is kept in {path}, "
            "and the next agentik command stores it"
        )
        return None


def _write(session: Session, record: dict[str, Any]) -> int | None:
    if record["kind"] == "failed":
        session.execute(update(Message).where(col(Message.id) == record["message_id"]).values(error=record["error"]))
        return record["message_id"]
    row = dict(record["cost"])
    # a journal kept by an agentik from before users were recorded
    row.setdefault("user_name", environment.current().user)
    now = row["timestamp"]
    session_id, agent_id = record["session_id"], record["agent_id"]
    message_id = None
    # a replayed record whose session was removed meanwhile: the money was spent, the ledger keeps it
    if session.get(ChatSession, session_id) is not None:
        message_id = session.execute(
            insert(Message)
            .values(
                agent_id=agent_id,
                session_id=session_id,
                channel=record["channel"],
                role="assistant",
                content=record["content"],
                timestamp=now,
                model=row["model"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                tokens_used=row["total_tokens"],
                cost_nd=row["total_cost_nd"],
                response_ms=row["response_ms"],
                error=record["error"],
                interrupted=record["interrupted"],
                attachments=[],
                skills_used=[],
                user_name=row["user_name"],
            )
            .returning(col(Message.id))
        ).scalar_one()
        cost_nd = row["total_cost_nd"]
        session.execute(
            update(ChatSession)
            .where(col(ChatSession.id) == session_id)
            .values(
                input_tokens=col(ChatSession.input_tokens) + row["input_tokens"],
                output_tokens=col(ChatSession.output_tokens) + row["output_tokens"],
                cost_nd=col(ChatSession.cost_nd) + (cost_nd or 0),
                unpriced_calls=col(ChatSession.unpriced_calls) + (1 if cost_nd is None else 0),
            )
        )
        _count_message(session, agent_id, session_id, now)
        if row["response_ms"] is not None:
            session.execute(
                update(Agent)
                .where(col(Agent.id) == agent_id)
                .values(
                    stat_response_ms=col(Agent.stat_response_ms) + row["response_ms"],
                    stat_responses=col(Agent.stat_responses) + 1,
                )
            )
    else:
        row["session_id"] = None
    row["conversation_id"] = message_id
    write_cost_row(session, row)
    return message_id


JOURNAL_DONE = "journal_replayed"


def replay_journal(store: Store) -> int:
    """Store what earlier commands kept in the journal because the database could not take it: all
    of it in one transaction, which also notes the records' ids, so a replay cut short and run again
    never stores one twice. Returns how many records were stored."""
    from agentik_cli.services import journal

    if not journal.pending(store.url):
        return 0
    records, files = journal.take(store.url)

    def work(session: Session) -> int:
        done_setting = session.get(Setting, JOURNAL_DONE)
        done = json.loads(done_setting.value) if done_setting else []
        fresh = [r for r in records if r["id"] not in set(done)]
        for record in fresh:
            _write(session, record)
        # every id stored lately, not only this batch's: another process may still replay an older copy
        session.merge(Setting(key=JOURNAL_DONE, value=json.dumps((done + [r["id"] for r in fresh])[-5000:])))
        return len(fresh)

    stored = 0
    if records:
        try:
            with store.write() as unit:
                session = unit.session
                stored = work(session)
        except StoreError as exc:
            # the database still cannot take them: they stay in the journal, and this command goes on
            notify(f"the journal of unsaved records could not be stored yet ({exc.message}); it is kept")
            return 0
    for file in files:
        file.unlink(missing_ok=True)
    if stored:
        notify(f"stored {stored} record(s) kept in the journal when the database could not be written")
    return stored
