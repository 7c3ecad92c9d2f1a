"""Forgetting and redaction: every statement that removes a message or rewrites text so that it is
gone (services/forget.py decides what goes; this module speaks SQL).

Gone means gone from everything the store holds: the rows, the full-text index (SQLite's FTS5 table
follows messages by its triggers; PostgreSQL's search column is generated from the content), the
events kept for webhooks and the log of their attempts (a receiver may echo a body in its answer),
and, on SQLite, the free pages and the WAL (`erase_leftovers`). `TEXT_COLUMNS` says, for every
column that can hold text, whether redaction rewrites it or why not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Text, delete, func, or_, select, update
from sqlalchemy import cast as sql_cast
from sqlmodel import Session

from agentik_cli.store import dialect, imports, ledger
from agentik_cli.store.engine import Store, translate_errors
from agentik_cli.store.models import (
    ChatSession,
    Message,
    ToolCallRecord,
)
from agentik_cli.store.outbox_models import WebhookAttempt, WebhookDelivery, WebhookEvent
from agentik_cli.store.unit import Unit

_MESSAGES: Any = cast(Any, Message).__table__
_SESSIONS: Any = cast(Any, ChatSession).__table__
_TOOL_CALLS: Any = cast(Any, ToolCallRecord).__table__
_EVENTS: Any = cast(Any, WebhookEvent).__table__
_DELIVERIES: Any = cast(Any, WebhookDelivery).__table__
_ATTEMPTS: Any = cast(Any, WebhookAttempt).__table__
BATCH = 2000
_IN_LIMIT = 500  # ids bound a statement at a time
WAL_TRIES = 50  # a tenth of a second apart: readers in other processes finish their reads


REDACTED = "redacted"
_NAME = "a name or setting agentik or its user gives, not what was said in a session"
_BY_CODE = "written by agentik's code (a state, a type, an id), never from what was said"
_ORIGIN = {"origin_store": _BY_CODE}  # a copied row's origin (`db copy`): a store's id
# Every column of the schema that can hold text (strings and JSON), and what `sessions redact` does
# with it: REDACTED, or why it leaves it. A new table or column with text must be entered here
# (tests/services/test_forget.py fails until it is): decide then whether what was said can reach it.
# (`sessions forget` removes the messages and tool calls whole, and the webhook events that carry
# them, their deliveries and attempts going with them by their foreign keys.)
TEXT_COLUMNS: dict[str, dict[str, str]] = {
    "messages": {
        "content": REDACTED,
        "attachments": REDACTED,
        "parts": REDACTED,
        "error": REDACTED,
        "channel": _NAME,
        "role": _BY_CODE,
        "model": _NAME,
        "skills_used": _NAME,
        "user_name": _NAME,
        "import_key": "an imported message's id in the tool it came from (costs import --from)",
        **_ORIGIN,
    },
    "tool_calls": {
        "arguments": REDACTED,
        "output": REDACTED,
        "error": REDACTED,
        "call_id": "the provider's id of the call",
        "skill": _NAME,
        "tool": _NAME,
        "decision": _BY_CODE,
        "status": _BY_CODE,
        "user_name": _NAME,
        **_ORIGIN,
    },
    "sessions": {"title": REDACTED, "channel": _NAME, **_ORIGIN},
    # a kept event's body is a copy of a message or session; an attempt's answer and error may echo it
    "webhook_events": {"body": REDACTED, "uid": _BY_CODE, "type": _BY_CODE, "subject": _BY_CODE},
    "webhook_attempts": {"answer": REDACTED, "error": REDACTED},
    "webhook_deliveries": {"state": _BY_CODE},
    "webhook_endpoints": {
        "url": _NAME,
        "agent_name": _NAME,
        "events": _NAME,
        "secret": "the endpoint's signing secret, set with `webhooks add`",
        "status": _BY_CODE,
        "user_name": _NAME,
    },
    # an agent's settings are changed with `agents update`; redaction is about what was said
    "agents": dict.fromkeys(
        (
            "name",
            "name_key",
            "description",
            "system_prompt",
            "model",
            "provider",
            "channels",
            "skills",
            "status",
            "base_url",
            "api_key_env",
            "allow_dirs",
            "allow_hosts",
            "allow_commands",
            "deny_commands",
        ),
        _NAME,
    )
    | _ORIGIN,
    "costs": dict.fromkeys(("agent_name", "model", "provider", "channel", "endpoint", "user_name"), _NAME)
    | _ORIGIN
    | {"call_key": _BY_CODE},
    "received_origins": {"origin_store": _BY_CODE, "table_name": _BY_CODE},
    # another tool's log files read by `costs import --from`: where each is and where its next read
    # starts (offsets, running totals, its first bytes in hex: none of what was said, sources/codex.py)
    "import_files": {
        "source": _NAME,
        "path": "the path of another tool's log file, as the import found it",
        "identity": _BY_CODE,
        "mark": "where the next read of the file starts: offsets, counts, ids, a hash of its first bytes",
    },
    "import_sessions": {
        "source": _NAME,
        "source_key": "the id of a session in the tool it came from",
        "project": "the last part of the folder the tool ran in: the start of the session's title",
    },
    "import_removed": {"import_key": "the id, in the tool it came from, of an imported message removed since"},
    "cost_totals": dict.fromkeys(("model", "provider", "user_name", "agent_name"), _NAME),
    "price_overrides": dict.fromkeys(("provider", "model_key", "model", "set_by"), _NAME),
    "budgets": {"period": _BY_CODE, "agent_name": _NAME, "set_by": _NAME},
    "reservations": {"user_name": _NAME, "host": _NAME, "started": _BY_CODE},
    "settings": {"key": _BY_CODE, "value": "a setting agentik keeps (a default agent's id, a marker)"},
}


@dataclass(frozen=True)
class Doomed:
    """A message to forget, as it is when the forgetting's transaction takes it."""

    id: int
    session_id: int
    agent_id: int
    role: str
    content: str
    response_ms: int | None


