"""Reads for shell completion, which runs on every Tab and so must answer in well under 0.3 s: no
ORM, no migration (a store not set up yet offers nothing), read-only, and quiet on any failure.

SQLite is read through the standard library's sqlite3. PostgreSQL through libpq itself, by ctypes:
importing psycopg costs about a fifth of a second (its type system, asyncio, logging), more than the
whole budget leaves, while a libpq connection and one query over a local socket take a few
milliseconds. libpq is the one psycopg's binary wheel ships (the same library psycopg would use),
else the system's; without either, psycopg is used after all."""

from __future__ import annotations

import os
from contextlib import contextmanager
from datetime import UTC, datetime

TYPE_CHECKING = False  # typing and pathlib cost the status line milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

    Query = Callable[[str, tuple[Any, ...]], list[tuple[Any, ...]]]

# A Tab must not hang on a server that does not answer.
CONNECT_TIMEOUT_S = 2
_PGRES_TUPLES_OK = 2
_CONNECTION_OK = 0

AGENT_NAMES_SQL = "SELECT name, model FROM agents WHERE name_key LIKE ? ESCAPE '\\' ORDER BY name_key LIMIT ?"
SESSION_IDS_SQL = (
    "SELECT CAST(id AS TEXT), title FROM sessions WHERE CAST(id AS TEXT) LIKE ? ORDER BY last_message_at DESC LIMIT ?"
)

WEBHOOK_IDS_SQL = (
    "SELECT CAST(id AS TEXT), url FROM webhook_endpoints WHERE CAST(id AS TEXT) LIKE ? ORDER BY id LIMIT ?"
)


def rows(target: str | None, default_path: Path | str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (`?` placeholders) on the store `target` names (a URL, a path, or None for
    `default_path`); [] when there is nothing to read or anything fails."""
    try:
        with connect(target, default_path) as query:
            return [] if query is None else query(sql, params)
    except Exception:  # completion never fails loudly
        return []


@contextmanager
def connect(target: str | None, default_path: Path | str) -> Iterator[Query | None]:
    """A read-only connection to the store `target` names, as a function that runs one statement
    (`?` placeholders; a datetime parameter is bound as the store keeps times); None when there is
    no store there yet. Errors are the caller's."""
    if target and "://" in target and not target.lower().startswith("sqlite:"):
        if not target.lower().startswith("postgres"):
            raise ValueError(f"not a store agentik reads: {target.split('://', 1)[0]}")
        with _postgres(target) as query:
            yield query
        return
    path = target.split("///", 1)[1] if target and "///" in target else (target or str(default_path))
    if not os.path.isfile(path):
        yield None
        return
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2)
    try:
        yield lambda sql, params: db.execute(sql, tuple(_sqlite_value(p) for p in params)).fetchall()
    finally:
        db.close()


