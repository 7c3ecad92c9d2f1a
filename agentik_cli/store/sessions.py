"""The sessions and messages tables: their reads (services/sessions.py and services/chat/ decide,
this module speaks SQL). A chat writes them through its unit of work (store/unit.py, store/ledger.py),
a user's rename or removal through store/session_edits.py. Reads return plain records: counts and
money as integers (nano-dollars), times as UTC datetimes; JSON is made at the output edge
(cli/sessions.py), and for the events of a new session or message, as their unit ends (the end of
this module).

Search differs by store, and the difference stays here: SQLite has an FTS5 table kept in step with
messages by triggers, ranked by bm25; PostgreSQL has a `search_vector` tsvector column with a GIN
index (migration of the PostgreSQL platform work), ranked by ts_rank."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlmodel import Session, col

from agentik_cli.records import placed_message_json, session_json
from agentik_cli.store import dialect
from agentik_cli.store.models import Agent, ChatSession, Cost, Message, ToolCallRecord

# Search ranks the newest matches: for a word in a million messages, ranking every match would
# scan them all; the newest SEARCH_WINDOW matches are ranked instead.
SEARCH_WINDOW = 2000


@dataclass(frozen=True)
class SessionRecord:
    id: int
    agent: str
    agent_id: int
    title: str
    channel: str
    messages: int
    input_tokens: int
    output_tokens: int
    cost_nd: int
    unpriced_calls: int
    estimated_calls: int
    over_limit_calls: int
    started_at: datetime
    last_message_at: datetime


@dataclass(frozen=True)
class MessageRecord:
    id: int
    session_id: int
    role: str
    content: str
    timestamp: datetime
    model: str | None
    input_tokens: int | None
    output_tokens: int | None
    cost_nd: int | None
    response_ms: int | None
    error: str | None
    interrupted: bool
    attachments: list[dict[str, Any]] = field(default_factory=list)
    skills_used: list[str] = field(default_factory=list)
    user: str = ""
    parts: list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    redacted: bool = False
    # where it was said: filled by the reads that span sessions (recent, search)
    agent: str = ""
    title: str = ""


def _message(
    row: Message, agent: str = "", title: str = "", tool_calls: list[dict[str, Any]] | None = None
) -> MessageRecord:
    assert row.id is not None
    return MessageRecord(
        id=row.id,
        session_id=row.session_id,
        role=row.role,
        content=row.content,
        timestamp=row.timestamp,
        model=row.model,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cost_nd=row.cost_nd,
        response_ms=row.response_ms,
        error=row.error,
        interrupted=bool(row.interrupted),
        attachments=list(row.attachments or []),
        skills_used=list(row.skills_used or []),
        user=row.user_name,
        parts=row.parts,
        tool_calls=tool_calls or [],
        redacted=bool(row.redacted),
        agent=agent,
        title=title,
    )


def tool_calls(session: Session, session_id: int) -> dict[int, list[dict[str, Any]]]:
    """The tool calls of a session's messages, by message id, in the order the model asked for them."""
    return _tool_calls_where(session, col(ToolCallRecord.session_id) == session_id)


def _tool_calls_where(session: Session, condition: Any) -> dict[int, list[dict[str, Any]]]:
    t: Any = ToolCallRecord
    rows = session.execute(select(t).where(condition).order_by(t.message_id, t.position)).scalars()
    found: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        found.setdefault(row.message_id, []).append(
            {
                "id": row.call_id,
                "skill": row.skill,
                "tool": row.tool,
                "arguments": row.arguments,
                "decision": row.decision,
                "status": row.status,
                "duration_ms": row.duration_ms,
                "output": row.output,
                "truncated": bool(row.truncated),
                "error": row.error,
            }
        )
    return found


def _marked_calls(session: Session, ids: list[int]) -> dict[int, tuple[int, int]]:
    """Per session, its calls whose usage agentik counted itself and those the provider reported
    beyond their worst case: the ledger's rows of these sessions only (found through the partial
    index on costs.session_id)."""
    if not ids:
        return {}
    c: Any = Cost
    query = (
        select(c.session_id, func.count().filter(c.estimated), func.count().filter(c.over_limit))
        .where(c.session_id.in_(ids), c.estimated.is_(True) | c.over_limit.is_(True))
        .group_by(c.session_id)
    )
    return {int(sid): (int(estimated), int(over)) for sid, estimated, over in session.execute(query).all()}


