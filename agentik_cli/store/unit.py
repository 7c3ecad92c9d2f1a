"""The unit of work: every write the product makes happens inside one, in one transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from agentik_cli import environment
from agentik_cli.store import outbox

if TYPE_CHECKING:
    pass


class Unit:
    """One write transaction. `session` is for the store's own modules; `now` and `user` are fixed
    when the unit starts, so that every row it writes carries the same time and author.

    The store's modules write through functions that take the unit (the ledger's, which move the
    running totals with the rows, are in store/ledger.py). Whatever else has to be written in the
    same transaction as a change (an outbox event beside it, a budget reservation checked against
    it) is added to `before_commit`: each is run, in order, after the unit's work and before it commits, and an error
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
