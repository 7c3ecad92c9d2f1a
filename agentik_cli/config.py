"""Per-process settings from the root options (`--db`, `--no-color`). Nothing is read at import."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Settings:
    db: str | None = None
    no_color: bool = False

    @property
    def color(self) -> bool:
        return not self.no_color and not os.environ.get("NO_COLOR")


settings = Settings()


def store():  # noqa: ANN201 - agentik_cli.store.engine.Store, imported lazily (SQLAlchemy is slow to import)
    """The store, opened and migrated, with anything an earlier command had to keep in the journal
    (a reply the database could not take) stored first."""
    from agentik_cli.services.ledger import replay_journal
    from agentik_cli.store.engine import get_store

    opened = get_store(settings.db)
    replay_journal(opened)
    return opened


def debug() -> bool:
    return os.environ.get("AGENTIK_DEBUG", "") not in ("", "0")