def _doomed(row: Any) -> Doomed:
    return Doomed(row.id, row.session_id, row.agent_id, row.role, row.content, row.response_ms)


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    """A long list of ids (or subjects) a statement's worth at a time."""
    for start in range(0, len(items), _IN_LIMIT):
        yield items[start : start + _IN_LIMIT]


def messages(session: Session, ids: list[int], lock: bool = True) -> list[Doomed]:
    """Those of these messages that exist, locked for the rest of the transaction (PostgreSQL)."""
    m = _MESSAGES.c
    found: list[Doomed] = []
    for chunk in _chunks(ids):
        query = select(m.id, m.session_id, m.agent_id, m.role, m.content, m.response_ms).where(m.id.in_(chunk))
        found += [_doomed(row) for row in session.execute(query.with_for_update() if lock else query).all()]
    return found


def replies(session: Session, user: Doomed) -> list[Doomed]:
    """The messages that answered a user message: the assistant message right after it in its
    session and, while that one asked for tools, the next (the calls of one tool loop). A reply
    whose own question was forgotten before it (--keep-replies) is not taken for this one's."""
    m = _MESSAGES.c
    next_user = (
        select(func.min(m.id))
        .where(m.session_id == user.session_id, m.id > user.id, m.role == "user")
        .scalar_subquery()
    )
    asked_tools = select(_TOOL_CALLS.c.id).where(_TOOL_CALLS.c.message_id == m.id).exists()
    query = (
        select(m.id, m.session_id, m.agent_id, m.role, m.content, m.response_ms, asked_tools.label("asked"))
        .where(m.session_id == user.session_id, m.id > user.id, m.role != "user")
        .where(or_(next_user.is_(None), m.id < next_user))
        .order_by(m.id)
    )
    taken: list[Doomed] = []
    for row in session.execute(query).all():
        taken.append(_doomed(row))
        if not row.asked:
            break
    return taken


def last_user_message(session: Session, session_id: int) -> int | None:
    m = _MESSAGES.c
    found = session.execute(select(func.max(m.id)).where(m.session_id == session_id, m.role == "user")).scalar_one()
    return int(found) if found is not None else None


def session_titles(session: Session, ids: list[int]) -> dict[int, str]:
    s = _SESSIONS.c
    return {int(i): t for i, t in session.execute(select(s.id, s.title).where(s.id.in_(ids))).all()}


