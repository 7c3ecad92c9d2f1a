"""Recording a chat: what it writes (the user's message, the reply with its cost, a failure, the tool
calls), kept in the journal of unsaved records (services/journal.py) when the database cannot take
a paid-for call, and the replay of that journal by the next command. Every write is one unit of work
(store/unit.py), which moves the running totals of the session, the agent and the ledger with the rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

from agentik_cli import environment
from agentik_cli.errors import NotFound, StoreError
from agentik_cli.store import ledger as store_ledger
from agentik_cli.store.engine import Store, notify
from agentik_cli.store.unit import Unit
from agentik_cli.timeutil import now_utc
from agentik_cli.values import CostRecord, JournalRecord, Priced, ReplyRecord, Usage

TITLE_LENGTH = 60


# the journal's records besides the reply (values.py ReplyRecord), each written as it is or kept


@dataclass(frozen=True)
class Released(JournalRecord):
    """A call that never went out gives its budget reservation back."""

    kind = "release"
    reservation_id: int | None


@dataclass(frozen=True)
class Failed(JournalRecord):
    """A user message whose call failed outright: kept in the log, not re-sent."""

    kind = "failed"
    message_id: int
    error: str
    reservation_id: int | None = None


@dataclass(frozen=True)
class ToolCalls(JournalRecord):
    """The tool calls a stored message asked for, as they were run (ToolRun.to_json)."""

    kind = "tool_calls"
    message_id: int
    runs: list[dict[str, Any]]


KINDS: dict[str, type[JournalRecord]] = {kind.kind: kind for kind in (ReplyRecord, Released, Failed, ToolCalls)}


def read_record(data: dict[str, Any]) -> JournalRecord:
    """A record from its JSON form, as the journal keeps it (that of every earlier agentik too)."""
    record: JournalRecord = KINDS[data["kind"]].from_json(data)
    return record


def make_title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= TITLE_LENGTH else line[: TITLE_LENGTH - 1].rstrip() + "…"


@dataclass
class CostEntry:
    """A call's cost as a chat has it (its usage, priced), before it is the ledger's row (`record`)."""

    model: str
    provider: str
    usage: Usage
    priced: Priced | None = None  # None: the model has no price
    agent_id: int | None = None
    agent_name: str | None = None
    session_id: int | None = None
    timestamp: datetime = field(default_factory=now_utc)
    response_ms: int | None = None
    channel: str | None = None
    endpoint: str | None = None
    user_name: str = field(default_factory=lambda: environment.current().user)
    # the provider reported more than the call's worst case (services/chat/turn.py `over_limit`); the
    # row holds what it reported all the same
    over_limit: bool = False
    call_key: str | None = None  # the key of the call's journal (services/journal.py Flight)

    def record(self) -> CostRecord:
        """The ledger's row of it, as a value: what goes down to the store, or into the journal."""
        # who, when, where and the call's key are the row's as they are here; the usage's fields are its columns
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("usage", "priced")}
        row.update(asdict(self.usage))
        priced = self.priced
        if priced is not None:
            row.update(input_cost_nd=priced.input_nd, output_cost_nd=priced.output_nd, total_cost_nd=priced.total_nd)
            row.update(priced.prices.stored)
        return CostRecord(**row)


def add_user_message(
    store: Store,
    *,
    agent_id: int,
    session_id: int | None,
    content: str,
    channel: str,
    attachments: list[dict[str, Any]] | None = None,
    reserve: Callable[[Unit], int | None] | None = None,
) -> tuple[int, int, int | None]:
    """Store the user's message (before the provider is called), opening a session when none is
    given, and reserve the call's worst case against the budgets in the same transaction (a
    refusal rolls both back). Returns (session_id, message_id, reservation_id)."""
    with store.write() as unit:
        reservation = reserve(unit) if reserve is not None else None
        if session_id is not None and not store_ledger.has_session(unit, session_id):
            raise NotFound(f"session {session_id} no longer exists (removed meanwhile)")
        sid = (
            session_id
            if session_id is not None
            else store_ledger.open_session(unit, agent_id, make_title(content), channel)
        )
        message_id = store_ledger.add_message(
            unit,
            agent_id=agent_id,
            session_id=sid,
            channel=channel,
            role="user",
            content=content,
            attachments=attachments or [],
        )
        return sid, message_id, reservation


