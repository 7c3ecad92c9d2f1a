"""`agentik db copy --to URL`: every agent, session, message, cost row, tool call, price override,
budget, webhook endpoint and per-user default agent of one store into another (SQLite or
PostgreSQL, either way), safe to re-run, and in any order of copies between any stores.

Where each row came from. Every store has an id (the `store_id` setting, made the first time it
takes part in a copy). A row written in a store has no origin: its origin is that store and its
own id. A copied row carries its origin in `origin_store` and `origin_id`: the source row's, if it
has one, else the source's id and the source row's id. A row is not copied (and the summary counts
it, by reason) when its origin is the target itself (`from_target`), when the target holds a row of
that origin (`already_there`: a copy by another path, L -> T, T -> L2, L2 -> T), or when the target
received that origin before and the row is gone (`removed_in_target`: removed or forgotten there;
also a row whose session, message or agent was). So a copy never doubles a row, and a row a target
removed or forgot, a secret with it, is never sent back to it.

What a target has received outlives the rows: `received_origins` holds, per origin store and table,
ranges of origin ids, written by the copy in the transaction that writes the rows. Ranges rather
than tombstones written where rows are removed: removals happen in many places (forget, sessions
and agents remove, cascades of foreign keys, ledger cleanup, and whatever comes next) while copies
happen in one, and a copy receives runs of consecutive ids, so a few ranges stand for millions of
rows.

How ids are carried. An id is kept when it is free in the target (above every id the target holds
or has ever handed out, so that ids are never reused there either); otherwise the rows of one run
are moved up by one offset a table. References (a message's session, a cost row's message) are
mapped by origin. What was copied is remembered in the target, in the settings row
`copy:<source store id>`: the highest source id considered a table (a second run reads only rows
above it) and the agent map (an agent of the same name in the target is the same agent: a local
"helper" lands in the team's "helper"; an agent removed from the source still has an id in its
ledger, and gets an id of its own in the target).

The whole copy is one transaction on the target: all of it or none of it. On PostgreSQL the rows
go in with COPY, and each table's sequence is first moved past the ids the copy will use, so that
other writers meanwhile take ids above them. The target's running totals (cost_totals,
cost_buckets, the sessions' and agents' counters) are moved by the copied rows' sums, summed by
SQL over exactly those rows; then the rows this copy wrote are checked against the source's rows
they came from (counts, tokens and nano-dollars), and the target's totals against its ledger."""

from __future__ import annotations

import bisect
import json
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from agentik_cli.errors import StoreError
from agentik_cli.store import dialect
from agentik_cli.store.engine import Store, mask_url, translate_errors
from agentik_cli.store.ledger import COSTS, move_totals
from agentik_cli.store.models import (
    Agent,
    Budget,
    ChatSession,
    Cost,
    Message,
    PriceOverride,
    ReceivedOrigins,
    Setting,
    ToolCallRecord,
    WebhookEndpoint,
)

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
_PRICES = ("input_nd", "output_nd", "cache_read_nd", "cache_write_nd")
_IN_LIMIT = 500  # ids bound a statement at a time
_COPY_LOCK = 0x6167656E74696C  # one copy at a time into a PostgreSQL target

Progress = Callable[[str, int, int], None]  # (table, rows done, rows to do)
Origin = tuple[str, int]  # (store id, row id there)


def _table(model: Any) -> Table:
    return model.__table__  # type: ignore[no-any-return]


def _chunks(items: list[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(items), _IN_LIMIT):
        yield items[start : start + _IN_LIMIT]


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


def copy(source: Store, target: Store, *, prefer: str = "target", progress: Progress | None = None) -> dict[str, Any]:
    """Copy what `source` holds and `target` does not hold (nor held) from anywhere; returns what
    was copied, what was not and why, and the check of the rows copied. `prefer` settles a price
    override both stores set differently."""
    if prefer not in PREFER:
        raise ValueError(prefer)
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
    # one unit of work on the target, as every write: all of it or none of it, and its change announced
    with target.write() as unit:
        tconn = unit.session.connection()
        if dialect.is_postgres(tconn):
            tconn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _COPY_LOCK})
        settings = _table(Setting)
        state = CopyState.load(tconn.execute(select(settings.c.value).where(settings.c.key == key)).scalar())
        with translate_errors(source.url), _snapshot(source) as sconn:
            run = _Run(sconn, unit.session, source_id, _target_id(tconn), state, progress)
            run.copy_rows()
            extra = {
                **_copy_prices(sconn, tconn, prefer),
                "default_agents": _copy_defaults(sconn, tconn, run),
                "budgets": _copy_budgets(sconn, tconn, run),
                "webhook_endpoints": _copy_endpoints(sconn, tconn, run),
            }
            _set_state(tconn, key, state)
            check = run.check()
    return {
        "from": mask_url(source.url),
        "to": mask_url(target.url),
        "copied": run.copied,
        "skipped": run.skipped,
        **extra,
        "check": check,
    }