def _sqlite_value(value: Any) -> Any:
    """SQLAlchemy keeps a SQLite datetime as UTC text, 2026-11-29 00:30:00.000000."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


def conninfo(url: str) -> dict[str, str]:
    """libpq's connection keywords from agentik's URL (postgresql+psycopg://user:password@host:port/db
    ?host=/socket&...), read without SQLAlchemy."""
    from urllib.parse import parse_qsl, unquote, urlsplit

    parts = urlsplit(url)
    args = {"connect_timeout": str(CONNECT_TIMEOUT_S), "application_name": "agentik-complete"}
    if parts.hostname:
        args["host"] = unquote(parts.hostname)
    if parts.port:
        args["port"] = str(parts.port)
    if parts.username:
        args["user"] = unquote(parts.username)
    if parts.password:
        args["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        args["dbname"] = unquote(parts.path.strip("/"))
    args.update(parse_qsl(parts.query))
    return args


def _libpq() -> Any:
    import ctypes
    import glob
    import importlib.util

    spec = importlib.util.find_spec("psycopg_binary")  # found, not imported
    candidates = []
    if spec is not None and spec.origin:
        libs = os.path.join(os.path.dirname(os.path.dirname(spec.origin)), "psycopg_binary.libs")
        candidates += sorted(glob.glob(os.path.join(libs, "libpq*.so*")))
    candidates.append("libpq.so.5")
    for name in candidates:
        try:
            lib = ctypes.CDLL(name)
        except OSError:
            continue
        lib.PQconnectdbParams.restype = ctypes.c_void_p
        lib.PQconnectdbParams.argtypes = [ctypes.POINTER(ctypes.c_char_p)] * 2 + [ctypes.c_int]
        lib.PQstatus.argtypes = [ctypes.c_void_p]
        lib.PQfinish.argtypes = [ctypes.c_void_p]
        lib.PQexecParams.restype = ctypes.c_void_p
        lib.PQexecParams.argtypes = [
            ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_void_p,
            ctypes.POINTER(ctypes.c_char_p), ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
        ]  # fmt: skip
        lib.PQresultStatus.argtypes = [ctypes.c_void_p]
        lib.PQntuples.argtypes = [ctypes.c_void_p]
        lib.PQnfields.argtypes = [ctypes.c_void_p]
        lib.PQgetvalue.restype = ctypes.c_char_p
        lib.PQgetvalue.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.PQgetisnull.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        lib.PQclear.argtypes = [ctypes.c_void_p]
        return lib
    return None


def _quoted(value: str) -> str:
    return value.replace("\\", "\\\\").replace("'", "\\'")


def _numbered(sql: str) -> str:
    parts = sql.split("?")
    return "".join(part + (f"${i + 1}" if i < len(parts) - 1 else "") for i, part in enumerate(parts))


@contextmanager
def _postgres(url: str) -> Iterator[Query]:
    import ctypes

    keywords = conninfo(url)
    lib = _libpq()
    if lib is None:
        import psycopg

        with psycopg.connect(" ".join(f"{k}='{_quoted(v)}'" for k, v in keywords.items())) as conn:
            conn.read_only = True
            yield lambda sql, params: [tuple(row) for row in conn.execute(sql.replace("?", "%s"), params).fetchall()]
        return
    keys = (ctypes.c_char_p * (len(keywords) + 1))(*(k.encode() for k in keywords), None)
    values = (ctypes.c_char_p * (len(keywords) + 1))(*(v.encode() for v in keywords.values()), None)
    conn = lib.PQconnectdbParams(keys, values, 0)
    try:
        if not conn or lib.PQstatus(conn) != _CONNECTION_OK:
            raise ConnectionError("cannot connect to the database server")
        # read-only, whatever the statement: these reads never write
        lib.PQclear(lib.PQexecParams(conn, b"SET default_transaction_read_only = on", 0, None, None, None, None, 0))
        yield lambda sql, params: _pq_rows(lib, conn, sql, params)
    finally:
        if conn:
            lib.PQfinish(conn)


def _pq_text(value: Any) -> bytes:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().encode()
    return str(value).encode()


def _pq_rows(lib: Any, conn: Any, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import ctypes

    texts = (ctypes.c_char_p * max(len(params), 1))(*(_pq_text(p) for p in params))
    result = lib.PQexecParams(conn, _numbered(sql).encode(), len(params), None, texts, None, None, 0)
    try:
        if lib.PQresultStatus(result) != _PGRES_TUPLES_OK:
            raise RuntimeError("the query failed")
        fields = lib.PQnfields(result)
        return [
            tuple(
                None if lib.PQgetisnull(result, r, f) else lib.PQgetvalue(result, r, f).decode() for f in range(fields)
            )
            for r in range(lib.PQntuples(result))
        ]
    finally:
        lib.PQclear(result)


# ---- the status line: today's and the month's spend, and what the budgets have left ----

AGENT_ID_SQL = "SELECT id FROM agents WHERE name_key = ?"
# everything's spend from the quarter-hour buckets, one agent's from the ledger's agent-and-time
# index, the reservations of calls in flight: one statement, so one snapshot (store/budgets.py). A
# reservation counts while its process's heartbeat is recent (or, made by an agentik from before
# processes were named, while it is young); one of a process of this host that died counts here
# until the next agentik command stores its call, or its heartbeat lapses (services/budgets.py
# looks at the processes themselves).
_LIVE = "((host IS NULL AND created_at >= ?) OR (host IS NOT NULL AND heartbeat_at >= ?))"
SPEND_SQL = (
    "SELECT (SELECT COALESCE(SUM(cost_nd), 0) FROM cost_buckets WHERE start >= ?),"
    " (SELECT COALESCE(SUM(cost_nd), 0) FROM cost_buckets WHERE start >= ?),"
    ' (SELECT COALESCE(SUM(total_cost_nd), 0) FROM costs WHERE agent_id = ? AND "timestamp" >= ?),'
    ' (SELECT COALESCE(SUM(total_cost_nd), 0) FROM costs WHERE agent_id = ? AND "timestamp" >= ?),'
    f" (SELECT COALESCE(SUM(amount_nd), 0) FROM reservations WHERE {_LIVE}),"
    f" (SELECT COALESCE(SUM(amount_nd), 0) FROM reservations WHERE {_LIVE} AND agent_id = ?)"
)
# a store not yet upgraded to name processes (the status line does not migrate: the next command does)
_OLD_SPEND_SQL = SPEND_SQL.replace(_LIVE, "(created_at >= ? OR created_at >= ?)")
BUDGETS_SQL = "SELECT scope_key, period, limit_nd FROM budgets WHERE scope_key IN (0, ?)"


class NoSuchAgent(LookupError):
    pass


class Spend:
    """Nano-dollars: the spend (of everything, or of one agent) today and this month, and each
    budget that applies as (period, limit, spent, reserved). (A plain class: `dataclasses` alone
    would cost the status line a third of its time.)"""

    def __init__(self, today_nd: int, month_nd: int, budgets: list[tuple[str, int, int, int]]) -> None:
        self.today_nd, self.month_nd, self.budgets = today_nd, month_nd, budgets


def spend(
    query: Query, agent: str | None, today: datetime, month: datetime, live_since: datetime, beaten_since: datetime
) -> Spend:
    agent_id = 0
    if agent is not None:
        found = query(AGENT_ID_SQL, (agent.strip().lower(),))
        if not found:
            raise NoSuchAgent(agent)
        agent_id = int(found[0][0])
    spend_since = (today, month, agent_id, today, agent_id, month)
    parameters = (*spend_since, live_since, beaten_since, live_since, beaten_since, agent_id)
    try:
        found = query(SPEND_SQL, parameters)
    except Exception as exc:  # noqa: BLE001 - either driver's error; only this one is looked for
        if "heartbeat_at" not in str(exc) and "host" not in str(exc):
            raise
        found = query(_OLD_SPEND_SQL, (*spend_since, live_since, live_since, live_since, live_since, agent_id))
    sums = [int(v) for v in found[0]]
    everything = {"day": sums[0], "month": sums[1]}
    mine = {"day": sums[2], "month": sums[3]}
    budgets = []
    for scope_key, period, limit_nd in query(BUDGETS_SQL, (agent_id,)):
        scope_key = int(scope_key)
        spent = (everything if scope_key == 0 else mine)[period]
        budgets.append((period, int(limit_nd), spent, sums[4] if scope_key == 0 else sums[5]))
    shown = mine if agent is not None else everything
    return Spend(shown["day"], shown["month"], budgets)
