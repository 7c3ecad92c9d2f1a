"""Reads for shell completion, which runs on every Tab and so must answer in well under 0.3 s: no
ORM, no migration (a store not set up yet offers nothing), read-only, and quiet on any failure.

SQLite is read through the standard library's sqlite3. PostgreSQL through libpq itself, by ctypes:
importing psycopg costs about a fifth of a second (its type system, asyncio, logging), more than the
whole budget leaves, while a libpq connection and one query over a local socket take a few
milliseconds. libpq is the one psycopg's binary wheel ships (the same library psycopg would use),
else the system's; without either, psycopg is used after all."""

from __future__ import annotations

import ctypes
import os
from pathlib import Path
from typing import Any

# A Tab must not hang on a server that does not answer.
CONNECT_TIMEOUT_S = 2
_PGRES_TUPLES_OK = 2
_CONNECTION_OK = 0

AGENT_NAMES_SQL = "SELECT name, model FROM agents WHERE name_key LIKE ? ESCAPE '\\' ORDER BY name_key LIMIT ?"
SESSION_IDS_SQL = (
    "SELECT CAST(id AS TEXT), title FROM sessions WHERE CAST(id AS TEXT) LIKE ? ORDER BY last_message_at DESC LIMIT ?"
)


def rows(target: str | None, default_path: Path, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    """Rows of `sql` (`?` placeholders) on the store `target` names (a URL, a path, or None for
    `default_path`); [] when there is nothing to read or anything fails."""
    try:
        if target and "://" in target and not target.lower().startswith("sqlite:"):
            if not target.lower().startswith("postgres"):
                return []
            return _postgres(target, sql, params)
        return _sqlite(target, default_path, sql, params)
    except Exception:  # completion never fails loudly
        return []


def _sqlite(target: str | None, default_path: Path, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import sqlite3

    path = target.split("///", 1)[1] if target and "///" in target else (target or str(default_path))
    if not os.path.isfile(path):
        return []
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2) as db:
        return db.execute(sql, params).fetchall()


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
    import glob
    import importlib.util

    spec = importlib.util.find_spec("psycopg_binary")  # found, not imported
    candidates = []
    if spec is not None and spec.origin:
        candidates += sorted(glob.glob(str(Path(spec.origin).parent.parent / "psycopg_binary.libs" / "libpq*.so*")))
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


def _postgres(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    keywords = conninfo(url)
    lib = _libpq()
    if lib is None:
        import psycopg

        with psycopg.connect(" ".join(f"{k}='{_quoted(v)}'" for k, v in keywords.items())) as conn:
            conn.read_only = True
            return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), params).fetchall()]
    keys = (ctypes.c_char_p * (len(keywords) + 1))(*(k.encode() for k in keywords), None)
    values = (ctypes.c_char_p * (len(keywords) + 1))(*(v.encode() for v in keywords.values()), None)
    conn = lib.PQconnectdbParams(keys, values, 0)
    try:
        if not conn or lib.PQstatus(conn) != _CONNECTION_OK:
            return []
        # read-only, whatever the statement: completion never writes
        statement = _numbered(sql)
        begin = lib.PQexecParams(conn, b"SET default_transaction_read_only = on", 0, None, None, None, None, 0)
        lib.PQclear(begin)
        texts = (ctypes.c_char_p * max(len(params), 1))(*(str(p).encode() for p in params))
        result = lib.PQexecParams(conn, statement.encode(), len(params), None, texts, None, None, 0)
        try:
            if lib.PQresultStatus(result) != _PGRES_TUPLES_OK:
                return []
            fields = lib.PQnfields(result)
            return [
                tuple(
                    None if lib.PQgetisnull(result, r, f) else lib.PQgetvalue(result, r, f).decode()
                    for f in range(fields)
                )
                for r in range(lib.PQntuples(result))
            ]
        finally:
            lib.PQclear(result)
    finally:
        if conn:
            lib.PQfinish(conn)
