"""The messages of an import (store/imports.py): written in bulk with the ids they get, the search
index filled in one statement, found again by their import keys, counted on their sessions and agent."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, select, update
from sqlmodel import Session

from agentik_cli.store import dialect
from agentik_cli.store.import_models import ImportRemoved
from agentik_cli.store.ledger import AGENTS, IDS_PER_STATEMENT, MESSAGES, SESSIONS

if TYPE_CHECKING:
    from agentik_cli.store.unit import Unit

REMOVED: Any = ImportRemoved.__table__  # type: ignore[attr-defined]


def message(unit: Unit, agent_id: int, channel: str, row: dict[str, Any], session_id: int, role: str) -> dict[str, Any]:
    """An imported record as a message row."""
    return {
        "agent_id": agent_id,
        "session_id": session_id,
        "channel": channel,
        "role": role,
        "content": row.get("content") or row.get("text") or "",
        "timestamp": row["timestamp"],
        "model": row.get("model"),
        "input_tokens": row.get("input_tokens"),
        "output_tokens": row.get("output_tokens"),
        "tokens_used": row.get("total_tokens"),
        "cost_nd": row.get("total_cost_nd"),
        "interrupted": False,
        "attachments": [],
        "skills_used": [],
        "user_name": row.get("user_name") or unit.user,
        "import_key": row.get("import_key") or row.get("call_key"),
    }


MESSAGE_COLUMNS = (
    *("agent_id", "session_id", "channel", "role", "content", "timestamp", "model", "input_tokens", "output_tokens"),
    *("tokens_used", "cost_nd", "interrupted", "attachments", "skills_used", "user_name", "import_key"),
)


def write(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Messages, in order; returns their ids. On SQLite through the driver, the ids given here: the
    unit's write transaction holds the database, so the next ids are this unit's (SQLAlchemy's
    RETURNING there costs a statement a row). On PostgreSQL, RETURNING in batches."""
    if dialect.is_postgres(session):
        query = insert(MESSAGES).returning(MESSAGES.c.id, sort_by_parameter_order=True)
        return list(session.execute(query, rows).scalars())
    driver: Any = session.connection().connection.driver_connection
    (last,) = driver.execute(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'messages'), 0),"
        " coalesce((SELECT max(id) FROM messages), 0))"
    ).fetchone()
    ids = list(range(last + 1, last + 1 + len(rows)))
    values = []
    for message_id, row in zip(ids, rows, strict=True):
        value = [row[name] for name in MESSAGE_COLUMNS]
        value[5] = row["timestamp"].isoformat(" ", "microseconds")[:26]  # as SQLAlchemy writes a UTC time
        value[11], value[12], value[13] = 0, "[]", "[]"
        values.append((message_id, *value))
    marks = ", ".join("?" * (len(MESSAGE_COLUMNS) + 1))
    found = driver.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?", (FTS_TRIGGER,)
    ).fetchone()
    if found is not None and len(rows) >= BULK_MESSAGES:
        # the search index filled in one statement after the rows, rather than by the trigger a row at
        # a time (four times faster); the trigger made again as it was, in the same transaction
        driver.execute(f'DROP TRIGGER "{FTS_TRIGGER}"')
    driver.executemany(f"INSERT INTO messages (id, {', '.join(MESSAGE_COLUMNS)}) VALUES ({marks})", values)
    if found is not None and len(rows) >= BULK_MESSAGES:
        driver.execute(
            "INSERT INTO messages_fts (rowid, content) SELECT id, content FROM messages WHERE id >= ?", (ids[0],)
        )
        driver.execute(found[0])
    return ids


# the trigger that keeps SQLite's search index (store/migrations.py), and from how many messages an
# import fills the index itself
FTS_TRIGGER = "messages_fts_insert"
BULK_MESSAGES = 1000


def fuller_text(session: Session, message_id: int, text: str) -> str:
    """The text of a call read again: the stored text and the new blocks, each once."""
    stored = session.execute(select(MESSAGES.c.content).where(MESSAGES.c.id == message_id)).scalar_one_or_none() or ""
    if not text or text in stored:
        return stored
    if not stored or stored in text:
        return text
    return f"{stored}\n\n{text}"


def stored(session: Session, keys: list[str], column: Any = MESSAGES.c.import_key) -> set[str]:
    """Which of these import keys a message holds (or, given REMOVED's column, which were removed)."""
    found: set[str] = set()
    for first in range(0, len(keys), IDS_PER_STATEMENT):
        chunk = keys[first : first + IDS_PER_STATEMENT]
        found.update(session.execute(select(column).where(column.in_(chunk))).scalars())
    return found


def new(session: Session, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages whose keys are neither stored nor removed since (and each key once)."""
    keys = [row["import_key"] for row in rows]
    stored_keys = stored(session, keys) | stored(session, keys, REMOVED.c.import_key)
    found = []
    for row in rows:
        if row["import_key"] not in stored_keys:
            stored_keys.add(row["import_key"])
            found.append(row)
    return found


def count(session: Session, agent_id: int, touched: dict[int, list[datetime]]) -> None:
    """New messages on their sessions and agent: counts, first and last times."""
    s, a = SESSIONS.c, AGENTS.c
    newest = None
    total = 0
    for session_id, times in touched.items():
        first, last = min(times), max(times)
        newest = last if newest is None else max(newest, last)
        total += len(times)
        session.execute(
            update(SESSIONS)
            .where(s.id == session_id)
            .values(
                message_count=s.message_count + len(times),
                last_message_at=dialect.greatest(session, s.last_message_at, last),
                started_at=dialect.least(session, s.started_at, first),
            )
        )
    if total:
        session.execute(
            update(AGENTS)
            .where(a.id == agent_id)
            .values(
                stat_messages=a.stat_messages + total,
                last_active_at=dialect.greatest(session, func.coalesce(a.last_active_at, newest), newest),
            )
        )
