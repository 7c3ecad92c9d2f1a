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

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.engine import Connection

from agentik_cli.store import dialect
from agentik_cli.store.copying.extras import (
    copy_budgets,
    copy_defaults,
    copy_endpoints,
    copy_import_state,
    copy_prices,
)
from agentik_cli.store.copying.rows import PREFER, CopyState, Progress, table_of
from agentik_cli.store.copying.run import Run
from agentik_cli.store.engine import Store, mask_url, translate_errors
from agentik_cli.store.models import Setting

_COPY_LOCK = 0x6167656E74696C  # one copy at a time into a PostgreSQL target


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
        settings = table_of(Setting)
        state = CopyState.load(tconn.execute(select(settings.c.value).where(settings.c.key == key)).scalar())
        with translate_errors(source.url), _snapshot(source) as sconn:
            run = Run(sconn, unit.session, source_id, _target_id(tconn), state, progress)
            run.copy_rows()
            extra = {
                **copy_prices(sconn, tconn, prefer),
                "default_agents": copy_defaults(sconn, tconn, run),
                "budgets": copy_budgets(sconn, tconn, run),
                "webhook_endpoints": copy_endpoints(sconn, tconn, run),
                "import_sessions": copy_import_state(sconn, tconn, run),
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
    settings = table_of(Setting)
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