def first_user_message(session: Session, session_id: int, not_in: set[int]) -> str | None:
    """The first user message of a session that stays (its title is made from it)."""
    m = _MESSAGES.c
    query = select(m.id, m.content).where(m.session_id == session_id, m.role == "user").order_by(m.id)
    for message_id, content in session.execute(query).all():
        if message_id not in not_in:
            return str(content)
    return None


def forget(unit: Unit, doomed: list[Doomed], titles: dict[int, str]) -> None:
    """Remove the messages (their tool calls go with them; their ledger rows stay, detached: the
    foreign key sets conversation_id to NULL), take them off their sessions' and agents' counts, give
    the sessions whose title came from a removed message their new title, and drop the webhook
    events that carry them."""
    session = unit.session
    ids = [d.id for d in doomed]
    for chunk in _chunks(ids):
        imports.remember_removed(session, _MESSAGES.c.id.in_(chunk))
        session.execute(delete(_MESSAGES).where(_MESSAGES.c.id.in_(chunk)))
    per_session: dict[int, int] = {}
    per_agent: dict[int, tuple[int, int, int]] = {}
    for d in doomed:
        per_session[d.session_id] = per_session.get(d.session_id, 0) + 1
        count, ms, responses = per_agent.get(d.agent_id, (0, 0, 0))
        taken = d.response_ms is not None
        per_agent[d.agent_id] = (count + 1, ms + (d.response_ms or 0), responses + taken)
    s = _SESSIONS.c
    for session_id, count in per_session.items():
        values: dict[str, Any] = {"message_count": s.message_count - count}
        if session_id in titles:
            values["title"] = titles[session_id]
        session.execute(update(_SESSIONS).where(s.id == session_id).values(**values))
    for agent_id, (count, ms, responses) in per_agent.items():
        ledger.uncount(unit, agent_id, sessions=0, messages=count, response_ms=ms, responses=responses)
    subjects = [f"message:{i}" for i in ids] + [f"session:{i}" for i in titles]
    for chunk in _chunks(subjects):
        session.execute(delete(_EVENTS).where(_EVENTS.c.subject.in_(chunk)))


# ---- redaction ----


@dataclass(frozen=True)
class Scope:
    """Which sessions: one, one agent's, or every one (both None)."""

    session_id: int | None = None
    agent_id: int | None = None


def _contains(session: Session, column: Any, needle: str) -> Any:
    """`column` (text, or JSON read as text) holds `needle`, exactly (case and all)."""
    if dialect.is_postgres(session):
        return func.strpos(sql_cast(column, Text), needle) > 0
    return func.instr(column, needle) > 0


def _batches(session: Session, query: Any, table: Any) -> Iterator[Any]:
    """The rows of `query`, by id, BATCH at a time (keyset: no offset scan)."""
    last = 0
    while True:
        rows = session.execute(query.where(table.c.id > last).order_by(table.c.id).limit(BATCH)).all()
        yield from rows
        if len(rows) < BATCH:
            return
        last = rows[-1].id


def _texts(
    session: Session, table: Any, keys: tuple[str, ...], texts: tuple[str, ...], scope: Scope, needle: str | None
) -> Iterator[Any]:
    """The `keys` and `texts` columns of the table's rows in scope, by id, a batch at a time; with
    `needle`, only the rows that hold it in one of the texts (JSON compared as text: a needle JSON
    would escape must be None, and every row is read)."""
    query = select(*(table.c[name] for name in (*keys, *texts)))
    if scope.session_id is not None:
        query = query.where((table.c.id if table is _SESSIONS else table.c.session_id) == scope.session_id)
    if scope.agent_id is not None:
        query = query.where(table.c.agent_id == scope.agent_id)
    if needle is not None:
        query = query.where(or_(*(_contains(session, table.c[name], needle) for name in texts)))
    return _batches(session, query, table)


def message_texts(session: Session, scope: Scope, needle: str | None) -> Iterator[Any]:
    """(id, session_id, content, attachments, parts, error) of the messages in scope."""
    return _texts(session, _MESSAGES, ("id", "session_id"), ("content", "attachments", "parts", "error"), scope, needle)


