"""The store a command works on, and what a command does with it beyond its own work. Opening the
store is only opening it (and migrating it: store/engine.py); the two steps around it are taken
here, by name: the webhook deliveries its writes make go out at once, beside it (services/webhooks.py,
given to the store as it opens), and anything an earlier command had to keep in the journal (a reply
the database could not take) is stored before the command's own work (services/recording.py)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

from agentik_cli import environment

if TYPE_CHECKING:
    from agentik_cli.store.engine import Store


def command_store() -> Store:
    """The environment's store (`--db`, AGENTIK_DB, the data folder), opened and migrated, sending
    its webhook deliveries as they are written, with the journal stored first."""
    from agentik_cli.services.recording import replay_journal
    from agentik_cli.store import engine  # SQLAlchemy is slow to import: not at start-up

    opened = engine.get_store(environment.current().db, on_deliveries=_send_soon)
    replay_journal(opened)
    return opened


def _send_soon(store: Store, ids: list[int]) -> None:
    from agentik_cli.services import delivery  # only once a write has made a delivery

    delivery.send_soon(store, ids)


def close_stores() -> None:
    """Close every store this process opened (closing checkpoints a SQLite WAL into its file)."""
    from agentik_cli.store import engine

    engine.reset_stores()


def wait_for_sends() -> None:
    """As a command ends, its webhook deliveries get about a second to go out; what has not is left
    in the outbox for `agentik webhooks deliver`. (A command that sent nothing never imported the
    sender.)"""
    delivery = sys.modules.get("agentik_cli.services.delivery")
    if delivery is not None:
        delivery.wait_for_sends()