def _target_id(conn: Connection) -> str:
    """The target's own id, made now if it has none (a row that came from it says so by this id)."""
    settings = _table(Setting)
    found = conn.execute(select(settings.c.value).where(settings.c.key == "store_id")).scalar()
    if found is not None:
        return str(found)
    made = uuid.uuid4().hex
    conn.execute(settings.insert().values(key="store_id", value=made))
    return made


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


class _Run:
    """One copy: which source rows go, under which target ids, and which do not and why."""

    def __init__(
        self,
        sconn: Connection,
        tsession: Session,
        source_id: str,
        target_id: str,
        state: CopyState,
        progress: Progress | None,
    ) -> None:
        self.sconn, self.tsession, self.tconn = sconn, tsession, tsession.connection()
        self.source_id, self.target_id = source_id, target_id
        self.state, self.progress = state, progress
        # source id -> target id (None: not in the target), per table, as far as looked up
        self.ids: dict[str, dict[int, int | None]] = {t: {} for t in TABLES}
        self.copied = dict.fromkeys(TABLES, 0)
        self.skipped = {reason: dict.fromkeys(TABLES, 0) for reason in REASONS}
        self.spans: dict[str, tuple[int, int]] = {}  # target ids this run wrote, a table
        self.sent: dict[str, int] = {}  # the source's sums over the rows this run wrote
        self.received: dict[tuple[str, str], list[tuple[int, int]]] = defaultdict(list)
        rec = _table(ReceivedOrigins)
        for row in self.tconn.execute(select(rec).order_by(rec.c.origin_store, rec.c.table_name, rec.c.first_id)):
            self.received[(row.origin_store, row.table_name)].append((int(row.first_id), int(row.last_id)))
        self.starts = {k: [a for a, _ in v] for k, v in self.received.items()}
        self.new: dict[tuple[str, str], set[int]] = defaultdict(set)
        self.agent_high = 0
        self.new_agents: list[int] = []

    def origin(self, row: Any) -> Origin:
        if row["origin_store"]:
            return str(row["origin_store"]), int(row["origin_id"])
        return self.source_id, int(row["id"])

    def was_received(self, table: str, origin: Origin) -> bool:
        key = (origin[0], table)
        if origin[1] in self.new[key]:
            return True
        at = bisect.bisect_right(self.starts.get(key, []), origin[1]) - 1
        return at >= 0 and self.received[key][at][1] >= origin[1]

    def locate(self, table: str, origins: dict[int, Origin]) -> None:
        """The target's rows of these origins (None where it holds none), by source id."""
        t = _table(MODELS[table])
        wanted: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for source_id, (store, oid) in origins.items():
            wanted[store][oid].append(source_id)
        for store, by_oid in wanted.items():
            found: dict[int, int] = {}
            for chunk in _chunks(sorted(by_oid)):
                if store == self.target_id:  # the target's own rows
                    query = select(t.c.id, t.c.id).where(t.c.id.in_(chunk), t.c.origin_store.is_(None))
                else:
                    query = select(t.c.origin_id, t.c.id).where(t.c.origin_store == store, t.c.origin_id.in_(chunk))
                found.update((int(a), int(b)) for a, b in self.tconn.execute(query).all())
            for oid, source_ids in by_oid.items():
                for source_id in source_ids:
                    self.ids[table][source_id] = found.get(oid)

    def resolve(self, table: str, source_ids: Iterable[int | None]) -> None:
        """Look up the target's rows of these source rows (those of earlier runs or left out)."""
        missing = {i for i in source_ids if i is not None and i not in self.ids[table]}
        if not missing or table == "agents":  # every agent of the source is mapped first
            return
        t = _table(MODELS[table])
        origins: dict[int, Origin] = {}
        for chunk in _chunks(sorted(missing)):
            query = select(t.c.id, t.c.origin_store, t.c.origin_id).where(t.c.id.in_(chunk))
            origins.update((int(row["id"]), self.origin(row)) for row in self.sconn.execute(query).mappings())
        for gone in missing - set(origins):
            self.ids[table][gone] = None
        self.locate(table, origins)

    def copy_rows(self) -> None:
        self.copy_agents()
        for name in ("sessions", "messages", "costs", "tool_calls"):
            self.copy_table(name)
        _reserve(self.tconn, "agents", self.agent_high)  # ids given to agents only the ledger names
        if dialect.is_postgres(self.tconn):
            # tables just filled by COPY have no statistics yet: without them PostgreSQL plans the
            # totals' correlated sums badly (29 s instead of 7 for 10,000 sessions)
            for name in ("sessions", "messages", "costs"):
                self.tconn.execute(text(f"ANALYZE {name}"))
        _move_totals(self.tsession, self.spans, self.new_agents)
        for name in TABLES:
            dialect.set_sequences_above_ids(self.tconn, [name])
        self.save_received()

    def copy_agents(self) -> None:
        """An agent goes to the same agent in the target: the one it was mapped to before, the one
        of its origin, one of the same name; else it is new there, unless the target removed it."""
        agents = _table(Agent)
        self.agent_high = _high(self.tconn, "agents")
        existing, by_name, by_origin = set(), {}, {}
        for row in self.tconn.execute(
            select(agents.c.id, agents.c.name_key, agents.c.origin_store, agents.c.origin_id)
        ):
            existing.add(row.id)
            by_name[row.name_key] = row.id
            if row.origin_store:
                by_origin[(row.origin_store, row.origin_id)] = row.id
        rows = []
        for agent in _rows_all(self.sconn, agents):
            source_id = agent["id"]
            known = self.state.agents.get(source_id)
            store, oid = self.origin(agent)
            reason = None
            if known is not None:
                mapped = known if known in existing else None  # gone: removed in the target
            elif store == self.target_id:
                mapped, reason = (oid if oid in existing else None), "from_target"
            elif (store, oid) in by_origin:
                mapped, reason = by_origin[(store, oid)], "already_there"
            elif agent["name_key"] in by_name:
                mapped = by_name[agent["name_key"]]
            elif self.was_received("agents", (store, oid)):
                mapped, reason = None, "removed_in_target"
            else:
                mapped = agent["id"] if agent["id"] > self.agent_high else self.agent_high + 1
                self.agent_high = max(self.agent_high, mapped)
                rows.append({**agent, "id": mapped, "origin_store": store, "origin_id": oid})
                self.new[(store, "agents")].add(oid)
                existing.add(mapped)
                by_name[agent["name_key"]] = mapped
            if reason is not None:
                self.skipped[reason]["agents"] += 1
            self.ids["agents"][source_id] = mapped
            if mapped is not None:
                self.state.agents[source_id] = mapped
        # the agents the new cost rows name that have no agent in the target (removed from the
        # source, or removed in the target): an id of their own, taken now, before other writers
        costs = _table(Cost)
        named = select(costs.c.agent_id).where(costs.c.id > self.state.copied["costs"]).distinct()
        for source_id in sorted(set(self.sconn.execute(named).scalars()) - {None}):
            if self.ids["agents"].get(source_id) is None and source_id not in self.state.agents:
                given = source_id if source_id > self.agent_high else self.agent_high + 1
                self.agent_high = self.state.agents[source_id] = given
        _reserve(self.tconn, "agents", self.agent_high)
        _insert(self.tconn, agents, rows)
        self.new_agents = [row["id"] for row in rows]
        self.copied["agents"] = len(rows)
        self.sent["agents"] = len(rows)
        if self.progress:
            self.progress("agents", len(rows), len(rows))

    def ledger_agent(self, source_id: int | None) -> int | None:
        """A cost row's agent in the target: its agent's, else the id the ledger gives an agent
        removed (from the source or the target), the same on every run."""
        if source_id is None:
            return None
        mapped = self.ids["agents"].get(source_id) or self.state.agents.get(source_id)
        if mapped is None:
            self.agent_high += 1
            mapped = self.state.agents[source_id] = self.agent_high
        return mapped

    def copy_table(self, name: str) -> None:
        table = _table(MODELS[name])
        count, lowest, highest = _count_new(self.sconn, table, self.state.copied[name])
        if not count:
            return
        target_high = _high(self.tconn, name)
        offset = 0 if lowest > target_high else target_high - lowest + 1
        _reserve(self.tconn, name, highest + offset)
        references = REFERENCES[name]
        done = 0
        written: list[int] = []
        for batch in _rows(self.sconn, table, self.state.copied[name]):
            origins = {row["id"]: self.origin(row) for row in batch}
            held = {i: o for i, o in origins.items() if o[0] == self.target_id or self.was_received(name, o)}
            self.locate(name, held)
            for column, (other, _) in references.items():
                self.resolve(other, (row[column] for row in batch if row["id"] not in held))
            rows = []
            for row in batch:
                source_id = row["id"]
                store, oid = origins[source_id]
                if source_id in held:
                    present = self.ids[name][source_id] is not None
                    reason = "from_target" if store == self.target_id else "already_there"
                    self.skipped[reason if present or reason == "from_target" else "removed_in_target"][name] += 1
                    continue
                mapped = {
                    column: None if row[column] is None else self.ids[other].get(row[column])
                    for column, (other, _) in references.items()
                }
                if any(needed and mapped[c] is None for c, (_, needed) in references.items()):
                    # what it belongs to (its agent, session or message) was removed in the target
                    self.ids[name][source_id] = None
                    self.skipped["removed_in_target"][name] += 1
                    continue
                row.update(mapped)
                if name == "costs":
                    row["agent_id"] = self.ledger_agent(row["agent_id"])
                row.update(id=source_id + offset, origin_store=store, origin_id=oid)
                if name in ("sessions", "messages"):  # what other rows refer to (not a million cost rows)
                    self.ids[name][source_id] = row["id"]
                self.new[(store, name)].add(oid)
                self.tally(name, row)
                rows.append(row)
            _insert(self.tconn, table, rows)
            written += [row["id"] for row in rows]
            done += len(batch)
            if self.progress:
                self.progress(name, done, count)
        self.state.copied[name] = highest
        self.copied[name] = len(written)
        if written:
            self.spans[name] = (min(written), max(written))

    def tally(self, name: str, row: dict[str, Any]) -> None:
        self.sent[name] = self.sent.get(name, 0) + 1
        if name == "costs":
            for key in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens"):
                self.sent[key] = self.sent.get(key, 0) + int(row[key] or 0)
            self.sent["cost_nd"] = self.sent.get("cost_nd", 0) + int(row["total_cost_nd"] or 0)

    def save_received(self) -> None:
        """Add this run's origins to the ranges the target has received (merged with its own)."""
        rec = _table(ReceivedOrigins)
        for (store, name), oids in self.new.items():
            if not oids:
                continue
            ranges = sorted(self.received[(store, name)] + [(i, i) for i in oids])
            merged: list[list[int]] = []
            for first, last in ranges:
                if merged and first <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], last)
                else:
                    merged.append([first, last])
            self.tconn.execute(delete(rec).where(rec.c.origin_store == store, rec.c.table_name == name))
            self.tconn.execute(
                rec.insert(),
                [{"origin_store": store, "table_name": name, "first_id": a, "last_id": b} for a, b in merged],
            )

    def check(self) -> dict[str, Any]:
        """The rows this copy wrote, in the target, against the source's rows they came from (counts,
        tokens, nano-dollars); a difference is an error (and the transaction rolls back). Then the
        target's maintained totals against its ledger."""
        keys = ("costs", "input_tokens", "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_nd")
        source = {k: self.sent.get(k, 0) for k in (*TABLES, *keys[1:])}
        target = dict.fromkeys(source, 0)
        if "costs" in self.spans:
            target.update(_sums(self.tconn, "WHERE id BETWEEN {} AND {}".format(*map(int, self.spans["costs"]))))
        for name in ("sessions", "messages", "tool_calls"):
            if name in self.spans:
                low, high = self.spans[name]
                target[name] = int(
                    self.tconn.execute(
                        text(f"SELECT count(*) FROM {name} WHERE id BETWEEN :l AND :h"), {"l": low, "h": high}
                    ).scalar_one()
                )
        if self.new_agents:
            marks = ", ".join(str(int(i)) for i in self.new_agents)
            target["agents"] = int(
                self.tconn.execute(text(f"SELECT count(*) FROM agents WHERE id IN ({marks})")).scalar_one()
            )
        totals = self.tconn.execute(
            text(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(cost_nd), 0), coalesce(sum(input_tokens), 0) "
                "FROM cost_totals"
            )
        ).one()
        ledger = self.tconn.execute(
            text("SELECT count(*), coalesce(sum(total_cost_nd), 0), coalesce(sum(input_tokens), 0) FROM costs")
        ).one()
        aggregates_equal = tuple(int(v) for v in totals) == tuple(int(v) for v in ledger)
        if source != target:
            differ = ", ".join(f"{k}: {source[k]} read, {target[k]} written" for k in source if source[k] != target[k])
            raise StoreError(f"db copy: the rows written differ from the source's ({differ}); nothing was copied")
        return {
            "compared": "the rows this copy wrote, against the source rows they came from",
            "equal": True,
            "totals_equal_ledger": aggregates_equal,
            "source": source,
            "target": target,
        }


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


