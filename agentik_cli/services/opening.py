"""The store a command works on, and what a command does with it beyond its own work. Opening the
store is only opening it (and migrating it: store/engine.py); the two steps around it are taken
here, by name: the webhook deliveries its writes make go out at once, beside it (services/webhooks.py,
given to the store as it opens), and anything an earlier command had to keep in the journal (a reply
the database could not take) is stored before the command's own work (services/recording.py)."""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, TypeVar

from agentik_cli import environment, paths

if TYPE_CHECKING:
    from collections.abc import Callable

    from agentik_cli.store.engine import Store
    from agentik_cli.store.quickread import Query

T = TypeVar("T")
# set (to anything) to read through the ORM even where the light reads apply: tests compare the two
ORM_READS = "AGENTIK_ORM_READS"


def command_store() -> Store:
    """The environment's store (`--db`, AGENTIK_DB, the data folder), opened and migrated, sending
    its webhook deliveries as they are written, with the journal stored first."""
    from agentik_cli.services.recording import replay_journal
    from agentik_cli.store import engine  # SQLAlchemy is slow to import: not at start-up

    opened = engine.get_store(environment.current().db, on_deliveries=_send_soon)
    replay_journal(opened)
    return opened


def quick_read(read: Callable[[Query], T | None]) -> T | None:
    """`read` done on the environment's store through store/lightreads.py, without the ORM, when
    opening it would do nothing but open it: a SQLite file at the latest migration, with nothing
    in the journal to store first (nor a call in flight, whose reply is on its way to the ledger).
    None when that is not so, or when `read` gives None or cannot read (a lock, say): the command
    then opens the store as `command_store` does."""
    if os.environ.get(ORM_READS):
        return None
    from agentik_cli.store import lightreads

    target = lightreads.sqlite_target(environment.current().db, str(paths.default_db_path()))
    if target is None:
        return None
    url, path = target
    from agentik_cli.services import journal

    if journal.pending(url) or journal.has_calls(url):
        return None
    return lightreads.read_current(path, read)


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
