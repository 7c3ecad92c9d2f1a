"""Writing what was read from another tool's logs (`costs import --from`): its calls as ledger rows
with their assistant messages, the words around them as user messages, each source session as an
agentik session, and where each file's next read starts, all in the unit's one transaction.

Exactly once: a call is stored under its key (`costs.call_key`, unique), a message under its
(`messages.import_key`, unique). A call read again with more output than was stored (a later snapshot
of the same response) replaces the stored one, its totals moved off and on by the one rule
(ledger.move_totals); read again with no more, it is a duplicate and left alone."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, insert, or_, select, update
from sqlmodel import Session

from agentik_cli.store import bulk, dialect, import_messages
from agentik_cli.store.import_models import ImportFile, ImportSession
from agentik_cli.store.ledger import (
    COSTS,
    IDS_PER_STATEMENT,
    MESSAGES,
    SESSIONS,
    lock_ledger,
    move_totals,
    open_session,
)

if TYPE_CHECKING:
    from agentik_cli.store.unit import Unit

FILES: Any = ImportFile.__table__  # type: ignore[attr-defined]
SOURCE_SESSIONS: Any = ImportSession.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class FileMark:
    identity: str
    size: int
    mtime_ns: int
    mark: str


@dataclass
class Batch:
    """What one unit writes for one source: cost rows (with `call_key`, `session_key`, `text`), user
    messages (`import_key`, `session_key`, `timestamp`, `content`), sessions' titles, files' marks."""

    source: str
    agent_id: int
    agent_name: str
    calls: list[dict[str, Any]] = field(default_factory=list)
    said: list[dict[str, Any]] = field(default_factory=list)
    titles: dict[str, tuple[str, str]] = field(default_factory=dict)  # session -> (title, project folder)
    files: dict[str, tuple[str, int, int, str]] = field(default_factory=dict)


@dataclass
class Written:
    calls: int = 0  # new calls stored
    replaced: int = 0  # calls stored before whose fuller snapshot replaced them
    duplicates: int = 0  # calls (and messages) stored before
    messages: int = 0  # user messages stored
    sessions: int = 0  # sessions made
    cost_nd: int = 0  # what the new calls cost, and what the replaced ones added
    unpriced: int = 0  # new calls without a price


def marks(session: Session, source: str) -> dict[str, FileMark]:
    """Every file of a source read before: path -> its identity, size, time and mark."""
    f = FILES.c
    rows = session.execute(select(f.path, f.identity, f.size, f.mtime_ns, f.mark).where(f.source == source))
    return {row.path: FileMark(row.identity, row.size, row.mtime_ns, row.mark) for row in rows}


def write(unit: Unit, batch: Batch) -> Written:
    session = unit.session
    lock_ledger(session)
    done = Written()
    stored = _stored_calls(session, [row["call_key"] for row in batch.calls])
    new, fuller = [], []
    for row in batch.calls:
        found = stored.get(row["call_key"])
        if found is None:
            new.append(row)
        elif (row["output_tokens"], row["input_tokens"]) > (found["output_tokens"], found["input_tokens"]):
            fuller.append((row, found))
        else:
            done.duplicates += 1
    if new:  # a call whose ledger row `costs cleanup` removed keeps its message: removed on purpose, not new
        kept = import_messages.stored(session, [row["call_key"] for row in new])
        done.duplicates += sum(row["call_key"] in kept for row in new)
        new = [row for row in new if row["call_key"] not in kept]
    said = import_messages.new(session, batch.said)
    sessions = _sessions(unit, batch, done, new, said)  # made only for what is new: none for duplicates
    touched: dict[int, list[datetime]] = {}
    if new or said:
        _add_messages(unit, batch, new, said, sessions, touched)
        done.calls, done.messages = len(new), len(said)
        done.cost_nd += sum(row["total_cost_nd"] or 0 for row in new)
        done.unpriced += sum(row["total_cost_nd"] is None for row in new)
    if fuller:
        _replace_calls(session, fuller)
        done.replaced = len(fuller)
        done.cost_nd += sum((row["total_cost_nd"] or 0) - (found["total_cost_nd"] or 0) for row, found in fuller)
    import_messages.count(session, batch.agent_id, touched)
    _save_marks(unit, batch)
    if done.replaced and not done.calls:  # new calls send theirs (store/bulk.py)
        unit.emit("costs.imported", {"imported": 0}, batch.agent_id)
    return done


def _sessions(
    unit: Unit, batch: Batch, done: Written, calls: list[dict[str, Any]], said: list[dict[str, Any]]
) -> dict[str, int]:
    """The agentik session of every source session the batch names, made when a new record (of
    `calls` and `said`) needs it (started at its first), a title given to one that has none yet."""
    session = unit.session
    keys = {row["session_key"] for row in calls} | {row["session_key"] for row in said}
    keys |= set(batch.titles)
    found: dict[str, int] = {}
    projects: dict[str, str] = {}
    m = SOURCE_SESSIONS.c
    ordered = sorted(keys)
    for first in range(0, len(ordered), IDS_PER_STATEMENT):
        chunk = ordered[first : first + IDS_PER_STATEMENT]
        query = select(m.source_key, m.session_id, m.project).where(m.source == batch.source, m.source_key.in_(chunk))
        for source_key, session_id, project in session.execute(query):
            found[source_key], projects[source_key] = session_id, project
    firsts: dict[str, datetime] = {}
    for row in (*calls, *said):
        key, at = row["session_key"], row["timestamp"]
        if key not in firsts or at < firsts[key]:
            firsts[key] = at
    made = 0
    for key in ordered:
        words, project = batch.titles.get(key, ("", ""))
        project = project or projects.get(key, "")
        title = ((f"{project}: {words}" if words else project) if project else words)[:200]
        if key in found:
            s = SESSIONS.c
            if title:
                # a title it had none of yet, or its project's name alone (the words came later: a
                # summary line, the first prompt in a later read); a title someone gave it stays
                named = or_(s.title == "", s.title == project) if project else s.title == ""
                session.execute(update(SESSIONS).where(s.id == found[key], named).values(title=title))
            if project and not projects.get(key):
                where = (m.source == batch.source) & (m.source_key == key)
                session.execute(update(SOURCE_SESSIONS).where(where).values(project=project))
            continue
        if key not in firsts:
            continue  # a title alone: its session comes with its first record
        found[key] = sid = open_session(unit, batch.agent_id, title, batch.source, at=firsts[key])
        session.execute(
            insert(SOURCE_SESSIONS).values(source=batch.source, source_key=key, session_id=sid, project=project)
        )
        made += 1
    done.sessions = made
    return found


def _stored_calls(session: Session, keys: list[str]) -> dict[str, dict[str, Any]]:
    c = COSTS.c
    found: dict[str, dict[str, Any]] = {}
    for first in range(0, len(keys), IDS_PER_STATEMENT):
        chunk = keys[first : first + IDS_PER_STATEMENT]
        query = select(
            c.call_key, c.id, c.input_tokens, c.output_tokens, c.conversation_id, c.session_id, c.total_cost_nd
        ).where(c.call_key.in_(chunk))
        found.update({row.call_key: dict(row._mapping) for row in session.execute(query)})
    return found


# the columns of a ledger row an imported call sets (the rest keep their defaults)
COST_COLUMNS = (
    "agent_id",
    "agent_name",
    "session_id",
    "conversation_id",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_tokens",
    "input_cost_nd",
    "output_cost_nd",
    "total_cost_nd",
    "price_input_nd",
    "price_output_nd",
    "price_cache_read_nd",
    "price_cache_write_nd",
    "timestamp",
    "channel",
    "user_name",
    "call_key",
    "source_cost_nd",
)


def _add_messages(
    unit: Unit,
    batch: Batch,
    calls: list[dict[str, Any]],
    said: list[dict[str, Any]],
    sessions: dict[str, int],
    touched: dict[int, list[datetime]],
) -> None:
    """New calls (each an assistant message and its ledger row) and user messages, the messages
    written in the order they were said, so a session reads in order."""
    session = unit.session
    for row in calls:
        row["agent_id"], row["agent_name"], row["channel"] = batch.agent_id, batch.agent_name, batch.source
        row.setdefault("user_name", unit.user)
    # in the order they were said; at the same moment, the person's words before the reply
    written = sorted(
        [(row, "assistant") for row in calls] + [(row, row.get("role") or "user") for row in said],
        key=lambda pair: (pair[0]["timestamp"], pair[1] == "assistant"),
    )
    messages = []
    for row, role in written:
        row["session_id"] = sessions[row["session_key"]]
        messages.append(import_messages.message(unit, batch.agent_id, batch.source, row, row["session_id"], role))
        touched.setdefault(row["session_id"], []).append(row["timestamp"])
    for (row, role), message_id in zip(written, import_messages.write(session, messages), strict=True):
        if role == "assistant":
            row["conversation_id"] = message_id
    if calls:
        bulk.import_costs(unit, COST_COLUMNS, [[[row.get(name) for name in COST_COLUMNS] for row in calls]])


def _replace_calls(session: Session, fuller: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Fuller snapshots of stored calls: their old sums off every total (the sessions' too, which the
    rule leaves alone on a removal), the rows and messages rewritten, the new sums on."""
    ids = [found["id"] for _, found in fuller]
    for first in range(0, len(ids), IDS_PER_STATEMENT):
        move_totals(session, COSTS.c.id.in_(ids[first : first + IDS_PER_STATEMENT]), -1)
    c, s, m = COSTS.c, SESSIONS.c, MESSAGES.c
    for row, found in fuller:
        if found["session_id"] is not None:
            session.execute(
                update(SESSIONS)
                .where(s.id == found["session_id"])
                .values(
                    input_tokens=s.input_tokens - found["input_tokens"],
                    output_tokens=s.output_tokens - found["output_tokens"],
                    cost_nd=s.cost_nd - func.coalesce(found["total_cost_nd"], 0),
                    unpriced_calls=s.unpriced_calls - (1 if found["total_cost_nd"] is None else 0),
                )
            )
        values = {name: row.get(name) for name in COST_COLUMNS if name not in _KEPT}
        session.execute(update(COSTS).where(c.id == found["id"]).values(**values))
        if found["conversation_id"] is not None:
            session.execute(
                update(MESSAGES)
                .where(m.id == found["conversation_id"])
                .values(
                    content=import_messages.fuller_text(session, found["conversation_id"], row.get("text") or ""),
                    input_tokens=row["input_tokens"],
                    output_tokens=row["output_tokens"],
                    tokens_used=row["total_tokens"],
                    cost_nd=row["total_cost_nd"],
                )
            )
    for first in range(0, len(ids), IDS_PER_STATEMENT):
        move_totals(session, COSTS.c.id.in_(ids[first : first + IDS_PER_STATEMENT]), 1)