def reserve(store: Store, work: Callable[[Unit], int | None]) -> int | None:
    """A follow-up call's reservation, in a transaction of its own."""
    with store.write() as unit:
        return work(unit)


def release(store: Store, reservation_id: int | None) -> None:
    """A call that never went out gives its reservation back."""
    if reservation_id is not None:
        _keep(store, Released(reservation_id))


def mark_failed(store: Store, message_id: int, error: str, reservation_id: int | None = None) -> None:
    """A user message whose call failed outright: kept in the log, not re-sent (its reservation
    given back)."""
    _keep(store, Failed(message_id, error, reservation_id))


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
    parts: list[dict[str, Any]] | None = None,
    reservation_id: int | None = None,
) -> int | None:
    """Store the assistant's reply (complete or cut short) with its cost row, moving the session's
    totals in the same transaction. The call was paid for, so the record is never lost: like every
    write it waits for the write lock as long as it takes (engine._on_sqlite_begin), and when the
    database cannot be written at all (a full disk, a read-only file) it is kept in a journal that
    the next agentik command stores. Returns the message id, or None when it went to the journal."""
    # the time of the call, not of a later replay from the journal
    cost = replace(cost, agent_id=agent_id, agent_name=agent_name, session_id=session_id, timestamp=now_utc())
    record = ReplyRecord(
        agent_id=agent_id,
        session_id=session_id,
        content=content,
        channel=channel,
        cost=cost.record(),
        error=error,
        interrupted=interrupted,
        parts=parts,
        reservation_id=reservation_id,
    )
    return _keep(store, record)


def add_tool_calls(store: Store, message_id: int, runs: list[dict[str, Any]]) -> None:
    """Log the tool calls a stored message asked for, as they were run (a journal keeps them when
    the database cannot be written, as it keeps replies)."""
    _keep(store, ToolCalls(message_id, runs))


def _keep(store: Store, record: JournalRecord) -> int | None:
    """Write a record of a call now; when the database cannot take it, into the journal."""
    try:
        with store.write() as unit:
            return _write(unit, record)
    except StoreError as exc:
        from agentik_cli.services import journal

        try:
            path = journal.keep(store.url, record.to_json())
        except OSError as failure:
            raise StoreError(
                f"could not store the record of this call ({exc.message}), nor keep it in the journal ({failure})"
            ) from exc
        notify(
            f"could not write to the database ({exc.message}): the record of this call is kept in {path}, "
            "and the next agentik command stores it"
        )
        return None


def _write(unit: Unit, record: JournalRecord) -> int | None:
    reservation_id = getattr(record, "reservation_id", None)
    if reservation_id is not None:  # the call's worst case gives way to what it cost
        from agentik_cli.store import budgets as budget_store

        budget_store.release(unit, reservation_id)
    if isinstance(record, Failed):
        store_ledger.mark_failed(unit, record.message_id, record.error)
        return record.message_id
    if isinstance(record, ToolCalls):
        store_ledger.add_tool_calls(unit, record.message_id, record.runs)
        return record.message_id
    if not isinstance(record, ReplyRecord):  # Released: nothing more
        return None
    key = record.cost.call_key
    if key is not None and store_ledger.call_stored(unit, key):  # stored already, from the call's own journal
        return None
    return store_ledger.add_reply(unit, record)


JOURNAL_DONE = "journal_replayed"


def replay_journal(store: Store) -> int:
    """Store what earlier commands kept in the journal because the database could not take it: all
    of it in one transaction, which also notes the records' ids, so a replay cut short and run again
    never stores one twice. Returns how many records were stored."""
    from agentik_cli.services import journal

    stored = 0
    if journal.pending(store.url):
        stored += _replay_records(store)
    if journal.has_calls(store.url):
        stored += _replay_calls(store)
    return stored


