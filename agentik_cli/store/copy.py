"""`agentik db copy --to URL`: every agent, session, message, cost row, price override and per-user
default agent of one store into another (SQLite or PostgreSQL, either way), safe to re-run.

How ids are carried. An id is kept when it is free in the target (above every id the target holds
or has ever handed out, so that ids are never reused there either); otherwise the rows of one run
are moved up by one offset a table, so that every reference (a message's session, a cost row's
message) moves with them. What was copied is remembered in the target, in the settings row
`copy:<source store id>`: the highest source id copied a table, the offsets (as ranges of source
ids), and the agent map (an agent of the same name in the target is the same agent: a local
"helper" lands in the team's "helper"; an agent removed from the source still has an id in its
ledger, and gets an id of its own in the target). A second run copies only rows above the
highest ids copied, so nothing is copied twice. The source gets a `store_id` setting the first
time it is copied from.

The whole copy is one transaction on the target: all of it or none of it. On PostgreSQL the rows
go in with COPY, and each table's sequence is first moved past the ids the copy will use, so that
other writers meanwhile take ids above them. The target's running totals (cost_totals,
cost_buckets, the sessions' and agents' counters) are moved by the copied rows' sums, summed by
SQL over exactly those rows; then the counts and sums of tokens and nano-dollars of what the
target holds from this source are checked against the source's."""

from __future__ import annotations

import bisect
import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select, text
from sqlalchemy.engine import Connection

from agentik_cli.errors import StoreError
from agentik_cli.store import dialect
from agentik_cli.store.engine import Store, mask_url, translate_errors
from agentik_cli.store.models import Agent, ChatSession, Cost, Message, PriceOverride, Setting, ToolCallRecord
from agentik_cli.store.sql import SUM_COLUMNS  # checked on both sides after a copy

BATCH = 5_000
TABLES = ("agents", "sessions", "messages", "costs", "tool_calls")
_COPY_LOCK = 0x6167656E74696C  # one copy at a time into a PostgreSQL target

Progress = Callable[[str, int, int], None]  # (table, rows done, rows to do)


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


@dataclass
class CopyState:
    """What earlier runs copied from one source (kept as JSON in the target's settings)."""

    copied: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TABLES, 0))
    # per table: [source id from which, offset] pairs, ascending
    ranges: dict[str, list[list[int]]] = field(default_factory=lambda: {t: [] for t in TABLES[1:]})
    agents: dict[int, int] = field(default_factory=dict)

    @classmethod
    def load(cls, value: str | None) -> CopyState:
        if not value:
            return cls()
        data = json.loads(value)
        return cls(
            copied={t: int(data["copied"].get(t, 0)) for t in TABLES},  # a table added since: 0
            ranges={t: [[int(a), int(b)] for a, b in data["ranges"].get(t, [])] for t in TABLES[1:]},
            agents={int(k): int(v) for k, v in data["agents"].items()},
        )

    def dump(self) -> str:
        return json.dumps({"copied": self.copied, "ranges": self.ranges, "agents": self.agents})

    def map(self, table: str, source_id: int | None) -> int | None:
        """The target's id of a source row (None stays None)."""
        if source_id is None:
            return None
        if table == "agents":
            return self.agents[source_id]
        ranges = self.ranges[table]
        at = bisect.bisect_right([start for start, _ in ranges], source_id) - 1
        if at < 0:
            raise StoreError(f"db copy: source {table} id {source_id} was never copied")
        return source_id + ranges[at][1]

    def target_ids(self, table: str) -> list[tuple[int, int]]:
        """The target id intervals holding this source's rows of `table`."""
        ranges = self.ranges[table]
        out = []
        for i, (start, offset) in enumerate(ranges):
            end = ranges[i + 1][0] - 1 if i + 1 < len(ranges) else self.copied[table]
            if end >= start:
                out.append((start + offset, end + offset))
        return out