# what a replaced call keeps of its stored row: where it sits and who it belongs to
_KEPT = frozenset({"agent_id", "agent_name", "session_id", "conversation_id", "channel", "user_name", "call_key"})


def _save_marks(unit: Unit, batch: Batch) -> None:
    session = unit.session
    for path, (identity, size, mtime_ns, mark) in batch.files.items():
        values = {"identity": identity, "size": size, "mtime_ns": mtime_ns, "mark": mark, "updated_at": unit.now}
        stmt = dialect.insert(session, FILES).values(source=batch.source, path=path, **values)
        session.execute(stmt.on_conflict_do_update(index_elements=["source", "path"], set_=values))


def stored_keys(session: Session, keys: list[str]) -> set[str]:
    """Which of these call keys the ledger holds, or held (a message keeps the key of a call whose
    row `costs cleanup` removed: it is not imported again)."""
    return set(_stored_calls(session, keys)) | import_messages.stored(session, keys)


def remember_removed(session: Session, where: Any) -> None:
    """Before imported messages are deleted (a session, an agent or messages removed or forgotten):
    their keys, so that a later read of their file does not bring them back. Keys only: ids the other
    tool made, none of what was said."""
    m = MESSAGES.c
    keys = select(m.import_key).where(where, m.import_key.is_not(None))
    stmt = dialect.insert(session, import_messages.REMOVED).from_select(["import_key"], keys)
    session.execute(stmt.on_conflict_do_nothing(index_elements=["import_key"]))
