"""Many ledger rows written the fastest way each database has (an import): multi-row INSERTs through
the SQLite driver, COPY on PostgreSQL. The totals are moved afterwards by store/ledger.py."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from operator import itemgetter
from typing import Any

from sqlmodel import Session


def insert_all(
    session: Session, batches: Iterable[list[dict[str, Any]]], after_batch: Callable[[], None] | None
) -> int:
    """SQLite: the rows go in as multi-row INSERTs through the driver (one statement for hundreds
    of rows costs a third less than Core's executemany of a statement a row). A writer thread was
    tried: it gains only with a core to spare and loses under load, as the GIL goes back and forth."""
    driver: Any = session.connection().connection.driver_connection
    try:
        limit = driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    except AttributeError:  # Python < 3.11: SQLite's smallest default
        limit = 999
    cursor = driver.cursor()
    texts: dict[tuple[tuple[str, ...], int], str] = {}
    count = 0
    try:
        for batch in batches:
            if batch:
                for sql, params in _statements(batch, texts, limit):
                    cursor.execute(sql, params)
                count += len(batch)
            if after_batch is not None:
                after_batch()
    finally:
        cursor.close()
    return count


def _statements(rows: list[dict[str, Any]], texts: dict[Any, str], limit: int) -> list[tuple[str, list[Any]]]:
    """The INSERTs of a batch of rows, each with its parameters in one flat list."""
    keys = tuple(rows[0])
    take = itemgetter(*keys)
    per_statement = max(1, min(1000, limit // len(keys)))
    statements = []
    for first in range(0, len(rows), per_statement):
        chunk = rows[first : first + per_statement]
        params: list[Any] = []
        extend = params.extend
        for row in chunk:
            # SQLAlchemy's text form of a datetime on SQLite: the UTC wall time to the microsecond
            row["timestamp"] = row["timestamp"].replace(tzinfo=None).isoformat(" ", "microseconds")
            extend(take(row) if len(keys) > 1 else (take(row),))
        sql = texts.get((keys, len(chunk)))
        if sql is None:
            one = "(" + ", ".join("?" * len(keys)) + ")"
            sql = texts[(keys, len(chunk))] = (
                f"INSERT INTO costs ({', '.join(keys)}) VALUES {', '.join([one] * len(chunk))}"
            )
        statements.append((sql, params))
    return statements


def copy_all(session: Session, batches: Iterable[list[dict[str, Any]]], after_batch: Callable[[], None] | None) -> int:
    """PostgreSQL: one COPY ... FROM STDIN through psycopg 3, in the unit's own transaction. The data
    is sent by psycopg's own writer thread while this one reads the next rows, and the server stores
    them meanwhile in its own process."""
    from psycopg.copy import QueuedLibpqWriter

    driver: Any = session.connection().connection.driver_connection
    count = 0
    with driver.cursor() as cursor, ExitStack() as stack:
        write_row: Any = None
        for batch in batches:
            if batch:
                if write_row is None:  # the columns are the first row's
                    keys = list(batch[0])
                    take = itemgetter(*keys)
                    columns = ", ".join(f'"{key}"' for key in keys)
                    copy = cursor.copy(f"COPY costs ({columns}) FROM STDIN", writer=QueuedLibpqWriter(cursor))
                    write_row = stack.enter_context(copy).write_row
                for row in batch:
                    write_row(take(row))
                count += len(batch)
            if after_batch is not None:
                after_batch()
    return count