def copy(source: Store, target: Store, *, progress: Progress | None = None) -> dict[str, Any]:
    """Copy what `source` holds and `target` does not yet hold from it; returns what was copied
    and the check of both sides."""
    if _same(source, target):
        from agentik_cli.errors import UsageError

        raise UsageError("db copy: the target is the store being copied")
    target.migrate()
    source_id = _source_id(source)
    # the same database reached by another URL (localhost or the socket, another parameter order)
    # holds the same store_id
    with target.read() as session:
        target_id = session.get(Setting, "store_id")
    if target_id is not None and target_id.value == source_id:
        from agentik_cli.errors import UsageError

        raise UsageError("db copy: the target is the store being copied (the same database by another URL)")
    key = f"copy:{source_id}"
    with translate_errors(target.url), target.engine.connect() as tconn:
        tconn.info["immediate"] = True
        with tconn.begin():
            if dialect.is_postgres(tconn):
                tconn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _COPY_LOCK})
            settings = _table(Setting)
            state = CopyState.load(tconn.execute(select(settings.c.value).where(settings.c.key == key)).scalar())
            with translate_errors(source.url), _snapshot(source) as sconn:
                copied = _copy_rows(sconn, tconn, state, progress)
                extra = _copy_settings_and_prices(sconn, tconn, state)
                _set_state(tconn, key, state)
                check = _check(sconn, tconn, state)
    return {
        "from": mask_url(source.url),
        "to": mask_url(target.url),
        "copied": copied,
        **extra,
        "check": check,
    }


@contextmanager
def _snapshot(source: Store) -> Iterator[Connection]:
    """One view of the source for the whole copy, whatever is written to it meanwhile: SQLite's
    read transaction is one already; PostgreSQL's needs REPEATABLE READ (a session created between
    reading the sessions and the cost rows would otherwise be mentioned but not copied)."""
    with source.engine.connect() as conn:
        if dialect.is_postgres(conn):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            yield conn


def _same(a: Store, b: Store) -> bool:
    from agentik_cli.store.engine import sqlite_path

    if a.is_sqlite and b.is_sqlite:
        pa, pb = sqlite_path(a.url), sqlite_path(b.url)
        return pa is not None and pb is not None and pa.resolve() == pb.resolve()
    return a.url == b.url


def _source_id(source: Store) -> str:
    """The source's own id (a setting made on its first copy): the key of what the target holds
    from it, whatever path or URL it is reached by."""
    with source.write() as unit:
        session = unit.session
        setting = session.get(Setting, "store_id")
        if setting is None:
            setting = Setting(key="store_id", value=uuid.uuid4().hex)
            session.add(setting)
        return setting.value


def _set_state(conn: Connection, key: str, state: CopyState) -> None:
    dialect.upsert(conn, Setting, [{"key": key, "value": state.dump()}], ["key"], replace=["value"])


