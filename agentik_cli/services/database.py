"""What `agentik db` means: the database itself, opened without being migrated or replayed into
(its status, its upgrade, a backup even of one a newer agentik wrote), and a copy of one store into
another (store/copying). SQLAlchemy is imported on use, not at start-up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentik_cli.store.engine import Store


@contextmanager
def unopened(db: str | None) -> Iterator[Store]:
    """The database `db` names (`--db`, AGENTIK_DB, the data folder), neither migrated nor replayed
    into; closed after."""
    from agentik_cli.store.engine import Store, resolve_url

    store = Store(resolve_url(db))
    try:
        yield store
    finally:
        store.dispose()


def status(store: Store) -> dict[str, Any]:
    from agentik_cli.store import admin

    return admin.status(store)


def upgrade(store: Store) -> list[str]:
    from agentik_cli.store import admin

    return admin.upgrade(store)


def newer_schema(store: Store) -> str | None:
    from agentik_cli.store import admin

    return admin.newer_schema(store)


def backup(store: Store, path: Path, force: bool = False) -> dict[str, Any]:
    from agentik_cli.store import admin

    return admin.backup(store, path, force=force)


def copy(
    source: Store, target: Store, prefer: str, progress: Callable[[str, int, int], None] | None = None
) -> dict[str, Any]:
    from agentik_cli.store import copying

    return copying.copy(source, target, prefer=prefer, progress=progress)


def printable_url(url: str) -> str:
    """A database or webhook URL fit to print: a password in it masked."""
    from agentik_cli.store.engine import mask_url

    return mask_url(url)
