"""The unit of work: every write the product makes happens inside one, in one transaction."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from agentik_cli import environment


class Unit:
    """One write transaction. `session` is for the store's own modules; `now` and `user` are fixed
    when the unit starts, so that every row it writes carries the same time and author."""

    def __init__(self, session: Session) -> None:
        self.session = session
        env = environment.current()
        self.now: datetime = env.now()
        self.user: str = env.user
