"""Dynamic shell completion: agent names, session ids, statuses, providers, periods and model names.

Completion runs on every Tab, so it must answer fast: it never imports the SDKs or the ORM. On a
SQLite database it reads names through the standard library's sqlite3, read-only; other engines go
through the store."""

from __future__ import annotations

import os
from typing import Any

STATUSES = ("active", "paused", "archived")
PERIODS = ("day", "week", "month")
LIMIT = 200


def _db_option(ctx: Any) -> str | None:
    root = ctx.find_root() if ctx is not None else None
    return (root.params.get("db") if root is not None else None) or os.environ.get("AGENTIK_DB")


def _query(ctx: Any, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    import sqlite3

    from agentik_cli import paths

    target = _db_option(ctx)
    if target and "://" in target and not target.startswith("sqlite:///"):
        return _query_store(target, sql, params)
    path = target.removeprefix("sqlite:///") if target else str(paths.default_db_path())
    if not os.path.isfile(path):
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.2) as db:
            return db.execute(sql, params).fetchall()
    except sqlite3.Error:
        return []


def _query_store(url: str, sql: str, params: tuple[Any, ...]) -> list[tuple[Any, ...]]:
    from sqlalchemy import text

    from agentik_cli.store.engine import get_store

    named = sql.replace("?", ":p0", 1).replace("?", ":p1", 1)
    with get_store(url).read() as session:
        return [tuple(r) for r in session.execute(text(named), {f"p{i}": v for i, v in enumerate(params)}).all()]


def agent_names(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    rows = _query(
        ctx,
        "SELECT name, model FROM agents WHERE name_key LIKE ? ESCAPE '\\' ORDER BY name_key LIMIT ?",
        (incomplete.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", LIMIT),
    )
    # Typer keeps only candidates that start with what was typed, case and all; names match in any
    # case, so each candidate keeps the typed prefix as it was typed
    return [(incomplete + name[len(incomplete) :], model) for name, model in rows]


def session_ids(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    if incomplete and not incomplete.isdecimal():
        return []  # ids are digits; and `%` or `_` typed here must not act as LIKE wildcards
    rows = _query(
        ctx,
        "SELECT CAST(id AS TEXT), title FROM sessions WHERE CAST(id AS TEXT) LIKE ? "
        "ORDER BY last_message_at DESC LIMIT ?",
        (incomplete + "%", LIMIT),
    )
    return [(sid, title or "") for sid, title in rows]


def _choices(options: tuple[str, ...], incomplete: str) -> list[str]:
    return [o for o in options if o.startswith(incomplete)]


def statuses(incomplete: str) -> list[str]:
    return _choices(STATUSES, incomplete)


def providers(incomplete: str) -> list[str]:
    from agentik_cli.providers import registry

    return _choices(registry.names(), incomplete)


def periods(incomplete: str) -> list[str]:
    return _choices(PERIODS, incomplete)


def formats(incomplete: str) -> list[str]:
    return _choices(("jsonl", "csv"), incomplete)


def models(incomplete: str) -> list[str]:
    """Model names the price list knows (and your overrides)."""
    try:
        from agentik_cli.services.pricing import known_models

        names = {model for _, model, _ in known_models()}
    except Exception:  # completion must never fail loudly
        return []
    return sorted(n for n in names if n.startswith(incomplete))[:LIMIT]
