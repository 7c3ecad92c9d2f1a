"""What a copy brings besides the rows of history (store/copying): price overrides, each user's default
agent, budgets and webhook endpoints, each on the target's agent; and what `costs import --from`
needs to carry on in the target (each source session's session there, the keys of removed imported
messages). The files' marks stay behind: an import into the target reads the files from their
start, and the keys of what was copied keep it from counting anything twice."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from agentik_cli.store import dialect
from agentik_cli.store.copying.rows import PRICES, table_of, utc
from agentik_cli.store.copying.run import Run
from agentik_cli.store.import_models import ImportRemoved, ImportSession
from agentik_cli.store.models import Budget, PriceOverride, Setting
from agentik_cli.store.outbox_models import WebhookEndpoint


def copy_prices(sconn: Connection, tconn: Connection, prefer: str) -> dict[str, Any]:
    """Price overrides the target lacks; one both hold with other prices is a conflict, settled by
    `prefer` (the target's own by default) and reported."""
    prices = table_of(PriceOverride)
    theirs = {(r["provider"], r["model_key"]): dict(r) for r in tconn.execute(select(prices)).mappings()}
    rows, conflicts = [], []
    for row in (dict(r) for r in sconn.execute(select(prices)).mappings()):
        held = theirs.get((row["provider"], row["model_key"]))
        if held is not None and all(held[c] == row[c] for c in PRICES):
            continue
        if held is not None:
            conflicts.append(
                {
                    "provider": row["provider"],
                    "model": row["model"],
                    "source": {c: row[c] for c in PRICES},
                    "target": {c: held[c] for c in PRICES},
                    "kept": prefer,
                }
            )
            if prefer == "target":
                continue
        rows.append({c: utc(v) for c, v in row.items()})
    dialect.upsert(
        tconn,
        prices,
        rows,
        ["provider", "model_key"],
        replace=["model", *PRICES, "set_by", "updated_at"],
    )
    return {"price_overrides": len(rows), "price_conflicts": conflicts, "prefer": prefer}


def copy_defaults(sconn: Connection, tconn: Connection, run: Run) -> int:
    """Each user's default agent (the target's own choice stays)."""
    settings = table_of(Setting)
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


def copy_budgets(sconn: Connection, tconn: Connection, run: Run) -> int:
    """Budgets, on the target's agent (a budget belongs to its agent by id); one the target already
    has for that scope and period stays as it is, so a re-run adds nothing."""
    budgets = table_of(Budget)
    held = {(r.scope_key, r.period) for r in tconn.execute(select(budgets.c.scope_key, budgets.c.period))}
    rows = []
    for row in (dict(r) for r in sconn.execute(select(budgets)).mappings()):
        scope = 0 if row["scope_key"] == 0 else run.ids["agents"].get(row["scope_key"])
        if scope is None or (scope, row["period"]) in held:  # its agent is not in the target; or set there
            continue
        held.add((scope, row["period"]))
        rows.append({**{c: utc(v) for c, v in row.items()}, "scope_key": scope})
    if rows:
        tconn.execute(budgets.insert(), rows)
    return len(rows)


def copy_endpoints(sconn: Connection, tconn: Connection, run: Run) -> int:
    """Webhook endpoints with their signing secrets (their receivers check them), on the target's
    agent; one the target has already (the same URL for the same agent) is not added again."""
    endpoints = table_of(WebhookEndpoint)
    held = {(r.url, r.agent_id) for r in tconn.execute(select(endpoints.c.url, endpoints.c.agent_id))}
    rows = []
    for row in (dict(r) for r in sconn.execute(select(endpoints).order_by(endpoints.c.id)).mappings()):
        agent = None if row["agent_id"] is None else run.ids["agents"].get(row["agent_id"])
        if (row["agent_id"] is not None and agent is None) or (row["url"], agent) in held:
            continue
        held.add((row["url"], agent))
        status = "active" if row["status"] == "failing" else row["status"]  # its failures were the source's
        rows.append(
            {**{c: utc(v) for c, v in row.items() if c != "id"}, "agent_id": agent, "status": status, "failures": 0}
        )
    if rows:
        tconn.execute(endpoints.insert(), rows)
    return len(rows)


def copy_import_state(sconn: Connection, tconn: Connection, run: Run) -> int:
    """Each source session's agentik session, on the target's copy of it (a later import into the
    target goes on in the same session); and the keys of imported messages removed in the source.
    What the target already maps stays as it is. Returns how many sessions were mapped."""
    mapped = table_of(ImportSession)
    rows = [dict(r) for r in sconn.execute(select(mapped)).mappings()]
    run.resolve("sessions", [row["session_id"] for row in rows])
    kept = []
    for row in rows:
        target_id = run.ids["sessions"].get(row["session_id"])
        if target_id is not None:
            kept.append({**row, "session_id": target_id})
    dialect.upsert(tconn, mapped, kept, ["source", "source_key"])
    removed = table_of(ImportRemoved)
    keys = [{"import_key": key} for key in sconn.execute(select(removed.c.import_key)).scalars()]
    dialect.upsert(tconn, removed, keys, ["import_key"])
    return len(kept)