def _utc(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def _high(conn: Connection, table: str) -> int:
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


def _reserve(conn: Connection, table: str, upto: int) -> None:
    """Move the table's counter to `upto` before the rows go in: other writers on a PostgreSQL
    target take ids above the copied ones while the copy runs (a sequence is not transactional;
    SQLite's writer holds the whole database anyway), and an id the copy gives a removed agent is
    never handed out later."""
    dialect.raise_counter(conn, table, upto)


def _count_new(conn: Connection, table: Table, after: int) -> tuple[int, int, int]:
    """(rows, lowest id, highest id) of the source rows above `after`."""
    row = conn.execute(
        select(func.count(), func.coalesce(func.min(table.c.id), 0), func.coalesce(func.max(table.c.id), 0)).where(
            table.c.id > after
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _rows(conn: Connection, table: Table, after: int) -> Iterator[list[dict[str, Any]]]:
    result = conn.execution_options(stream_results=True, yield_per=BATCH).execute(
        select(table).where(table.c.id > after).order_by(table.c.id)
    )
    for part in result.mappings().partitions(BATCH):
        yield [dict(row) for row in part]


def _copy_rows(sconn: Connection, tconn: Connection, state: CopyState, progress: Progress | None) -> dict[str, int]:
    copied = dict.fromkeys(TABLES, 0)
    # agents: by name, else their own id when free, else a new one; also every agent id the source's
    # ledger mentions (removed agents keep their id on their cost rows)
    agents = _table(Agent)
    high = _high(tconn, "agents")
    by_name = dict(tconn.execute(select(agents.c.name_key, agents.c.id)).all())
    mentioned = set(sconn.execute(select(_table(Cost).c.agent_id).distinct()).scalars()) - {None}
    new_agents = [a for a in _rows_all(sconn, agents) if a["id"] not in state.agents]
    rows = []
    for agent in new_agents:
        if agent["name_key"] in by_name:
            state.agents[agent["id"]] = by_name[agent["name_key"]]
            continue
        target_id = agent["id"] if agent["id"] > high else None
        if target_id is None:
            high += 1
            target_id = high
        high = max(high, target_id)
        state.agents[agent["id"]] = target_id
        rows.append({**agent, "id": target_id})
    for removed in sorted(mentioned - set(state.agents)):
        target_id = removed if removed > high else high + 1
        high = max(high, target_id)
        state.agents[removed] = target_id
    _reserve(tconn, "agents", high)
    _insert(tconn, agents, rows)
    copied["agents"] = len(rows)
    if progress:
        progress("agents", len(rows), len(rows))

    spans: dict[str, tuple[int, int]] = {}
    tables = (("sessions", ChatSession), ("messages", Message), ("costs", Cost), ("tool_calls", ToolCallRecord))
    for name, model in tables:
        table = _table(model)
        count, lowest, highest = _count_new(sconn, table, state.copied[name])
        if not count:
            continue
        target_high = _high(tconn, name)
        offset = 0 if lowest > target_high else target_high - lowest + 1
        state.ranges[name].append([lowest, offset])
        _reserve(tconn, name, highest + offset)
        spans[name] = (lowest + offset, highest + offset)
        done = 0
        for batch in _rows(sconn, table, state.copied[name]):
            for row in batch:
                row["id"] += offset
                if "agent_id" in row:
                    row["agent_id"] = state.map("agents", row["agent_id"])
                if name == "messages":
                    row["session_id"] = state.map("sessions", row["session_id"])
                if name == "costs":
                    row["session_id"] = state.map("sessions", row["session_id"])
                    row["conversation_id"] = state.map("messages", row["conversation_id"])
                if name == "tool_calls":
                    row["session_id"] = state.map("sessions", row["session_id"])
                    row["message_id"] = state.map("messages", row["message_id"])
            _insert(tconn, table, batch)
            done += len(batch)
            if progress:
                progress(name, done, count)
        state.copied[name] = highest
        copied[name] = count
    if dialect.is_postgres(tconn):
        # tables just filled by COPY have no statistics yet: without them PostgreSQL plans the
        # totals' correlated sums badly (29 s instead of 7 for 10,000 sessions)
        for name in ("sessions", "messages", "costs"):
            tconn.execute(text(f"ANALYZE {name}"))
    _move_totals(tconn, state, spans, [row["id"] for row in rows])
    for name in TABLES:
        dialect.set_sequences_above_ids(tconn, [name])
    return copied


def _rows_all(conn: Connection, table: Table) -> list[dict[str, Any]]:
    return [dict(row) for row in conn.execute(select(table).order_by(table.c.id)).mappings()]


def _insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = [c.name for c in table.columns]
    if dialect.is_postgres(conn):
        json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
        raw: Any = conn.connection.driver_connection
        statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(statement) as pipe:
            for row in rows:
                pipe.write_row([json.dumps(row[c]) if c in json_columns else _utc(row[c]) for c in columns])
        return
    conn.execute(table.insert(), [{c: _utc(row[c]) for c in columns} for row in rows])


def _move_totals(conn: Connection, state: CopyState, spans: dict[str, tuple[int, int]], agent_ids: list[int]) -> None:
    """Move the target's running totals by what the copied rows add, summed by SQL over exactly
    those rows."""
    if "costs" in spans:
        low, high = spans["costs"]
        sums = (
            "count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
            "coalesce(sum(total_cost_nd), 0), sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END), "
            "sum(CASE WHEN estimated THEN 1 ELSE 0 END), sum(CASE WHEN over_limit THEN 1 ELSE 0 END)"
        )
        columns = ", ".join(SUM_COLUMNS)
        updates = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for table in ("cost_totals",) for c in SUM_COLUMNS)
        conn.execute(
            text(
                f"INSERT INTO cost_totals (agent_key, model, provider, user_name, agent_name, {columns}) "
                f"SELECT coalesce(agent_id, 0), model, provider, user_name, max(agent_name), {sums} FROM costs "
                "WHERE id BETWEEN :low AND :high GROUP BY coalesce(agent_id, 0), model, provider, user_name "
                f"ON CONFLICT (agent_key, model, provider, user_name) DO UPDATE SET {updates}"
            ),
            {"low": low, "high": high},
        )
        quarter = dialect.quarter_hour_sql(conn)
        bucket_updates = updates.replace("cost_totals.", "cost_buckets.")
        # SQLite's quarter hour holds ':00' (a bind parameter to text()): the driver's SQL, ids inline
        conn.exec_driver_sql(
            f"INSERT INTO cost_buckets (start, {columns}) SELECT {quarter}, {sums} FROM costs "
            f"WHERE id BETWEEN {int(low)} AND {int(high)} GROUP BY {quarter} "
            f"ON CONFLICT (start) DO UPDATE SET {bucket_updates}"
        )
    # the sessions and agents the copied rows belong to: their counters from the target's own rows
    touched_sessions: set[int] = set()
    touched_agents: set[int] = set(agent_ids)
    for name in ("sessions", "messages", "costs"):
        if name not in spans:
            continue
        low, high = spans[name]
        column = "id" if name == "sessions" else "session_id"
        touched_sessions |= set(
            conn.execute(
                text(f"SELECT DISTINCT {column} FROM {name} WHERE id BETWEEN :l AND :h AND {column} IS NOT NULL"),
                {"l": low, "h": high},
            ).scalars()
        )
    if touched_sessions:
        ids = sorted(touched_sessions)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join(str(int(i)) for i in chunk)
            conn.execute(
                text(
                    "UPDATE sessions SET "
                    "message_count = (SELECT count(*) FROM messages m WHERE m.session_id = sessions.id), "
                    "input_tokens = coalesce((SELECT sum(c.input_tokens) FROM costs c "
                    "WHERE c.session_id = sessions.id), 0), "
                    "output_tokens = coalesce((SELECT sum(c.output_tokens) FROM costs c "
                    "WHERE c.session_id = sessions.id), 0), "
                    "cost_nd = coalesce((SELECT sum(c.total_cost_nd) FROM costs c "
                    "WHERE c.session_id = sessions.id), 0), "
                    "unpriced_calls = (SELECT count(*) FROM costs c WHERE c.session_id = sessions.id "
                    "AND c.total_cost_nd IS NULL), "
                    "last_message_at = coalesce((SELECT max(m.timestamp) FROM messages m "
                    "WHERE m.session_id = sessions.id), last_message_at) "
                    f"WHERE id IN ({marks})"
                )
            )
            touched_agents |= set(
                conn.execute(text(f"SELECT DISTINCT agent_id FROM sessions WHERE id IN ({marks})")).scalars()
            )
    if touched_agents:
        marks = ", ".join(str(int(i)) for i in sorted(touched_agents))
        conn.execute(
            text(
                "UPDATE agents SET "
                "stat_sessions = (SELECT count(*) FROM sessions s WHERE s.agent_id = agents.id), "
                "stat_messages = (SELECT count(*) FROM messages m WHERE m.agent_id = agents.id), "
                "stat_response_ms = coalesce((SELECT sum(m.response_ms) FROM messages m "
                "WHERE m.agent_id = agents.id), 0), "
                "stat_responses = (SELECT count(m.response_ms) FROM messages m WHERE m.agent_id = agents.id), "
                "last_active_at = coalesce((SELECT max(m.timestamp) FROM messages m WHERE m.agent_id = agents.id), "
                "last_active_at) "
                f"WHERE id IN ({marks})"
            )
        )


def _copy_settings_and_prices(sconn: Connection, tconn: Connection, state: CopyState) -> dict[str, int]:
    """Price overrides (the newer of the two wins) and each user's default agent (the target's own
    choice stays)."""
    prices = _table(PriceOverride)
    theirs = {(r.provider, r.model_key): _utc(r.updated_at) for r in tconn.execute(select(prices))}
    rows = [
        {c: _utc(v) for c, v in row.items()}
        for row in (dict(r) for r in sconn.execute(select(prices)).mappings())
        if (row["provider"], row["model_key"]) not in theirs
        or _utc(row["updated_at"]) > theirs[(row["provider"], row["model_key"])]
    ]
    dialect.upsert(
        tconn,
        prices,
        rows,
        ["provider", "model_key"],
        replace=["model", "input_nd", "output_nd", "cache_read_nd", "cache_write_nd", "set_by", "updated_at"],
    )
    settings = _table(Setting)
    defaults = []
    ours = set(tconn.execute(select(settings.c.key).where(settings.c.key.like("default_agent:%"))).scalars())
    theirs_defaults = select(settings.c.key, settings.c.value).where(settings.c.key.like("default_agent:%"))
    for key, value in sconn.execute(theirs_defaults):
        if key in ours:
            continue  # the target's own choice stays
        try:
            mapped = state.agents.get(int(value))
        except ValueError:
            continue
        if mapped is not None:
            defaults.append({"key": key, "value": str(mapped)})
    dialect.upsert(tconn, settings, defaults, ["key"])
    return {"price_overrides": len(rows), "default_agents": len(defaults)}


def _sums(conn: Connection, where: str = "") -> dict[str, int]:
    row = conn.execute(
        text(
            "SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
            "coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), "
            f"coalesce(sum(total_cost_nd), 0) FROM costs {where}"
        )
    ).one()
    keys = ("costs", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_nd")
    return {k: int(v) for k, v in zip(keys, row, strict=True)}


def _within(state: CopyState, table: str) -> str:
    spans = state.target_ids(table)
    if not spans:
        return "WHERE 1 = 0"
    return "WHERE " + " OR ".join(f"id BETWEEN {int(a)} AND {int(b)}" for a, b in spans)


def _check(sconn: Connection, tconn: Connection, state: CopyState) -> dict[str, Any]:
    """The source's counts and sums against what the target holds from it; a difference is an
    error (and the transaction rolls back)."""
    source = _sums(sconn)
    target = _sums(tconn, _within(state, "costs"))
    for name in ("sessions", "messages", "tool_calls"):
        source[name] = int(sconn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one())
        target[name] = int(tconn.execute(text(f"SELECT count(*) FROM {name} {_within(state, name)}")).scalar_one())
    source["agents"] = int(sconn.execute(text("SELECT count(*) FROM agents")).scalar_one())
    ids = sorted({state.agents[a] for a in sconn.execute(text("SELECT id FROM agents")).scalars()})
    target["agents"] = (
        int(tconn.execute(text(f"SELECT count(*) FROM agents WHERE id IN ({', '.join(map(str, ids))})")).scalar_one())
        if ids
        else 0
    )
    # the ledger's own sums on the target against its maintained totals
    totals = tconn.execute(
        text(
            "SELECT coalesce(sum(calls), 0), coalesce(sum(cost_nd), 0), coalesce(sum(input_tokens), 0) FROM cost_totals"
        )
    ).one()
    ledger = tconn.execute(
        text("SELECT count(*), coalesce(sum(total_cost_nd), 0), coalesce(sum(input_tokens), 0) FROM costs")
    ).one()
    aggregates_equal = tuple(int(v) for v in totals) == tuple(int(v) for v in ledger)
    # rows removed from the source after an earlier copy stay in the target: more is not a loss
    lost = {k: source[k] - target[k] for k in source if source[k] > target[k]}
    if lost:
        short = ", ".join(f"{k}: {v} short" for k, v in lost.items())
        raise StoreError(f"db copy: the target would not hold what the source does ({short}); nothing was copied")
    return {"equal": source == target, "totals_equal_ledger": aggregates_equal, "source": source, "target": target}
