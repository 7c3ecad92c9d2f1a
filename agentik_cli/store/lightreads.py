"""The reads of `costs summary`, `agents list` and `sessions list` on a SQLite store, through the
standard library's sqlite3 (store/quickread.py's connection): importing SQLAlchemy, sqlmodel and
pydantic for the ORM costs these commands about five times the read itself. They apply only to a
store that needs nothing done before it is read: a SQLite file already at the latest migration
(services/opening.py `quick_read` checks the journal besides). Anywhere else the ORM reads
(store/reports.py, store/agents.py, store/sessions.py) answer, and on SQLite these are the same
statements: tests/store/test_lightreads.py holds the two paths to the same rows.

Rows come back with the attributes of what the ORM reads give, as the ORM gives them on SQLite:
times as UTC-aware datetimes, JSON lists decoded, booleans as bool, money in nano-dollars."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime
from types import SimpleNamespace

from agentik_cli.store import quickread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import Any, TypeVar

    T = TypeVar("T")

    from agentik_cli.store.quickread import Query

# the schema these reads know: store/migrations.py MIGRATION_NAMES (tests/store/test_migrations.py
# keeps them in step)
MIGRATION_COUNT = 15
LATEST_MIGRATION = "0015_imports"
# store/models.py SUM_COLUMNS: the figures of cost_buckets and cost_totals
FIGURES = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_nd",
    "unpriced_calls",
    "estimated_calls",
    "over_limit_calls",
)


def sqlite_target(db: str | None, default_path: str) -> tuple[str, str] | None:
    """(url, file) of the store `db` names (`--db`, else AGENTIK_DB, else `default_path`), the URL
    as store/engine.py resolve_url makes it; None for anything but a SQLite file."""
    import os

    value = db or os.environ.get("AGENTIK_DB")
    if not value:
        return f"sqlite:///{default_path}", default_path
    if value in (":memory:", "sqlite:///:memory:") or "?" in value:
        return None
    if "://" in value:
        scheme, rest = value.split("://", 1)
        if not scheme.lower().startswith("sqlite") or not rest.startswith("/"):
            return None
        return f"{scheme.lower()}://{rest}", rest[1:]
    path = os.path.realpath(os.path.expanduser(value))
    return f"sqlite:///{path}", path


@contextmanager
def current(path: str) -> Iterator[Query | None]:
    """A read-only connection to the SQLite file at `path`, in one read transaction (one snapshot
    for every statement), when that file is a store at the latest migration; else None."""
    with quickread.connect(path, path) as query:
        if query is None:
            yield None
            return
        query("BEGIN", ())
        try:
            found = query("SELECT count(*), max(name) FROM agentik_migrations", ())
        except Exception:  # noqa: BLE001 - no such table: not a store set up yet
            found = []
        yield query if found and tuple(found[0]) == (MIGRATION_COUNT, LATEST_MIGRATION) else None


def read_current(path: str, read: Callable[[Query], T | None]) -> T | None:
    """`read` on the store at `path` when it is current (`current`); None when it is not, or when
    SQLite cannot read it now (a lock, say: the ORM path waits for it, or says what is wrong)."""
    import sqlite3

    try:
        with current(path) as query:
            return None if query is None else read(query)
    except sqlite3.Error:
        return None


def _figures(values: Any) -> SimpleNamespace:
    return SimpleNamespace(**{name: int(value or 0) for name, value in zip(FIGURES, values, strict=True)})


_SUMS = ", ".join(f"COALESCE(SUM({name}), 0)" for name in FIGURES)


def bucket_figures(query: Query, since: datetime) -> SimpleNamespace:
    """store/reports.py bucket_figures: the figures of the quarter hours from `since` on."""
    return _figures(query(f"SELECT {_SUMS} FROM cost_buckets WHERE start >= ?", (since,))[0])


def model_totals(query: Query) -> list[tuple[str, str, SimpleNamespace]]:
    """store/reports.py model_totals: (model, provider, figures), largest cost first."""
    rows = query(
        f"SELECT model, provider, {_SUMS} FROM cost_totals GROUP BY model, provider ORDER BY SUM(cost_nd) DESC, model",
        (),
    )
    return [(model, provider, _figures(sums)) for model, provider, *sums in rows]


def has_budgets(query: Query) -> bool:
    return bool(query("SELECT EXISTS (SELECT 1 FROM budgets)", ())[0][0])


def _when(value: str | None) -> datetime | None:
    """A stored time, UTC-aware as the ORM's column type gives it (a naive one reads as local)."""
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


