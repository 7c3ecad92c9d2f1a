"""Opening the store: URL resolution, SQLite pragmas, transactions and the migration check.

SQLite is opened in WAL mode with foreign keys on and a busy timeout, and every write transaction
starts with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail at once with
SQLITE_BUSY when another process committed in between (the busy timeout does not cover that case), so
two agentik processes writing at once would otherwise lose a write."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError
from sqlmodel import Session

from agentik_cli import paths
from agentik_cli.errors import StoreError, UsageError

# The names of every migration, in order. Kept here so that opening a database that is already
# current does not import the migration module (store/migrations.py appends to both).
MIGRATION_NAMES: tuple[str, ...] = (
    "0001_initial",
    "0002_settings",
    "0003_reports",
)

BUSY_TIMEOUT_MS = 10_000
SQLITE_HEADER = b"SQLite format 3\x00"


def resolve_url(db: str | None = None) -> str:
    """`--db` first, then AGENTIK_DB, then the data folder. A plain path becomes a sqlite URL."""
    value = db or os.environ.get("AGENTIK_DB")
    if not value:
        paths.ensure_data_dir()
        return f"sqlite:///{paths.default_db_path()}"
    if "://" in value:
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _check_sqlite_path(url: str) -> None:
    """Refuse a directory or a file that is not a database before SQLite writes anything to it."""
    path_text = url.split("///", 1)[1] if "///" in url else ""
    if not path_text or path_text == ":memory:":
        return
    path = Path(path_text)
    if path.is_dir():
        raise UsageError(f"--db {path} is a directory, not a database file")
    if path.exists():
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
        if header and header != SQLITE_HEADER:
            raise UsageError(f"{path} is not a SQLite database")
    elif not path.parent.is_dir():
        raise UsageError(f"cannot create the database {path}: folder {path.parent} does not exist")


def _on_sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (the pysqlite driver's own implicit BEGIN
    # would be DEFERRED).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.pop("immediate", False) else "BEGIN")


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _check_sqlite_path(url)
        self.engine: Engine = create_engine(url)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _on_sqlite_connect)
            event.listen(self.engine, "begin", _on_sqlite_begin)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with translate_errors(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """One short write transaction (BEGIN IMMEDIATE on SQLite), committed on success."""
        with translate_errors(), self.engine.connect() as conn:
            conn.info["immediate"] = True
            with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
                yield session
                session.flush()

    def migrate(self) -> None:
        with translate_errors(), self.engine.connect() as conn:
            applied = _applied_migrations(conn)
        if set(MIGRATION_NAMES) <= applied:
            return
        from agentik_cli.store import migrations

        with translate_errors(), self.engine.connect() as conn:
            conn.info["immediate"] = True
            with conn.begin():
                migrations.apply(conn, _applied_migrations(conn))

    def dispose(self) -> None:
        self.engine.dispose()


def _applied_migrations(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("agentik_migrations"):
        return set()
    return set(conn.execute(text("SELECT name FROM agentik_migrations")).scalars())


@contextmanager
def translate_errors() -> Iterator[None]:
    try:
        yield
    except DatabaseError as exc:
        message = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
        if "file is not a database" in message:
            raise UsageError("the database file is not a SQLite database") from exc
        if "unable to open database" in message:
            raise UsageError(f"cannot open the database: {message}") from exc
        raise StoreError(f"the database failed: {message}") from exc


_stores: dict[str, Store] = {}


def get_store(db: str | None = None) -> Store:
    """The store for this process, opened and migrated on first use."""
    url = resolve_url(db)
    store = _stores.get(url)
    if store is None:
        store = Store(url)
        store.migrate()
        _stores[url] = store
    return store


def reset_stores() -> None:
    for store in _stores.values():
        store.dispose()
    _stores.clear()
