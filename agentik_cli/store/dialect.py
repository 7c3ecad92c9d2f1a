"""What differs between SQLite and PostgreSQL, in one place: the store's modules ask here rather than
branching on the dialect themselves.

Everything takes a dialect name, a Connection or a Session, so that a migration (a Connection) and a
store module (a Session or a Unit's session) ask the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import BigInteger, Integer, func

SQLITE = "sqlite"
POSTGRES = "postgresql"

# Full-text search on PostgreSQL: the tsvector column kept by a trigger on messages, and the text
# search configuration used both to index and to query ('simple': no stemming and no stop words, so a
# plain word finds the same messages as SQLite's FTS5 does).
SEARCH_COLUMN = "search_vector"
SEARCH_CONFIG = "simple"

# A count, a token count or milliseconds: INTEGER on SQLite (whose integers are 64-bit anyway, and
# whose schema stays as it always was), BIGINT on PostgreSQL, where an INTEGER stops at 2**31: a
# team's message count or an agent's milliseconds of replies get there.
COUNT = Integer().with_variant(BigInteger(), "postgresql")


def dialect_name(bind: Any) -> str:
    """'sqlite' or 'postgresql' for a dialect name, a Connection, an Engine or a Session."""
    if isinstance(bind, str):
        return bind
    if hasattr(bind, "get_bind"):  # a Session
        bind = bind.get_bind()
    return str(bind.dialect.name)


def is_postgres(bind: Any) -> bool:
    return dialect_name(bind) == POSTGRES


def is_sqlite(bind: Any) -> bool:
    return dialect_name(bind) == SQLITE


def quarter_hour_sql(bind: Any, column: str = "timestamp") -> str:
    """SQL for the UTC quarter hour a ledger timestamp falls in: the key of cost_buckets.

    SQLite stores datetimes as text ('2026-11-26 13:07:12.000000', UTC), so the quarter hour is cut
    out of the text in the same form. On PostgreSQL the column is a timestamptz; counting 900-second
    steps from the epoch gives the UTC quarter hour whatever the session's time zone."""
    if is_postgres(bind):
        return f"to_timestamp(floor(extract(epoch FROM {column}) / 900) * 900)"
    return (
        f"substr({column}, 1, 14) || printf('%02d', (CAST(substr({column}, 15, 2) AS INTEGER) / 15) * 15) "
        "|| ':00.000000'"
    )


def insert(bind: Any, table: Any) -> Any:
    """The dialect's INSERT construct for `table`: both have on_conflict_do_update/do_nothing and
    `.excluded`."""
    if is_postgres(bind):
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def upsert(
    session: Any,
    table: Any,
    rows: Sequence[Mapping[str, Any]],
    keys: Iterable[str],
    *,
    add: Iterable[str] = (),
    replace: Iterable[str] = (),
) -> None:
    """INSERT rows; where a row with the same `keys` exists, add the new values of the `add` columns
    to it and overwrite the `replace` columns (one statement, executed for many rows). Without `add`
    and `replace`, an existing row is left as it is (ON CONFLICT DO NOTHING)."""
    if not rows:
        return
    table = getattr(table, "__table__", table)
    stmt = insert(session, table)
    updates: dict[str, Any] = {column: table.c[column] + stmt.excluded[column] for column in add}
    updates.update({column: stmt.excluded[column] for column in replace})
    if updates:
        stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
    session.execute(stmt, list(rows))


def set_sequences_above_ids(conn: Any, tables: Iterable[str]) -> None:
    """After rows were written with their ids given (a copy), make the next id of each table come
    after every id it holds (PostgreSQL's sequences and SQLite's AUTOINCREMENT counters never look
    at the rows), and never below where the counter already was: ids are never reused."""
    from sqlalchemy import text

    for table in tables:
        raise_counter(conn, table, int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one()))


def raise_counter(conn: Any, table: str, value: int) -> None:
    """Make the next id `table` hands out come after `value` (never lowering its counter)."""
    from sqlalchemy import text

    if value <= 0:
        return  # an unused counter starts at 1 still
    if is_postgres(conn):
        sequence = conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
        conn.execute(
            text(f"SELECT setval('{sequence}', greatest(:value, (SELECT last_value FROM {sequence})), true)"),
            {"value": value},
        )
        return
    values = {"t": table, "s": value}
    seq = conn.execute(text("SELECT seq FROM sqlite_sequence WHERE name = :t"), values).scalar()
    if seq is None:
        conn.execute(text("INSERT INTO sqlite_sequence (name, seq) VALUES (:t, :s)"), values)
    elif int(seq) < value:
        conn.execute(text("UPDATE sqlite_sequence SET seq = :s WHERE name = :t"), values)


def greatest(bind: Any, *values: Any) -> Any:
    """The largest of the values, in SQL: SQLite's many-argument max(), PostgreSQL's greatest()."""
    return func.greatest(*values) if is_postgres(bind) else func.max(*values)


def least(bind: Any, *values: Any) -> Any:
    """The smallest of the values, in SQL: SQLite's many-argument min(), PostgreSQL's least()."""
    return func.least(*values) if is_postgres(bind) else func.min(*values)