_AGENT_JSON = ("channels", "skills", "allow_dirs", "allow_hosts", "allow_commands", "deny_commands")
_AGENT_TIMES = ("created_at", "updated_at", "last_active_at")
_AGENT_COLUMNS = (
    "id name description system_prompt model provider temperature max_tokens status base_url api_key_env sandbox "
    "stat_sessions stat_messages stat_response_ms stat_responses"
).split() + [*_AGENT_JSON, *_AGENT_TIMES]
AGENT_ORDER = {
    "name": "name_key",
    "created": "created_at DESC, id DESC",
    "last-active": "last_active_at IS NULL, last_active_at DESC, id DESC",
}


def _agent(row: tuple[Any, ...]) -> SimpleNamespace:
    agent = SimpleNamespace(**dict(zip(_AGENT_COLUMNS, row, strict=True)))
    agent.sandbox = bool(agent.sandbox)
    for name in _AGENT_JSON:
        setattr(agent, name, None if getattr(agent, name) is None else json.loads(getattr(agent, name)))
    for name in _AGENT_TIMES:
        setattr(agent, name, _when(getattr(agent, name)))
    return agent


def agents(query: Query, sort: str, limit: int | None) -> list[tuple[SimpleNamespace, SimpleNamespace]]:
    """store/agents.py listing (every status) with ledger_figures: each agent and its share of the
    ledger's maintained totals (zeros for an agent with no cost)."""
    sql = f"SELECT {', '.join(_AGENT_COLUMNS)} FROM agents ORDER BY {AGENT_ORDER[sort]}"
    rows = query(sql + " LIMIT ?", (limit,)) if limit else query(sql, ())
    found = [_agent(row) for row in rows]
    names = (
        "calls",
        "input_tokens",
        "output_tokens",
        "cost_nd",
        "unpriced_calls",
        "estimated_calls",
        "over_limit_calls",
    )
    sums = {
        int(key): SimpleNamespace(**{n: int(v or 0) for n, v in zip(names, values, strict=True)})
        for key, *values in query(
            f"SELECT agent_key, {', '.join(f'SUM({n})' for n in names)} FROM cost_totals GROUP BY agent_key", ()
        )
    }
    zeros = SimpleNamespace(**dict.fromkeys(names, 0))
    return [(agent, sums.get(agent.id, zeros)) for agent in found]


_SESSION_COLUMNS = (
    "s.id, a.name, s.agent_id, s.title, s.channel, s.message_count, s.input_tokens, s.output_tokens, s.cost_nd,"
    " s.unpriced_calls, s.started_at, s.last_message_at"
)


def sessions(query: Query, channel: str | None, since: datetime | None, limit: int | None) -> list[SimpleNamespace]:
    """store/sessions.py listing (of every agent): most recently active first, with their totals and
    their calls marked estimated or over the limit (from the ledger's rows of these sessions only)."""
    where: list[str] = []
    params: list[Any] = []
    if channel is not None:
        where.append("s.channel = ?")
        params.append(channel)
    if since is not None:
        where.append("s.last_message_at >= ?")
        params.append(since)
    sql = f"SELECT {_SESSION_COLUMNS} FROM sessions s JOIN agents a ON a.id = s.agent_id"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY s.last_message_at DESC, s.id DESC"
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    rows = query(sql, tuple(params))
    ids = [row[0] for row in rows]
    marked = (
        {
            int(sid): (int(estimated), int(over))
            for sid, estimated, over in query(
                "SELECT session_id, count(*) FILTER (WHERE estimated), count(*) FILTER (WHERE over_limit) FROM costs"
                f" WHERE session_id IN ({', '.join('?' * len(ids))}) AND (estimated IS 1 OR over_limit IS 1)"
                " GROUP BY session_id",
                tuple(ids),
            )
        }
        if ids
        else {}
    )
    found = []
    for sid, agent, agent_id, title, channel_, count, tokens_in, tokens_out, cost_nd, unpriced, started, last in rows:
        estimated, over = marked.get(sid, (0, 0))
        found.append(
            SimpleNamespace(
                id=sid,
                agent=agent,
                agent_id=agent_id,
                title=title,
                channel=channel_,
                messages=count,
                input_tokens=tokens_in,
                output_tokens=tokens_out,
                cost_nd=cost_nd,
                unpriced_calls=unpriced,
                estimated_calls=estimated,
                over_limit_calls=over,
                started_at=_when(started),
                last_message_at=_when(last),
            )
        )
    return found