def _records(session: Session, rows: list[tuple[ChatSession, str]]) -> list[SessionRecord]:
    marked = _marked_calls(session, [row.id for row, _ in rows if row.id is not None])
    records = []
    for row, agent in rows:
        assert row.id is not None
        records.append(
            SessionRecord(
                id=row.id,
                agent=agent,
                agent_id=row.agent_id,
                title=row.title,
                channel=row.channel,
                messages=row.message_count,
                input_tokens=row.input_tokens,
                output_tokens=row.output_tokens,
                cost_nd=row.cost_nd,
                unpriced_calls=row.unpriced_calls,
                estimated_calls=marked.get(row.id, (0, 0))[0],
                over_limit_calls=marked.get(row.id, (0, 0))[1],
                started_at=row.started_at,
                last_message_at=row.last_message_at,
            )
        )
    return records


def _with_agent() -> Any:
    return select(ChatSession, col(Agent.name)).join(Agent, col(Agent.id) == col(ChatSession.agent_id))


def listing(
    session: Session, agent_id: int | None, channel: str | None, since: datetime | None, limit: int | None
) -> list[SessionRecord]:
    """Sessions, most recently active first, with their totals (never a scan of messages)."""
    query = _with_agent()
    if agent_id is not None:
        query = query.where(col(ChatSession.agent_id) == agent_id)
    if channel is not None:
        query = query.where(col(ChatSession.channel) == channel)
    if since is not None:
        query = query.where(col(ChatSession.last_message_at) >= since)
    query = query.order_by(col(ChatSession.last_message_at).desc(), col(ChatSession.id).desc())
    if limit:
        query = query.limit(limit)
    return _records(session, [(row, name) for row, name in session.execute(query).all()])


def one(session: Session, session_id: int) -> SessionRecord | None:
    found = session.execute(_with_agent().where(col(ChatSession.id) == session_id)).first()
    if found is None:
        return None
    row, name = found
    return _records(session, [(row, name)])[0]


def messages(session: Session, session_id: int) -> list[MessageRecord]:
    rows = session.execute(
        select(Message).where(col(Message.session_id) == session_id).order_by(col(Message.id))
    ).scalars()
    calls = tool_calls(session, session_id)
    return [_message(m, tool_calls=calls.get(m.id or 0)) for m in rows]


def _messages_where(session: Session, *conditions: Any, order: Any = None, limit: int | None = None) -> list[Any]:
    query = (
        select(Message, col(Agent.name), col(ChatSession.title))
        .join(Agent, col(Agent.id) == col(Message.agent_id))
        .join(ChatSession, col(ChatSession.id) == col(Message.session_id))
        .where(*conditions)
    )
    if order is not None:
        query = query.order_by(*order)
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).all())


def recent(session: Session, limit: int) -> list[MessageRecord]:
    """The latest messages across all sessions."""
    rows = _messages_where(session, order=(col(Message.timestamp).desc(), col(Message.id).desc()), limit=limit)
    return [_message(m, name, title) for m, name, title in rows]


def _placed(session: Session, rows: list[Any]) -> list[MessageRecord]:
    ids = [m.id for m, _, _ in rows]
    calls = _tool_calls_where(session, col(ToolCallRecord.message_id).in_(ids)) if ids else {}
    return [_message(m, name, title, calls.get(m.id)) for m, name, title in rows]


def message(session: Session, message_id: int) -> MessageRecord:
    """One message, with where it was said and its tool calls."""
    return _placed(session, _messages_where(session, col(Message.id) == message_id))[0]


def last_messages(session: Session, agent_id: int | None, count: int) -> list[MessageRecord]:
    """The newest `count` messages (of one agent's sessions), oldest first."""
    conditions = [] if agent_id is None else [col(Message.agent_id) == agent_id]
    rows = _messages_where(session, *conditions, order=(col(Message.id).desc(),), limit=count)
    return _placed(session, rows[::-1])


def messages_after(session: Session, after_id: int, agent_id: int | None, limit: int) -> list[MessageRecord]:
    """Messages stored after message `after_id` (ids only grow), oldest first."""
    conditions = [col(Message.id) > after_id] + ([] if agent_id is None else [col(Message.agent_id) == agent_id])
    return _placed(session, _messages_where(session, *conditions, order=(col(Message.id),), limit=limit))


@dataclass(frozen=True)
class History:
    role: str
    content: str
    error: str | None
    attachments: list[dict[str, Any]]
    parts: list[dict[str, Any]] | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)


