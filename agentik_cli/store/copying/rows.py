"""The rows of a copy (store/copying): what is copied, what earlier runs copied, and reading and
writing rows in bulk on either database."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection

from agentik_cli.store import dialect
from agentik_cli.store.models import Agent, ChatSession, Cost, Message, ToolCallRecord

BATCH = 5_000
TABLES = ("agents", "sessions", "messages", "costs", "tool_calls")
MODELS: dict[str, Any] = {
    "agents": Agent,
    "sessions": ChatSession,
    "messages": Message,
    "costs": Cost,
    "tool_calls": ToolCallRecord,
}
# why a row was not copied (the summary's `skipped`)
REASONS = ("already_there", "removed_in_target", "from_target")
PREFER = ("target", "source")  # who keeps a price both set differently; the first is the default
# the rows a row refers to: (table, whether it cannot go without it); a cost row's agent is mapped
# apart (the ledger keeps a removed agent's id)
REFERENCES: dict[str, dict[str, tuple[str, bool]]] = {
    "sessions": {"agent_id": ("agents", True)},
    "messages": {"agent_id": ("agents", True), "session_id": ("sessions", True)},
    "costs": {"session_id": ("sessions", False), "conversation_id": ("messages", False)},
    "tool_calls": {"agent_id": ("agents", True), "session_id": ("sessions", True), "message_id": ("messages", True)},
}
PRICES = ("input_nd", "output_nd", "cache_read_nd", "cache_write_nd")
IN_LIMIT = 500  # ids bound a statement at a time

Progress = Callable[[str, int, int], None]  # (table, rows done, rows to do)
Origin = tuple[str, int]  # (store id, row id there)


def table_of(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), IN_LIMIT):
        yield items[start : start + IN_LIMIT]


@dataclass
class CopyState:
    """What earlier runs copied from one source (kept as JSON in the target's settings): the highest
    source id considered a table, and the target's id of each source agent."""

    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    agents: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, value: str | None) -> CopyState:
        if not value:
            return cls()
        data = json.loads(value)  # the id offsets an agentik before 0012_origins kept are origins now
        return cls(
            copied={t: int(data["copied"].get(t, 0)) for t in TABLES},  # a table added since: 0
            agents={int(k): int(v) for k, v in data["agents"].items()},
        )

    def dump(self) -> str:
        return json.dumps({"copied": self.copied, "agents": self.agents})


def utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def highest_id(conn: Connection, table: str) -> int:
    """The highest id `table` holds or has handed out (a removed row's id is never given again)."""
    highest = int(conn.execute(text(f"SELECT coalesce(max(id), 0) FROM {table}")).scalar_one())
    if dialect.is_postgres(conn):
        sequence = conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')")).scalar_one()
        row = conn.execute(text(f"SELECT last_value, is_called FROM {sequence}")).one()
        counter = int(row[0]) if row[1] else 0
    else:
        counter = int(
            conn.execute(
                text("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = :t"), {"t": table}
            ).scalar_one()
        )
    return max(highest, counter)


def reserve(conn: Connection, table: str, upto: int) -> None:
    """Move the table's counter to `upto` before the rows go in: other writers on a PostgreSQL
    target take ids above the copied ones while the copy runs (a sequence is not transactional;
    SQLite's writer holds the whole database anyway), and an id the copy gives a removed agent is
    never handed out later."""
    dialect.raise_counter(conn, table, upto)


def count_new(conn: Connection, table: Table, after: int) -> tuple[int, int, int]:
    """(rows, lowest id, highest id) of the source rows above `after`."""
    row = conn.execute(
        select(func.count(), func.coalesce(func.min(table.c.id), 0), func.coalesce(func.max(table.c.id), 0)).where(
            table.c.id > after
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def rows_after(conn: Connection, table: Table, after: int) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(table).where(table.c.id > after).order_by(table.c.id)
    )
    for part in result.mappings().partitions(BATCH):
        yield [dict(row) for row in part]


def rows_all(conn: Connection, table: Table) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(select(table).order_by(table.c.id)).mappings()]


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [c.name for c in table.columns]
    if dialect.is_postgres(conn):
        json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
        raw: Any = conn.connection.driver_connection
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as pipe:
            for row in rows:
                pipe.write_row([json.dumps(row[c]) if c in json_columns else utc(row[c]) for c in columns])
        return
    conn.execute(table.insert(), [{c: utc(row[c]) for c in columns} for row in rows])


def sums_of(conn: Connection, where: str = "") -> dict[str, int]:
    row = conn.execute(
        text(
            "SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
            "coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), "
            f"coalesce(sum(total_cost_nd), 0) FROM costs {where}"
        )
    ).one()
    keys = ("costs", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_nd")
    return {k: int(v) for k, v in zip(keys, row, strict=True)}
