"""The unit of work: every write the product makes happens inside one, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from agentik_cli import environment
from agentik_cli.store import bulk, ledger, outbox, reports, sessions
from agentik_cli.store.ledger import Removed, Where


class Unit:
    """One write transaction. `session` is for the store's own modules; `now` and `user` are fixed
    when the unit starts, so that every row it writes carries the same time and author.

    The ledger is written through its methods only, which move the running totals with the rows
    (store/ledger.py, `move_totals`). Whatever else has to be written in the same transaction as a
    change (an outbox event beside it, a budget reservation checked against it) is added to
    `before_commit`: each is run, in order, after the unit's work and before it commits, and an error
    in one rolls back the whole unit.

    The events of the changes (`emit`) are written last, into the outbox (store/outbox.py), for the
    webhooks that want them; `deliveries` then holds the deliveries made, for the store to send
    once the unit has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        env = environment.current()
        self.now: datetime = env.now()
        self.user: str = env.user
        self.before_commit: list[Callable[[Unit], None]] = []
        self.events: list[outbox.Pending] = []
        self.deliveries: list[int] = []

    def emit(self, event_type: str, data: Any, agent_id: int | None = None, subject: str | None = None) -> None:
        """An event of this unit's change: its data, or a function of the session that reads it (called
        as the unit ends, and only when an endpoint wants the event); `subject` names the record it
        carries ("message:12"), for forgetting to find."""
        self.events.append(outbox.Pending(event_type, agent_id, data, subject))

    def finish(self) -> None:
        """Run the before-commit work and write the outbox (the store calls this as the unit ends
        without an error)."""
        while self.before_commit:
            self.before_commit.pop(0)(self)
        if self.events:
            events, self.events = self.events, []
            self.deliveries += outbox.write(self.session, self.now, events)

    # ---- the ledger ----

    def add_costs(self, rows: list[dict[str, Any]]) -> list[int]:
        """Ledger rows, with cost_totals, cost_buckets and their sessions' totals moved by them.
        A row that does not say who made the call is this unit's user's."""
        for row in rows:
            row.setdefault("user_name", self.user)
        ids = ledger.add_costs(self.session, rows)
        for cost_id, row in zip(ids, rows, strict=True):
            self.emit("cost.recorded", reports.cost_data(cost_id), row.get("agent_id"))
        return ids

    def import_costs(
        self, columns: Sequence[str], batches: bulk.Batches, after_batch: Callable[[], None] | None = None
    ) -> int:
        """Many ledger rows (batches of lists in the order of `columns`, each naming its user), written
        the fastest way the database has, the totals moved once by all of them. Returns the count."""
        count = bulk.import_costs(self.session, columns, batches, after_batch)
        self.emit("costs.imported", {"imported": count})
        return count

    def remove_costs(self, where: Where) -> Removed:
        """Take the matching rows off every total, then delete them; returns what went."""
        return ledger.remove_costs(self.session, where)

    # ---- messages ----

    def has_session(self, session_id: int) -> bool:
        """Whether the session is there, locked for the rest of the unit."""
        return ledger.session_exists(self.session, session_id)

    def open_session(self, agent_id: int, title: str, channel: str) -> int:
        session_id = ledger.open_session(self.session, agent_id=agent_id, title=title, channel=channel, now=self.now)
        self.emit("session.created", sessions.session_data(session_id), agent_id, f"session:{session_id}")
        return session_id

    def add_message(self, **values: Any) -> int:
        """A message (the unit's time and user unless given), counted on its session and agent."""
        values.setdefault("timestamp", self.now)
        values.setdefault("user_name", self.user)
        message_id = ledger.add_message(self.session, values)
        self.emit("message.created", sessions.message_data(message_id), values["agent_id"], f"message:{message_id}")
        return message_id

    def count_message(self, agent_id: int, session_id: int) -> None:
        ledger.count_message(self.session, agent_id, session_id, self.now)

    def uncount(self, agent_id: int, *, sessions: int, messages: int, response_ms: int, responses: int) -> None:
        """Take removed sessions, messages and replies off their agent's counters."""
        ledger.uncount(
            self.session, agent_id, sessions=sessions, messages=messages, response_ms=response_ms, responses=responses
        )

    def mark_failed(self, message_id: int, error: str) -> None:
        ledger.set_message_error(self.session, message_id, error)

    def add_reply(
        self,
        *,
        agent_id: int,
        session_id: int,
        content: str,
        channel: str,
        error: str | None,
        interrupted: bool,
        cost: dict[str, Any],
        parts: list[dict[str, Any]] | None = None,
    ) -> int | None:
        """The assistant's reply and its cost row. A reply whose session was removed meanwhile (a
        journal replayed late) keeps only its cost row: the money was spent. Returns the message id."""
        row = dict(cost)
        row.setdefault("user_name", self.user)
        message_id = None
        if ledger.session_exists(self.session, session_id):
            message_id = self.add_message(
                agent_id=agent_id,
                session_id=session_id,
                channel=channel,
                role="assistant",
                content=content,
                timestamp=row["timestamp"],
                model=row["model"],
                input_tokens=row["input_tokens"],
                output_tokens=row["output_tokens"],
                tokens_used=row["total_tokens"],
                cost_nd=row["total_cost_nd"],
                response_ms=row["response_ms"],
                error=error,
                interrupted=interrupted,
                user_name=row["user_name"],
                parts=parts,
            )
        else:
            row["session_id"] = None
        row["conversation_id"] = message_id
        self.add_costs([row])
        return message_id

    def call_stored(self, key: str) -> bool:
        """Whether the ledger has the cost row of the call with this journal key."""
        return ledger.call_stored(self.session, key)

    def add_tool_calls(self, message_id: int, runs: list[dict[str, Any]]) -> bool:
        """The tool calls a message asked for, as run (ToolRun.to_json), and the message's
        skills_used. False when the message is gone (its session removed meanwhile)."""
        return ledger.add_tool_calls(self.session, message_id, runs, self.now, self.user)

    # ---- settings the ledger keeps ----

    def read_setting(self, key: str) -> str | None:
        return ledger.read_setting(self.session, key)

    def write_setting(self, key: str, value: str) -> None:
        ledger.write_setting(self.session, key, value)