def history(session: Session, session_id: int) -> list[History]:
    rows = session.execute(
        select(
            col(Message.id),
            col(Message.role),
            col(Message.content),
            col(Message.error),
            col(Message.attachments),
            col(Message.parts),
        )
        .where(col(Message.session_id) == session_id)
        .order_by(col(Message.id))
    ).all()
    calls = tool_calls(session, session_id)
    return [
        History(role, content, error, list(attachments or []), parts, calls.get(mid, []))
        for mid, role, content, error, attachments, parts in rows
    ]


def latest_id(session: Session, agent_id: int) -> int | None:
    """The agent's most recently active session."""
    return session.execute(
        select(col(ChatSession.id))
        .where(col(ChatSession.agent_id) == agent_id)
        .order_by(col(ChatSession.last_message_at).desc(), col(ChatSession.id).desc())
        .limit(1)
    ).scalar_one_or_none()


def get(session: Session, session_id: int) -> ChatSession | None:
    return session.get(ChatSession, session_id)


# ---- search ----


def _fts5_query(words: list[str]) -> str:
    """Each word quoted, so that FTS5 syntax in what a person typed is only ever text."""
    return " ".join(f'"{w}"' for w in words)


def search(session: Session, words: list[str], agent_id: int | None, limit: int) -> list[MessageRecord]:
    """Messages holding every one of `words`, best first (see the module's docstring)."""
    if dialect.is_postgres(session):
        ids = _search_postgres(session, " ".join(words), agent_id, limit)
    else:
        ids = _search_sqlite(session, words, agent_id, limit)
    if not ids:
        return []
    rows = {m.id: (m, name, title) for m, name, title in _messages_where(session, col(Message.id).in_(ids))}
    return [_message(*rows[message_id]) for message_id in ids if message_id in rows]


def _search_sqlite(session: Session, words: list[str], agent_id: int | None, limit: int) -> list[int]:
    # the newest matches first (FTS5 walks rowids backwards without sorting), ranked by bm25
    # (lower is better); each word quoted, so that FTS5 syntax in what a person typed is only text
    window = text(
        "SELECT rowid AS id, bm25(messages_fts) AS score FROM messages_fts WHERE messages_fts MATCH :q "
        + ("AND rowid IN (SELECT id FROM messages WHERE agent_id = :agent) " if agent_id else "")
        + "ORDER BY rowid DESC LIMIT :window"
    )
    params: dict[str, Any] = {"q": " ".join(f'"{w}"' for w in words), "window": SEARCH_WINDOW}
    if agent_id:
        params["agent"] = agent_id
    ranked = list(session.execute(window, params).all())
    ranked.sort(key=lambda r: (r.score, -r.id))
    return [int(r.id) for r in ranked[:limit]]


def _search_postgres(session: Session, words: str, agent_id: int | None, limit: int) -> list[int]:
    # The GIN index on search_vector finds the matches; the newest SEARCH_WINDOW of them are ranked
    # by ts_rank (higher is better), as SQLite ranks its window by bm25. plainto_tsquery reads the
    # words as plain words: nothing typed can be tsquery syntax.
    window = text(
        f"SELECT id, ts_rank({dialect.SEARCH_COLUMN}, q) AS score "
        f"FROM messages, plainto_tsquery('{dialect.SEARCH_CONFIG}', :q) AS q WHERE {dialect.SEARCH_COLUMN} @@ q "
        + ("AND agent_id = :agent " if agent_id else "")
        + "ORDER BY id DESC LIMIT :window"
    )
    params: dict[str, Any] = {"q": words, "window": SEARCH_WINDOW}
    if agent_id:
        params["agent"] = agent_id
    ranked = list(session.execute(window, params).all())
    ranked.sort(key=lambda r: (-r.score, -r.id))
    return [int(r.id) for r in ranked[:limit]]


@dataclass(frozen=True)
class Totals:
    messages: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nd: int = 0
    unpriced_calls: int = 0


def totals(session: Session, session_id: int) -> Totals:
    row = session.get(ChatSession, session_id)
    if row is None:
        return Totals()
    return Totals(row.message_count, row.input_tokens, row.output_tokens, row.cost_nd, row.unpriced_calls)


# ---- what the sessions' and messages' events carry: the records as `--json` gives them ----


def session_data(session_id: int) -> Callable[[Session], dict[str, Any]]:
    """The session as the unit that opened it ends (Unit.emit)."""

    def read(session: Session) -> dict[str, Any]:
        found = one(session, session_id)
        assert found is not None
        return session_json(found)

    return read


def message_data(message_id: int) -> Callable[[Session], dict[str, Any]]:
    """The message, with where it was said and its tool calls, as the unit that added it ends."""
    return lambda session: placed_message_json(message(session, message_id))