def tool_call_texts(session: Session, scope: Scope, needle: str | None) -> Iterator[Any]:
    """(id, message_id, session_id, arguments, output, error) of the tool calls in scope."""
    keys = ("id", "message_id", "session_id")
    return _texts(session, _TOOL_CALLS, keys, ("arguments", "output", "error"), scope, needle)


def title_texts(session: Session, scope: Scope, needle: str | None) -> Iterator[Any]:
    """(id, title) of the sessions in scope."""
    return _texts(session, _SESSIONS, ("id",), ("title",), scope, needle)


def set_message(unit: Unit, message_id: int, values: dict[str, Any]) -> None:
    """A message's redacted fields (content, attachments, parts), marked redacted."""
    unit.session.execute(update(_MESSAGES).where(_MESSAGES.c.id == message_id).values(**values, redacted=True))


def set_tool_call(unit: Unit, call_id: int, values: dict[str, Any]) -> None:
    unit.session.execute(update(_TOOL_CALLS).where(_TOOL_CALLS.c.id == call_id).values(**values))


def set_title(unit: Unit, session_id: int, title: str) -> None:
    unit.session.execute(update(_SESSIONS).where(_SESSIONS.c.id == session_id).values(title=title))


def event_bodies(session: Session, subjects: list[str]) -> list[tuple[int, str]]:
    """The kept webhook events that carry these records (a delivered one keeps no body)."""
    found: list[tuple[int, str]] = []
    for chunk in _chunks(subjects):
        query = select(_EVENTS.c.id, _EVENTS.c.body).where(_EVENTS.c.subject.in_(chunk), _EVENTS.c.body != "")
        found += [(int(i), str(b)) for i, b in session.execute(query).all()]
    return found


def set_event_body(unit: Unit, event_id: int, body: str) -> None:
    unit.session.execute(update(_EVENTS).where(_EVENTS.c.id == event_id).values(body=body))


def attempt_texts(session: Session, subjects: list[str], needle: str | None) -> list[Any]:
    """(id, error, answer) of the logged attempts to send the events that carry these records (with
    `needle`, only those that hold it): a receiver's answer may echo the body it was sent."""
    a, d = _ATTEMPTS.c, _DELIVERIES.c
    found: list[Any] = []
    for chunk in _chunks(subjects):
        events = select(_EVENTS.c.id).where(_EVENTS.c.subject.in_(chunk))
        deliveries = select(d.id).where(d.event_id.in_(events))
        query = select(a.id, a.error, a.answer).where(a.delivery_id.in_(deliveries))
        if needle is not None:
            query = query.where(or_(_contains(session, a.error, needle), _contains(session, a.answer, needle)))
        found += session.execute(query.order_by(a.id)).all()
    return found


def set_attempt(unit: Unit, attempt_id: int, values: dict[str, Any]) -> None:
    unit.session.execute(update(_ATTEMPTS).where(_ATTEMPTS.c.id == attempt_id).values(**values))


# ---- what SQLite keeps after a row is gone ----


def erase_leftovers(store: Store) -> bool:
    """After a forgetting has committed, on SQLite (every connection has secure_delete on, so the
    rows and pages it freed are zeros already): merge the full-text index into fresh segments (its
    old ones held the words), rebuild the file without free pages (VACUUM: a file written before
    secure_delete was on may still hold old text in them), and empty the WAL, which holds copies of
    pages as they were (a TRUNCATE checkpoint). False when another connection's read kept the WAL
    from being emptied (its old pages are overwritten as the WAL is reused). PostgreSQL: nothing to
    do here (old row versions go with VACUUM: README)."""
    if not store.is_sqlite:
        return True
    import time

    with translate_errors(store.url), store.engine.connect() as conn:
        driver: Any = conn.connection.driver_connection
        driver.execute("INSERT INTO messages_fts (messages_fts) VALUES ('optimize')")
        driver.execute("VACUUM")
        for _ in range(WAL_TRIES):
            busy, _log, _done = driver.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            if not busy:
                return True
            time.sleep(0.1)
    return False
