"""Dynamic shell completion: agent names, session ids, statuses, providers, periods and model names.

Completion runs on every Tab, so it must answer fast: it never imports the SDKs or the ORM, and never
migrates (a store not set up yet completes nothing). The names are read by store/quickread.py."""

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
    from agentik_cli import paths
    from agentik_cli.store import quickread

    return quickread.rows(_db_option(ctx), paths.default_db_path(), sql, params)


def agent_names(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    from agentik_cli.store.quickread import AGENT_NAMES_SQL

    rows = _query(
        ctx,
        AGENT_NAMES_SQL,
        (incomplete.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%", LIMIT),
    )
    # Typer keeps only candidates that start with what was typed, case and all; names match in any
    # case, so each candidate keeps the typed prefix as it was typed
    return [(incomplete + name[len(incomplete) :], model) for name, model in rows]


def session_ids(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    if incomplete and not incomplete.isdecimal():
        return []  # ids are digits; and `%` or `_` typed here must not act as LIKE wildcards
    from agentik_cli.store.quickread import SESSION_IDS_SQL

    rows = _query(
        ctx,
        SESSION_IDS_SQL,
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


BUILTIN_SKILLS = ("files", "fetch", "shell", "time", "calc", "spend")


def skill_names(incomplete: str) -> list[str]:
    """The built-in skills and the user's skill files (names only: no file is parsed)."""
    from agentik_cli import paths

    try:
        mine = tuple(sorted(p.stem for p in (paths.data_dir() / "skills").glob("*.toml")))
    except OSError:
        mine = ()
    return _choices(BUILTIN_SKILLS + mine, incomplete)


def events(incomplete: str) -> list[str]:
    """The event types a webhook can take."""
    from agentik_cli.records import EVENTS

    return _choices(EVENTS, incomplete)


def webhook_ids(ctx: Any, incomplete: str) -> list[tuple[str, str]]:
    if incomplete and not incomplete.isdecimal():
        return []
    from agentik_cli.store.quickread import WEBHOOK_IDS_SQL

    return [(wid, url or "") for wid, url in _query(ctx, WEBHOOK_IDS_SQL, (incomplete + "%", LIMIT))]
