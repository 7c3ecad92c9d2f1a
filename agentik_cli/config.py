"""The store of the current command. The root options (`--db`, `--no-color`) live on the
environment (agentik_cli/environment.py); this module is what the commands call to open the store.
Nothing is read at import."""

from __future__ import annotations

import os

from agentik_cli import environment


def store():  # noqa: ANN201 - agentik_cli.store.engine.Store, imported lazily (SQLAlchemy is slow to import)
    """The environment's store, opened and migrated, with anything an earlier command had to keep
    in the journal (a reply the database could not take) stored first."""
    from agentik_cli.services.recording import replay_journal
    from agentik_cli.store import engine

    # the webhook deliveries a command makes go out at once, beside it (services/webhooks.py)
    engine.on_deliveries = _send_soon
    opened = engine.get_store(environment.current().db)
    replay_journal(opened)
    return opened


def _send_soon(store, ids: list[int]) -> None:  # noqa: ANN001 - a Store, imported lazily
    from agentik_cli.services import webhooks

    webhooks.send_soon(store, ids)


def wait_for_sends() -> None:
    """As a command ends, its webhook deliveries get about a second to go out; what has not is left
    in the outbox for `agentik webhooks deliver`."""
    import sys

    webhooks = sys.modules.get("agentik_cli.services.webhooks")
    if webhooks is not None:
        webhooks.wait_for_sends()


def debug() -> bool:
    return os.environ.get("AGENTIK_DEBUG", "") not in ("", "0")
