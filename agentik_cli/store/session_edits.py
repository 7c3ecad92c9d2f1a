"""A user's edits of a chat session: renaming it, removing it (services/sessions.py decides, this
module speaks SQL), each in the caller's unit of work.

Apart from store/sessions.py, whose reads the unit of work itself needs (the events of a new session
or message carry them: store/unit.py imports store/sessions.py), while these writes take a unit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlmodel import col

from agentik_cli.store import imports, ledger
from agentik_cli.store.models import ChatSession, Message
from agentik_cli.store.unit import Unit


def rename(unit: Unit, session_id: int, title: str) -> bool:
    """False when there is no such session."""
    result: Any = unit.session.execute(update(ChatSession).where(col(ChatSession.id) == session_id).values(title=title))
    return bool(result.rowcount)


@dataclass(frozen=True)
class RemovedSession:
    """A removed session, as it was when its removal's transaction took it."""

    id: int
    title: str
    agent_id: int
    messages: int


def remove(unit: Unit, session_id: int) -> RemovedSession | None:
    """The session and its messages go; the cost ledger keeps every row (session and message ids set
    to NULL), so the ledger's totals do not move. The agent's counts of sessions and messages drop,
    and so does its average response time: they follow what exists."""
    session = unit.session
    # locked on PostgreSQL (SQLite's write transaction holds the file): the counts taken from it
    # are those of what is removed, even while a chat adds to the session
    row = session.execute(
        select(ChatSession).where(col(ChatSession.id) == session_id).with_for_update()
    ).scalar_one_or_none()
    if row is None:
        return None
    response_ms, responses = session.execute(
        select(func.coalesce(func.sum(col(Message.response_ms)), 0), func.count(col(Message.response_ms))).where(
            col(Message.session_id) == session_id
        )
    ).one()
    imports.remember_removed(session, col(Message.session_id) == session_id)
    session.execute(delete(ChatSession).where(col(ChatSession.id) == session_id))
    ledger.uncount(
        unit,
        row.agent_id,
        sessions=1,
        messages=row.message_count,
        response_ms=int(response_ms),
        responses=int(responses),
    )
    assert row.id is not None
    return RemovedSession(row.id, row.title, row.agent_id, row.message_count)