def _move_totals(session: Session, spans: dict[str, tuple[int, int]], agent_ids: list[int]) -> None:
    """Move the target's running totals by what the copied rows add, summed by SQL over exactly
    those rows; recount the sessions and agents they belong to (their rows arrive with the source's
    counters)."""
    conn = session.connection()
    if "costs" in spans:
        low, high = spans["costs"]
        # the one rule of the running totals (store/ledger.py); the sessions are recounted below
        move_totals(session, COSTS.c.id.between(low, high), 1, sessions=False)
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


def _copy_prices(sconn: Connection, tconn: Connection, prefer: str) -> dict[str, Any]:
    """Price overrides the target lacks; one both hold with other prices is a conflict, settled by
    `prefer` (the target's own by default) and reported."""
    prices = _table(PriceOverride)
    theirs = {(r["provider"], r["model_key"]): dict(r) for r in tconn.execute(select(prices)).mappings()}
    rows, conflicts = [], []
    for row in (dict(r) for r in sconn.execute(select(prices)).mappings()):
        held = theirs.get((row["provider"], row["model_key"]))
        if held is not None and all(held[c] == row[c] for c in _PRICES):
            continue
        if held is not None:
            conflicts.append(
                {
                    "provider": row["provider"],
                    "model": row["model"],
                    "source": {c: row[c] for c in _PRICES},
                    "target": {c: held[c] for c in _PRICES},
                    "kept": prefer,
                }
            )
            if prefer == "target":
                continue
        rows.append({c: _utc(v) for c, v in row.items()})
    dialect.upsert(
        tconn,
        prices,
        rows,
        ["provider", "model_key"],
        replace=["model", *_PRICES, "set_by", "updated_at"],
    )
    return {"price_overrides": len(rows), "price_conflicts": conflicts, "prefer": prefer}


