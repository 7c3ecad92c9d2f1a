"""Opening the store: URL resolution, SQLite pragmas, transactions and the migration check.

SQLite is opened in WAL mode with foreign keys on and a busy timeout, and every write transaction
starts with BEGIN IMMEDIATE: a deferred transaction that reads and then writes can fail at once with
SQLITE_BUSY when another process committed in between (the busy timeout does not cover that case), so
two agentik processes writing at once would otherwise lose a write."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from agentik_cli import paths
from agentik_cli.errors import StoreError, UsageError
from agentik_cli.store import migrations
from agentik_cli.store.failures import mask_url, sqlite_path, translate_errors
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
    raise UsageError(
        f"agentik cannot use a '{scheme}' database",
        hint="give a SQLite file path, a sqlite:/// URL, or a postgresql+psycopg:// URL",
    )


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
    # what is deleted or overwritten is zeroed in the file, not left in free space until reused: a
    # forgotten message, a redacted key, a removed session are gone from the file (store/forget.py)
    cursor.execute("PRAGMA secure_delete = ON")
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
    try:
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                break
            except OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
                if _stop_waiting.is_set():
                    raise StoreError("Ctrl-C while waiting for the database: another process held it") from None
                if not waited:
                    notify("waiting for the database: another process is writing to it")
                    # from now on, look up between short waits whether Ctrl-C asked to stop waiting
                    conn.exec_driver_sql(f"PRAGMA busy_timeout = {WAIT_STEP_MS}")
                    waited = True
    finally:
        if waited:
            conn.exec_driver_sql(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    if waited:
        notify("the database is free again")


# Set while Ctrl-C is held off around a write that must not be lost (services/chat/turn.py shielded):
# a write still waiting for the lock then gives up with a StoreError, and the record goes to the
# journal instead (services/recording.py _keep), to be stored by the next command.
_stop_waiting = threading.Event()
WAIT_STEP_MS = 200


def stop_waiting(stop: bool = True) -> None:
    """Make writes waiting for the lock give up (or, with False, wait again as long as it takes)."""
    if stop:
        _stop_waiting.set()
    else:
        _stop_waiting.clear()


def notify(message: str) -> None:
    """A note for the person at the terminal, on stderr (the store's only output)."""
    sys.stderr.write(f"agentik: {message}\n")
    sys.stderr.flush()


# A server that does not answer is reported after this many seconds rather than waited on forever.
CONNECT_TIMEOUT_S = 10
# Two processes opening a blank PostgreSQL database at once must not both create the tables: the
# migration holds this transaction-scoped advisory lock (an arbitrary number, agentik's own).
MIGRATION_LOCK = 0x6167656E74696B


def _engine_options(url: str) -> dict[str, Any]:
    """PostgreSQL: a connection that the server dropped (a restart, an idle timeout while `deliver
    --loop` sleeps) is replaced rather than failing the next command (pre-ping costs one round trip
    a checkout, nothing next to a command's own queries); a bounded connect time; and a name in
    pg_stat_activity. No statement timeout: an import of a million rows is one long statement a
    batch, and a command is stopped by its user (Ctrl-C), not by the store."""
    if url.startswith("sqlite"):
        return {}
    return {
        "pool_pre_ping": True,
        "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "agentik"},
    }


# The PostgreSQL channel every write notifies as it commits (store/changes.py listens on it).
CHANGES_CHANNEL = "agentik_changes"
Deliver = Callable[["Store", list[int]], None]


class Store:
    """A database and its transactions. `on_deliveries`, given by whoever opens the store (the
    services' opening, services/opening.py), is called with the webhook deliveries a unit wrote,
    once it has committed; the store itself sends nothing."""

    def __init__(self, url: str, on_deliveries: Deliver | None = None) -> None:
        self.url = url
        self.on_deliveries = on_deliveries
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            _check_sqlite_path(url)
        with translate_errors(url):
            self.engine: Engine = create_engine(url, **_engine_options(url))
        if self.is_sqlite:
            event.listen(self.engine, "connect", _on_sqlite_connect)
            event.listen(self.engine, "begin", _on_sqlite_begin)

    @property
    def dialect(self) -> str:
        return str(self.engine.dialect.name)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with translate_errors(self.url), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Unit]:
        """One unit of work: a short write transaction (BEGIN IMMEDIATE on SQLite), committed on
        success, rolled back on any error."""
        with translate_errors(self.url), self.engine.connect() as conn:
            conn.info["immediate"] = True
            with conn.begin(), Session(bind=conn, expire_on_commit=False) as session:
                unit = Unit(session)
                yield unit
                unit.finish()
                if not self.is_sqlite:  # wakes the live views (SQLite's see PRAGMA data_version move)
                    session.execute(text("SELECT pg_notify(:channel, '')"), {"channel": CHANGES_CHANNEL})
                session.flush()
        if unit.deliveries and self.on_deliveries is not None:
            self.on_deliveries(self, unit.deliveries)

    def migrate(self) -> None:
        """Bring the schema up to date. A database written by a newer agentik, or one that holds
        tables but is not agentik's, is refused before anything is written to it."""
        with translate_errors(self.url), self.engine.connect() as conn:
            applied = _applied_migrations(conn)
            check_known(self.url, conn, applied)
            if self.is_sqlite:
                conn.rollback()  # the pragma cannot change the journal inside a transaction
                driver: Any = conn.connection.driver_connection
                driver.execute("PRAGMA journal_mode = WAL")
        if set(MIGRATION_NAMES) <= applied:
            return
        with translate_errors(self.url), self.engine.connect() as conn:
            # A migration that rebuilds a table must not set off ON DELETE actions when the old copy
            # is dropped; the pragma is a no-op inside a transaction, so it is set before BEGIN.
            self._foreign_keys(conn, False)
            try:
                conn.info["immediate"] = True
                with conn.begin():
                    if not self.is_sqlite:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
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
        with translate_errors(self.url), self.engine.connect() as conn:
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
        # another agentik may have set the tables up between the two reads (it commits them with
        # their migrations): what it recorded counts
        if "agentik_migrations" in tables and _applied_migrations(conn):
            return
        if tables:
            raise UsageError(
                f"{mask_url(url)} holds tables of another program ({', '.join(sorted(tables)[:3])}"
                f"{', ...' if len(tables) > 3 else ''}), not agentik's",
                hint="give agentik a database of its own with --db or AGENTIK_DB",
            )


def _applied_migrations(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("agentik_migrations"):
        return set()
    return set(conn.execute(text("SELECT name FROM agentik_migrations")).scalars())


_stores: dict[str, Store] = {}


def get_store(db: str | None = None, on_deliveries: Deliver | None = None) -> Store:
    """The store for this process, opened and migrated on first use (and given `on_deliveries`)."""
    url = resolve_url(db)
    store = _stores.get(url)
    if store is None:
        store = Store(url, on_deliveries)
        try:
            store.migrate()
        except BaseException:
            store.dispose()  # a refused database leaves no connection behind
            raise
        _stores[url] = store
    return store


def reset_stores() -> None:
    """Close every store this process opened. Closing the last connection to a SQLite database
    checkpoints its WAL into the main file, so a copy of agentik.db is never a bare header with
    everything in agentik.db-wal (leaving through os._exit would skip it)."""
    for store in _stores.values():
        store.dispose()
    _stores.clear()
