"""Sessions: listing (totals from the sessions table, never a scan of messages), recent messages,
full-text search, rename, remove. The statements are store/sessions.py's and store/session_edits.py's;
the records they return are turned into JSON and tables by cli/sessions.py."""

from __future__ import annotations

import re
from datetime import datetime

from agentik_cli.errors import NotFound, UsageError
from agentik_cli.services import agents
from agentik_cli.store import session_edits
from agentik_cli.store import sessions as session_store
from agentik_cli.store.engine import Store
from agentik_cli.store.session_edits import RemovedSession
from agentik_cli.store.sessions import MessageRecord, SessionRecord


def _check_limit(limit: int | None) -> None:
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")


def _not_found(session_id: int) -> NotFound:
    return NotFound(f"no session {session_id}", hint="`agentik sessions list` shows the sessions")


def list_sessions(
    store: Store,
    agent: str | None = None,
    channel: str | None = None,
    since: datetime | None = None,
    limit: int | None = 50,
) -> list[SessionRecord]:
    _check_limit(limit)
    with store.read() as session:
        agent_id = agents.resolve(session, agent).id if agent is not None else None
        return session_store.listing(session, agent_id, channel, since, limit)


def get_session(store: Store, session_id: int) -> tuple[SessionRecord, list[MessageRecord]]:
    """A session and its messages, read in one transaction."""
    with store.read() as session:
        found = session_store.one(session, session_id)
        if found is None:
            raise _not_found(session_id)
        return found, session_store.messages(session, session_id)


def describe(store: Store, session_id: int) -> SessionRecord:
    with store.read() as session:
        found = session_store.one(session, session_id)
    if found is None:
        raise _not_found(session_id)
    return found


def recent(store: Store, limit: int = 20) -> list[MessageRecord]:
    """The latest messages across all sessions (the seed's `recent`)."""
    _check_limit(limit)
    with store.read() as session:
        return session_store.recent(session, limit)


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


def search(store: Store, query: str, agent: str | None = None, limit: int = 20) -> list[MessageRecord]:
    """Messages holding every word of the query, best first. Words are what the search indexes of
    both stores see (letters, digits, underscores): anything else typed is a separator, never
    syntax or a wildcard."""
    _check_limit(limit)
    if not query.strip():
        raise UsageError("the search query is empty")
    words = re.findall(r"\w+", query)
    if not words:
        raise UsageError("the search query has no words in it")
    with store.read() as session:
        agent_id = agents.resolve(session, agent).id if agent is not None else None
        return session_store.search(session, words, agent_id, limit)


def rename(store: Store, session_id: int, title: str) -> None:
    title = " ".join(title.split())
    if not title:
        raise UsageError("the title cannot be empty")
    with store.write() as unit:
        if not session_edits.rename(unit, session_id, title):
            raise _not_found(session_id)


def remove(store: Store, session_id: int) -> RemovedSession:
    """The session and its messages go; the cost ledger keeps every row, so cost totals before and
    after are equal. The agent's counts of sessions and messages drop, and so does its average
    response time (they follow what exists); its tokens, cost and unpriced calls do not (they follow
    the ledger: see services/agents.py). What went is counted inside the removal's transaction."""
    with store.write() as unit:
        removed = session_edits.remove(unit, session_id)
    if removed is None:
        raise _not_found(session_id)
    return removed


TAIL_BATCH = 500


def tail(store: Store, agent: str | None, count: int) -> tuple[int | None, list[MessageRecord]]:
    """The last `count` messages (of one agent's sessions), oldest first, and the agent's id."""
    _check_limit(count)
    with store.read() as session:
        agent_id = agents.resolve(session, agent).id if agent is not None else None
        return agent_id, session_store.last_messages(session, agent_id, count)


def newer(store: Store, after_id: int, agent_id: int | None) -> list[MessageRecord]:
    """The messages stored since message `after_id`, oldest first (at most TAIL_BATCH at a time)."""
    with store.read() as session:
        return session_store.messages_after(session, after_id, agent_id, TAIL_BATCH)