def _replay_records(store: Store) -> int:
    from agentik_cli.services import journal

    records, files = journal.take(store.url)

    def work(unit: Unit) -> int:
        done_value = store_ledger.read_setting(unit, JOURNAL_DONE)
        done = json.loads(done_value) if done_value else []
        fresh = [r for r in records if r["id"] not in set(done)]
        for record in fresh:
            _write(unit, read_record(record))
        # every id stored lately, not only this batch's: another process may still replay an older copy
        store_ledger.write_setting(unit, JOURNAL_DONE, json.dumps((done + [r["id"] for r in fresh])[-5000:]))
        return len(fresh)

    stored = 0
    if records:
        try:
            with store.write() as unit:
                stored = work(unit)
        except StoreError as exc:
            # the database still cannot take them: they stay in the journal, and this command goes on
            notify(f"the journal of unsaved records could not be stored yet ({exc.message}); it is kept")
            return 0
    for file in files:
        file.unlink(missing_ok=True)
    if stored:
        notify(f"stored {stored} record(s) kept in the journal when the database could not be written")
    return stored


CUT_SHORT = "interrupted: agentik stopped before the reply was stored (kept by the journal)"


def _replay_calls(store: Store) -> int:
    """The calls of processes that died (kill -9, a power cut) as their replies streamed: each reply
    stored as far as its journal got, marked interrupted (unless it had arrived whole, and the
    process died as it stored it), with a cost row estimated as a cut-short call's is (the
    provider's figures where they arrived, agentik's count elsewhere) at today's prices; its budget
    reservation goes in the same transaction. Each in a transaction of its own, which first looks
    whether the call is stored already (its process stored it and died before removing the
    journal): never twice."""
    from agentik_cli.services import journal

    stored = 0
    for call in journal.abandoned(store.url):
        try:
            with store.write() as unit:
                if _store_call(unit, store, call):
                    stored += 1
        except StoreError as exc:
            call.keep()
            notify(f"a reply kept in the journal could not be stored yet ({exc.message}); it is kept")
            continue
        call.discard()
    if stored:
        notify(f"stored {stored} reply(ies) cut short when agentik was stopped as they streamed, as far as they got")
    return stored


def _store_call(unit: Unit, store: Store, call: Any) -> bool:
    from agentik_cli.providers.tokens import estimate_tokens
    from agentik_cli.services.pricing import PriceBook

    header = call.header
    if store_ledger.call_stored(unit, call.header["key"]):
        return False
    figures = call.usage or [0, 0, 0, 0, 0, 0, 0]
    inputs, outputs, cache_read, cache_write, input_reported, output_reported, thinking = figures
    if not input_reported:
        inputs = max(inputs, int(header["prompt_tokens"]))
    if not output_reported:
        outputs = max(outputs, estimate_tokens(call.text) + thinking)
    usage = Usage(inputs, outputs, cache_read, cache_write, not (input_reported and output_reported))
    started: datetime = header["at"]
    entry = CostEntry(
        model=header["model"],
        provider=header["provider"],
        usage=usage,
        priced=PriceBook(store).price(header["model"], header["provider"], usage),
        agent_id=header["agent_id"],
        agent_name=header["agent_name"],
        session_id=header["session_id"],
        timestamp=started + timedelta(milliseconds=call.ms),
        response_ms=call.ms,
        channel=header["channel"],
        endpoint=header["endpoint"],
        user_name=header["user_name"],
        call_key=header["key"],
    )
    reply = ReplyRecord(
        agent_id=header["agent_id"],
        session_id=header["session_id"],
        content=call.text,
        channel=header["channel"],
        cost=entry.record(),
        error=None if call.complete else CUT_SHORT,
        interrupted=not call.complete,
        reservation_id=header["reservation_id"],
    )
    _write(unit, reply)
    return True


def heartbeat(store: Store, reservation_id: int) -> None:
    """A call that lasts says its process still runs (services/budgets.py): run in a thread of the
    call's journal; a failure is not the call's (the reservation stays, and lapses in time)."""
    from agentik_cli.store import budgets as budget_store

    try:
        with store.write() as unit:
            budget_store.beat(unit, reservation_id)
    except Exception:  # noqa: BLE001 - a thread's, with no one to tell: the next beat tries again
        return
