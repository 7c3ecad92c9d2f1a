"""Many ledger rows at once (`costs import`), written the fastest way each database has, inside the
unit's one transaction, the running totals then moved once by the one rule (ledger.move_totals).

Rows arrive as lists in the order of the columns named with them, their time an aware UTC datetime
(or on SQLite already its text, `sqlite_times`);
the rows are written as they come, a batch at a time, so an import of any size holds one batch.

SQLite: multi-row INSERTs through the driver. Maintaining the ledger's ten indexes costs more than
the rows themselves, so an import that grows past both BULK_ROWS and the ledger it joins drops the
plain indexes and builds them again at the end (sorted in one pass, which is cheaper than keeping
them up to date row by row). The unique ones stay, to check what is written. SQLite's DDL is
transactional: an import that fails rolls the indexes back with the rows, and readers on their own
snapshot never see them gone.

PostgreSQL: one binary COPY ... FROM STDIN (psycopg 3), its data sent by psycopg's writer thread while
this one reads the next rows, and stored meanwhile by the server in its own process. The indexes stay:
dropping one takes a lock that would keep every reader of the ledger (the status line, a budget
check before a chat) waiting until the import commits."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlmodel import Session

from agentik_cli.store import dialect
from agentik_cli.store.ledger import COSTS, lock_ledger, move_totals

if TYPE_CHECKING:
    from agentik_cli.store.unit import Unit

# an import past this many rows (and past the ledger's size) builds the plain indexes afresh at the end
BULK_ROWS = 20_000
# SQLite's page cache while an index is built: its sort then runs in memory, in one pass
INDEX_CACHE_KIB = 32 * 1024

Batches = Iterable[list[list[Any]]]


def import_costs(
    unit: Unit, columns: Sequence[str], batches: Batches, after_batch: Callable[[], None] | None = None
) -> int:
    """Write every batch of rows (lists in the order of `columns`, each naming its user; they may be
    changed in place), then move every total by the rows written, summed by the database in one
    pass. The ledger is locked first, so the rows after the highest id are this import's alone.
    Returns how many rows were written."""
    session = unit.session
    lock_ledger(session)
    after = session.execute(select(func.coalesce(func.max(COSTS.c.id), 0))).scalar_one()
    write = _copy_all if dialect.is_postgres(session) else _insert_all
    count = write(session, list(columns), batches, after_batch, after)
    if count:
        move_totals(session, COSTS.c.id > after, 1)
    unit.emit("costs.imported", {"imported": count})
    return count


def _insert_all(
    session: Session, columns: list[str], batches: Batches, after_batch: Callable[[], None] | None, after: int
) -> int:
    """SQLite: each batch as multi-row INSERTs through the driver (one statement for hundreds of rows
    costs a third less than an executemany of one row each). A writer thread was tried: it gains
    only with a core to spare and loses under load, as the GIL goes back and forth."""
    driver: Any = session.connection().connection.driver_connection
    try:
        limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python < 3.11: SQLite's smallest default
        limit = 999
    per_statement = max(1, min(1000, limit // len(columns)))
    stamp = columns.index("timestamp")
    one = "(" + ", ".join("?" * len(columns)) + ")"
    head = f"INSERT INTO costs ({', '.join(columns)}) VALUES "
    texts: dict[int, str] = {}
    # the ledger's ids are never reused, so the highest is at least its row count
    dropped: list[str] | None = None
    count = 0
    cursor = driver.cursor()
    try:
        for batch in batches:
            for first in range(0, len(batch), per_statement):
                chunk = batch[first : first + per_statement]
                params: list[Any] = []
                extend = params.extend
                if chunk and type(chunk[0][stamp]) is not str:
                    sqlite_times(chunk, stamp)
                for row in chunk:
                    extend(row)
                sql = texts.get(len(chunk))
                if sql is None:
                    sql = texts[len(chunk)] = head + ", ".join([one] * len(chunk))
                cursor.execute(sql, params)
            count += len(batch)
            if dropped is None and count >= max(BULK_ROWS, after):
                dropped = _drop_plain_indexes(driver)
            if after_batch is not None:
                after_batch()
        if dropped:
            _build_indexes(driver, dropped)
    finally:
        cursor.close()
    return count


def sqlite_times(rows: list[list[Any]], stamp: int) -> None:
    """Each row's time (at index `stamp`, an aware UTC datetime) made the text SQLite keeps, in place:
    SQLAlchemy's text form of a datetime, the UTC wall time to the microsecond. Rows whose times are
    made so already (by a forked parser, services/cost_rows.py) are written as they are."""
    for row in rows:
        row[stamp] = row[stamp].isoformat(" ", "microseconds")[:26]


def _drop_plain_indexes(driver: Any) -> list[str]:
    """Drop the ledger's indexes that only speed up reads; returns the SQL that makes them again."""
    unique = {row[1] for row in driver.execute("PRAGMA index_list(costs)") if row[2]}
    found = driver.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'costs' AND sql IS NOT NULL"
    ).fetchall()
    plain = [(name, sql) for name, sql in found if name not in unique]
    for name, _ in plain:
        driver.execute(f'DROP INDEX "{name}"')
    return [sql for _, sql in plain]


def _build_indexes(driver: Any, statements: list[str]) -> None:
    """Make the dropped indexes again, as they were, with a page cache big enough for the sorts."""
    cache = driver.execute("PRAGMA cache_size").fetchone()[0]
    driver.execute(f"PRAGMA cache_size = -{INDEX_CACHE_KIB}")
    try:
        for sql in statements:
            driver.execute(sql)
    finally:
        driver.execute(f"PRAGMA cache_size = {int(cache)}")


def _column_types(cursor: Any, columns: list[str]) -> list[int]:
    """The type of each column as the server has it, which a binary COPY must name."""
    found = dict(
        cursor.execute(
            "SELECT attname, atttypid FROM pg_attribute WHERE attrelid = 'costs'::regclass AND attnum > 0"
        ).fetchall()
    )
    return [int(found[name]) for name in columns]


def _copy_all(
    session: Session, columns: list[str], batches: Batches, after_batch: Callable[[], None] | None, after: int
) -> int:
    """PostgreSQL: one COPY ... FROM STDIN through psycopg 3, in the unit's own transaction. The binary
    format: psycopg's C dumpers make it four times faster on this side than text, and the server
    reads it without parsing numbers and times."""
    from psycopg.copy import QueuedLibpqWriter

    driver: Any = session.connection().connection.driver_connection
    count = 0
    with driver.cursor() as cursor, ExitStack() as stack:
        write_row: Any = None
        for batch in batches:
            if batch:
                if write_row is None:
                    types = _column_types(cursor, columns)  # before the COPY, which holds the connection
                    names = ", ".join(f'"{name}"' for name in columns)
                    copy = cursor.copy(
                        f"COPY costs ({names}) FROM STDIN (FORMAT BINARY)", writer=QueuedLibpqWriter(cursor)
                    )
                    copying = stack.enter_context(copy)
                    copying.set_types(types)
                    write_row = copying.write_row
                for row in batch:
                    write_row(row)
                count += len(batch)
            if after_batch is not None:
                after_batch()
    return count
