"""Opening the store: URL resolution, SQLite pragmas, transactions and the migration check.

SQLite is opened in WAL mode with foreign keys on and a busy timeout, and every write transaction
starts with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail at once with
SQLITE_BUSY when another process committed in between (the busy timeout does not cover that case), so
two agentik processes writing at once would otherwise lose a write."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, OperationalError
from sqlmodel import Session

from agentik_cli import paths
from agentik_cli.errors import StoreError, UsageError
from agentik_cli.store import migrations
from agentik_cli.store.migrations import MIGRATION_NAMES
from agentik_cli.store.unit import Unit

BUSY_TIMEOUT_MS = 10_000
SQLITE_HEADER = b"SQLite format 3\x00"


MEMORY_URL = "sqlite://"


def resolve_url(db: str | None = None) -> str:
    """`--db` first, then AGENTIK_DB, then the data folder. A plain path becomes a sqlite URL;
    `:memory:` is SQLite's in-memory database (gone when the command ends), as SQLite users expect."""
    value = db or os.environ.get("AGENTIK_DB")
    if not value:
        paths.ensure_data_dir()
        return f"sqlite:///{paths.default_db_path()}"
    if value in (":memory:", "sqlite:///:memory:"):
        return MEMORY_URL
    if "://" in value:
        scheme, rest = value.split("://", 1)
        value = f"{scheme.lower()}://{rest}"  # SQLAlchemy knows its dialects in lower case only
        _check_url(value)
        return value
    return f"sqlite:///{Path(value).expanduser().resolve()}"


def _check_url(url: str) -> None:
    """Only the engines agentik speaks, and with their driver installed: a clear line, not a
    ModuleNotFoundError from deep inside SQLAlchemy."""
    scheme = url.split("://", 1)[0].lower()
    if scheme.startswith("sqlite"):
        return
    if scheme.startswith("postgres"):
        import importlib.util

        if importlib.util.find_spec("psycopg") is None:
            raise UsageError(
                "a PostgreSQL store needs the postgres extra, which is not installed",
                hint="pip install 'agentik[postgres]'",
            )
        return
    raise UsageError(f"agentik cannot use a '{scheme}' database", hint="give a SQLite file path, or a sqlite:/// URL")


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for the in-memory database."""
    path_text = url.split("///", 1)[1] if "///" in url else ""
    return Path(path_text) if path_text and path_text != ":memory:" else None


def _check_sqlite_path(url: str) -> None:
    """Refuse a directory or a file that is not a database before SQLite writes anything to it."""
    path = sqlite_path(url)
    if path is None:
        return
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
    # journal_mode is not set here: it is a property of the file, set once the file is known to be
    # agentik's (Store.migrate), so another program's database is never switched to WAL
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.close()


def _on_sqlite_begin(conn: Connection) -> None:
    if not conn.info.pop("immediate", False):
        conn.exec_driver_sql("BEGIN")
        return
    # A write waits for the write lock as long as it takes, not only the busy timeout: a chat that
    # ends while another process imports a million rows must still store the reply it paid for, and
    # a cron job's `costs record` must not be lost either. Nothing of the transaction has run yet, so
    # taking the lock again is safe; Ctrl-C still ends the wait (between two busy timeouts).
    waited = False
    while True:
        try:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            break
        except OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if not waited:
                notify("waiting for the database: another process is writing to it")
                waited = True
    if waited:
        notify("the database is free again")


def notify(message: str) -> None:
    """A note for the person at the terminal, on stderr (the store's only output)."""
    sys.stderr.write(f"agentik: {message}\n")
    sys.stderr.flush()


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
    def write(self) -> Iterator[Unit]:
        """One unit of work: a short write transaction (BEGIN IMMEDIATE on SQLite), committed on
        success, rolled back on any error."""
        with translate_errors(), self.engine.connect() as conn:
            conn.info["immediate"] = True
            with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
                unit = Unit(session)
                yield unit
                unit.finish()
                session.flush()

    def migrate(self) -> None:
        """Bring the schema up to date. A database written by a newer agentik, or one that holds
        tables but is not agentik's, is refused before anything is written to it."""
        with translate_errors(), self.engine.connect() as conn:
            applied = _applied_migrations(conn)
            check_known(self.url, conn, applied)
            if self.is_sqlite:
                conn.rollback()  # the pragma cannot change the journal inside a transaction
                driver: Any = conn.connection.driver_connection
                driver.execute("PRAGMA journal_mode = WAL")
        if set(MIGRATION_NAMES) <= applied:
            return
        with translate_errors(), self.engine.connect() as conn:
            # A migration that rebuilds a table must not set off ON DELETE actions when the old copy
            # is dropped; the pragma is a no-op inside a transaction, so it is set before BEGIN.
            self._foreign_keys(conn, False)
            try:
                conn.info["immediate"] = True
                with conn.begin():
                    applied = _applied_migrations(conn)
                    check_known(self.url, conn, applied)
                    try:
                        migrations.apply(conn, applied)
                    except NotImplementedError as exc:
                        raise UsageError(f"cannot set up agentik's tables in {mask_url(self.url)}: {exc}") from None
            finally:
                self._foreign_keys(conn, True)

    def _foreign_keys(self, conn: Connection, on: bool) -> None:
        if self.is_sqlite:
            driver: Any = conn.connection.driver_connection
            driver.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")

    def pending(self) -> list[str]:
        """Migrations not yet applied (never applies them)."""
        with translate_errors(), self.engine.connect() as conn:
            applied = _applied_migrations(conn)
            check_known(self.url, conn, applied)
        return [name for name in MIGRATION_NAMES if name not in applied]

    def dispose(self) -> None:
        self.engine.dispose()


def check_known(url: str, conn: Connection, applied: set[str]) -> None:
    newer = sorted(applied - set(MIGRATION_NAMES))
    if newer:
        from agentik_cli import __version__

        raise UsageError(
            f"{mask_url(url)} was written by a newer agentik (its schema has {newer[-1]}); "
            f"this is agentik {__version__}",
            hint="upgrade agentik (pip install -U agentik), or use another database with --db",
        )
    if not applied:
        tables = [t for t in inspect(conn).get_table_names() if not t.startswith("sqlite_")]
        if tables:
            raise UsageError(
                f"{mask_url(url)} holds tables of another program ({', '.join(sorted(tables)[:3])}"
                f"{', ...' if len(tables) > 3 else ''}), not agentik's",
                hint="give agentik a database of its own with --db or AGENTIK_DB",
            )


def mask_url(url: str) -> str:
    """A database URL fit to print: the password masked; a SQLite file as its path."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        return str(path) if path is not None else ":memory:"
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("://", 1)[0] + "://…"


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
    """Close every store this process opened. Closing the last connection to a SQLite database
    checkpoints its WAL into the main file, so a copy of agentik.db is never a bare header with
    everything in agentik.db-wal (leaving through os._exit would skip it)."""
    for store in _stores.values():
        store.dispose()
    _stores.clear()
