"""One copy's rows (store/copying): which source rows go, under which target ids, which do not and
why; the target's totals moved by them; and the check of what was written."""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, select, text
from sqlalchemy.engine import Connection
from sqlmodel import Session

from agentik_cli.errors import StoreError
from agentik_cli.store import dialect
from agentik_cli.store.copying.rows import (
    MODELS,
    REASONS,
    REFERENCES,
    TABLES,
    CopyState,
    Origin,
    Progress,
    chunks,
    count_new,
    highest_id,
    insert_rows,
    reserve,
    rows_after,
    rows_all,
    sums_of,
    table_of,
)
from agentik_cli.store.ledger import COSTS, move_totals
from agentik_cli.store.models import Agent, Cost, ReceivedOrigins


class Run:
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
        rec = table_of(ReceivedOrigins)
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
        t = table_of(MODELS[table])
        wanted: dict[str, dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
        for source_id, (store, oid) in origins.items():
            wanted[store][oid].append(source_id)
        for store, by_oid in wanted.items():
            found: dict[int, int] = {}
            for chunk in chunks(sorted(by_oid)):
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
        t = table_of(MODELS[table])
        origins: dict[int, Origin] = {}
        for chunk in chunks(sorted(missing)):
            query = select(t.c.id, t.c.origin_store, t.c.origin_id).where(t.c.id.in_(chunk))
            origins.update((int(row["id"]), self.origin(row)) for row in self.sconn.execute(query).mappings())
        for gone in missing - set(origins):
            self.ids[table][gone] = None
        self.locate(table, origins)

    def copy_rows(self) -> None:
        self.copy_agents()
        for name in ("sessions", "messages", "costs", "tool_calls"):
            self.copy_table(name)
        reserve(self.tconn, "agents", self.agent_high)  # ids given to agents only the ledger names
        if dialect.is_postgres(self.tconn):
            # tables just filled by COPY have no statistics yet: without them PostgreSQL plans the
            # totals' correlated sums badly (29 s instead of 7 for 10,000 sessions)
            for name in ("sessions", "messages", "costs"):
                self.tconn.execute(text(f"ANALYZE {name}"))
        move_copied_totals(self.tsession, self.spans, self.new_agents)
        for name in TABLES:
            dialect.set_sequences_above_ids(self.tconn, [name])
        self.save_received()

    def copy_agents(self) -> None:
        """An agent goes to the same agent in the target: the one it was mapped to before, the one
        of its origin, one of the same name; else it is new there, unless the target removed it."""
        agents = table_of(Agent)
        self.agent_high = highest_id(self.tconn, "agents")
        existing, by_name, by_origin = set(), {}, {}
        for row in self.tconn.execute(
            select(agents.c.id, agents.c.name_key, agents.c.origin_store, agents.c.origin_id)
        ):
            existing.add(row.id)
            by_name[row.name_key] = row.id
            if row.origin_store:
                by_origin[(row.origin_store, row.origin_id)] = row.id
        rows = []
        for agent in rows_all(self.sconn, agents):
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
        costs = table_of(Cost)
        named = select(costs.c.agent_id).where(costs.c.id > self.state.copied["costs"]).distinct()
        for source_id in sorted(set(self.sconn.execute(named).scalars()) - {None}):
            if self.ids["agents"].get(source_id) is None and source_id not in self.state.agents:
                given = source_id if source_id > self.agent_high else self.agent_high + 1
                self.agent_high = self.state.agents[source_id] = given
        reserve(self.tconn, "agents", self.agent_high)
        insert_rows(self.tconn, agents, rows)
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
        table = table_of(MODELS[name])
        count, lowest, highest = count_new(self.sconn, table, self.state.copied[name])
        if not count:
            return
        target_high = highest_id(self.tconn, name)
        offset = 0 if lowest > target_high else target_high - lowest + 1
        reserve(self.tconn, name, highest + offset)
        references = REFERENCES[name]
        done = 0
        written: list[int] = []
        for batch in rows_after(self.sconn, table, self.state.copied[name]):
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
            insert_rows(self.tconn, table, rows)
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
        rec = table_of(ReceivedOrigins)
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
            target.update(sums_of(self.tconn, "WHERE id BETWEEN {} AND {}".format(*map(int, self.spans["costs"]))))
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


def move_copied_totals(session: Session, spans: dict[str, tuple[int, int]], agent_ids: list[int]) -> None:
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
