"""Sessions: listing (totals from the sessions table, never a scan of messages), recent messages,
full-text search (SQLite FTS5, kept in step with messages by triggers), rename, remove."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, text, update
from sqlmodel import col

from agentik_cli.errors import NotFound, UsageError
from agentik_cli.money import to_usd
from agentik_cli.services import agents
from agentik_cli.store import dialect
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, ChatSession, Message
from agentik_cli.timeutil import iso

# Search ranks the newest matches: for a word in a million messages, ranking every match would
# scan them all; the newest SEARCH_WINDOW matches are ranked by bm25 instead.
SEARCH_WINDOW = 2000


def _session_dict(row: ChatSession, agent_name: str) -> dict[str, Any]:
    return {
        "id": row.id,
        "agent": agent_name,
        "agent_id": row.agent_id,
        "title": row.title,
        "channel": row.channel,
        "messages": row.message_count,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "total_cost": to_usd(row.cost_nd),
        "unpriced_calls": row.unpriced_calls,
        "started_at": iso(row.started_at),
        "last_message_at": iso(row.last_message_at),
    }


def message_dict(row: Message) -> dict[str, Any]:
    return {
        "id": row.id,
        "role": row.role,
        "content": row.content,
        "timestamp": iso(row.timestamp),
        "model": row.model,
        "input_tokens": row.input_tokens,
        "output_tokens": row.output_tokens,
        "cost": to_usd(row.cost_nd),
        "response_ms": row.response_ms,
        "error": row.error,
        "interrupted": row.interrupted,
        "attachments": [{k: v for k, v in a.items() if k != "text"} for a in row.attachments or []],
        "skills_used": list(row.skills_used or []),
    }


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")


def list_sessions(
    store: Store,
    agent: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[dict[str, Any]]:
    _check_limit(limit)
    with store.read() as session:
        query = select(ChatSession, col(Agent.name)).join(Agent, col(Agent.id) == col(ChatSession.agent_id))
        if agent is not None:
            query = query.where(col(ChatSession.agent_id) == agents.resolve(session, agent).id)
        if channel is not None:
            query = query.where(col(ChatSession.channel) == channel)
        if since is not None:
            query = query.where(col(ChatSession.last_message_at) >= since)
        query = query.order_by(col(ChatSession.last_message_at).desc(), col(ChatSession.id).desc())
        if limit:
            query = query.limit(limit)
        return [_session_dict(row, name) for row, name in session.execute(query).all()]


def get_session(store: Store, session_id: int) -> dict[str, Any]:
    with store.read() as session:
        found = session.execute(
            select(ChatSession, col(Agent.name))
            .join(Agent, col(Agent.id) == col(ChatSession.agent_id))
            .where(col(ChatSession.id) == session_id)
        ).first()
        if found is None:
            raise NotFound(f"no session {session_id}", hint="`agentik sessions list` shows the sessions")
        row, name = found
        messages = session.execute(
            select(Message).where(col(Message.session_id) == session_id).order_by(col(Message.id))
        ).scalars()
        data = _session_dict(row, name)
        data["message_count"] = data["messages"]
        data["messages"] = [message_dict(m) for m in messages]
    return data


def recent(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    """The latest messages across all sessions (the seed's `recent`)."""
    _check_limit(limit)
    with store.read() as session:
        rows = session.execute(
            select(Message, col(Agent.name), col(ChatSession.title))
            .join(Agent, col(Agent.id) == col(Message.agent_id))
            .join(ChatSession, col(ChatSession.id) == col(Message.session_id))
            .order_by(col(Message.timestamp).desc(), col(Message.id).desc())
            .limit(limit)
        ).all()
    return [{"session_id": m.session_id, "agent": name, "title": title, **message_dict(m)} for m, name, title in rows]


def _fts_query(words: str) -> str:
    """Each word quoted, so that FTS5 syntax in what a person typed is only ever text."""
    tokens = re.findall(r"\w+", words)
    if not tokens:
        raise UsageError("the search query has no words in it")
    return " ".join(f'"{t}"' for t in tokens)


def snippet(content: str, words: str, width: int = 80) -> str:
    """A window of the message around the first word of the query that it contains."""
    flat = " ".join(content.split())
    lowered = flat.lower()
    positions = [lowered.find(w.lower()) for w in re.findall(r"\w+", words)]
    hits = [p for p in positions if p >= 0]
    if not hits:
        return flat[:width] + ("…" if len(flat) > width else "")
    start = max(min(hits) - width // 3, 0)
    piece = flat[start : start + width]
    return ("…" if start else "") + piece + ("…" if start + width < len(flat) else "")


def search(store: Store, query: str, agent: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    _check_limit(limit)
    if not query.strip():
        raise UsageError("the search query is empty")
    with store.read() as session:
        agent_id = agents.resolve(session, agent).id if agent is not None else None
        if store.is_sqlite or dialect.is_postgres(session):
            match = _fts_query(query)
            # The newest matches first (FTS5 walks rowids backwards without sorting), ranked by bm25.
            window = text(
                "SELECT rowid AS id, bm25(messages_fts) AS score FROM messages_fts WHERE messages_fts MATCH :q "
                + ("AND rowid IN (SELECT id FROM messages WHERE agent_id = :agent) " if agent_id else "")
                + "ORDER BY rowid DESC LIMIT :window"
            )
            if dialect.is_postgres(session):  # the tsvector column of migration 0003 (see store/dialect.py)
                match = " ".join(re.findall(r"\w+", query))
                window = text(
                    dialect.search_sql(session)
                    + (" AND agent_id = :agent" if agent_id else "")
                    + " ORDER BY id DESC LIMIT :window"
                )
            params: dict[str, Any] = {"q": match, "window": SEARCH_WINDOW}
            if agent_id:
                params["agent"] = agent_id
            ranked = list(session.execute(window, params).all())
            ranked.sort(key=lambda r: (r.score, -r.id))
            ids = [r.id for r in ranked[:limit]]
        else:
            pattern = agents.contains_pattern(query.strip().lower())
            stmt = select(col(Message.id)).where(
                func.lower(col(Message.content)).like(pattern, escape=agents.LIKE_ESCAPE)
            )
            if agent_id:
                stmt = stmt.where(col(Message.agent_id) == agent_id)
            ids = list(session.execute(stmt.order_by(col(Message.id).desc()).limit(limit)).scalars())
        if not ids:
            return []
        rows = {
            m.id: (m, name, title)
            for m, name, title in session.execute(
                select(Message, col(Agent.name), col(ChatSession.title))
                .join(Agent, col(Agent.id) == col(Message.agent_id))
                .join(ChatSession, col(ChatSession.id) == col(Message.session_id))
                .where(col(Message.id).in_(ids))
            ).all()
        }
    results = []
    for message_id in ids:
        m, name, title = rows[message_id]
        results.append(
            {
                "session_id": m.session_id,
                "message_id": m.id,
                "agent": name,
                "title": title,
                "role": m.role,
                "timestamp": iso(m.timestamp),
                "snippet": snippet(m.content, query),
                "content": m.content,
            }
        )
    return results


def rename(store: Store, session_id: int, title: str) -> None:
    title = " ".join(title.split())
    if not title:
        raise UsageError("the title cannot be empty")
    with store.write() as unit:
        session = unit.session
        if session.get(ChatSession, session_id) is None:
            raise NotFound(f"no session {session_id}")
        session.execute(update(ChatSession).where(col(ChatSession.id) == session_id).values(title=title))


def describe(store: Store, session_id: int) -> ChatSession:
    with store.read() as session:
        row = session.get(ChatSession, session_id)
    if row is None:
        raise NotFound(f"no session {session_id}", hint="`agentik sessions list` shows the sessions")
    return row


def remove(store: Store, session_id: int) -> ChatSession:
    """The session and its messages go; the cost ledger keeps every row (session and message ids set
    to NULL), so cost totals before and after are equal. The agent's counts of sessions and messages
    drop, and so does its average response time (they follow what exists); its tokens, cost and
    unpriced calls do not (they follow the ledger: see services/agents.py)."""
    with store.write() as unit:
        session = unit.session
        row = session.get(ChatSession, session_id)
        if row is None:
            raise NotFound(f"no session {session_id}")
        # the replies that go take their response times out of the agent's average with them
        response_ms, responses = session.execute(
            select(func.coalesce(func.sum(col(Message.response_ms)), 0), func.count(col(Message.response_ms))).where(
                col(Message.session_id) == session_id
            )
        ).one()
        session.execute(delete(ChatSession).where(col(ChatSession.id) == session_id))
        session.execute(
            update(Agent)
            .where(col(Agent.id) == row.agent_id)
            .values(
                stat_sessions=col(Agent.stat_sessions) - 1,
                stat_messages=col(Agent.stat_messages) - row.message_count,
                stat_response_ms=col(Agent.stat_response_ms) - int(response_ms),
                stat_responses=col(Agent.stat_responses) - int(responses),
            )
        )
    return row