def _copy_defaults(sconn: Connection, tconn: Connection, run: _Run) -> int:
    """Each user's default agent (the target's own choice stays)."""
    settings = _table(Setting)
    defaults = []
    ours = set(tconn.execute(select(settings.c.key).where(settings.c.key.like("default_agent:%"))).scalars())
    theirs = select(settings.c.key, settings.c.value).where(settings.c.key.like("default_agent:%"))
    for key, value in sconn.execute(theirs):
        if key in ours:
            continue
        try:
            mapped = run.ids["agents"].get(int(value))
        except ValueError:
            continue
        if mapped is not None:
            defaults.append({"key": key, "value": str(mapped)})
    dialect.upsert(tconn, settings, defaults, ["key"])
    return len(defaults)


def _copy_budgets(sconn: Connection, tconn: Connection, run: _Run) -> int:
    """Budgets, on the target's agent (a budget belongs to its agent by id); one the target already
    has for that scope and period stays as it is, so a re-run adds nothing."""
    budgets = _table(Budget)
    held = {(r.scope_key, r.period) for r in tconn.execute(select(budgets.c.scope_key, budgets.c.period))}
    rows = []
    for row in (dict(r) for r in sconn.execute(select(budgets)).mappings()):
        scope = 0 if row["scope_key"] == 0 else run.ids["agents"].get(row["scope_key"])
        if scope is None or (scope, row["period"]) in held:  # its agent is not in the target; or set there
            continue
        held.add((scope, row["period"]))
        rows.append({**{c: _utc(v) for c, v in row.items()}, "scope_key": scope})
    if rows:
        tconn.execute(budgets.insert(), rows)
    return len(rows)


def _copy_endpoints(sconn: Connection, tconn: Connection, run: _Run) -> int:
    """Webhook endpoints with their signing secrets (their receivers check them), on the target's
    agent; one the target has already (the same URL for the same agent) is not added again."""
    endpoints = _table(WebhookEndpoint)
    held = {(r.url, r.agent_id) for r in tconn.execute(select(endpoints.c.url, endpoints.c.agent_id))}
    rows = []
    for row in (dict(r) for r in sconn.execute(select(endpoints).order_by(endpoints.c.id)).mappings()):
        agent = None if row["agent_id"] is None else run.ids["agents"].get(row["agent_id"])
        if (row["agent_id"] is not None and agent is None) or (row["url"], agent) in held:
            continue
        held.add((row["url"], agent))
        status = "active" if row["status"] == "failing" else row["status"]  # its failures were the source's
        rows.append(
            {**{c: _utc(v) for c, v in row.items() if c != "id"}, "agent_id": agent, "status": status, "failures": 0}
        )
    if rows:
        tconn.execute(endpoints.insert(), rows)
    return len(rows)


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
