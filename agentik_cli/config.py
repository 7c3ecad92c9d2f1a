"""The store of the current command. The root options (`--db`, `--no-color`) live on the
environment (agentik_cli/environment.py); this module is what the commands call to open the store.
Nothing is read at import."""

from __future__ import annotations

import os

from agentik_cli import environment


def store():  # noqa: ANN201 - agentik_cli.store.engine.Store, imported lazily (SQLAlchemy is slow to import)
    """The environment's store, opened and migrated, with anything an earlier command had to keep
    in the journal (a reply the database could not take) stored first."""
    from agentik_cli.services.ledger import replay_journal
    from agentik_cli.store.engine import get_store

    opened = get_store(environment.current().db)
    replay_journal(opened)
    return opened


def debug() -> bool:
    return os.environ.get("AGENTIK_DEBUG", "") not in ("", "0")
