"""The views of the ledger's listings: costs by-agent/model/provider/user, history (a chart on a
terminal) and list, their CSV columns the JSON keys of records.py's shapes."""

from __future__ import annotations

from typing import Any

from agentik_cli.cli import render
from agentik_cli.cli.views import Column, View
from agentik_cli.records import TOKEN_KEYS

FIGURES = [
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost",
    "unpriced_calls",
    "estimated_calls",
    "over_limit_calls",
]
LEDGER_COLUMNS = [
    "id",
    "timestamp",
    "agent_id",
    "agent",
    "session_id",
    "conversation_id",
    "model",
    "provider",
    *TOKEN_KEYS,
    "total_tokens",
    "input_cost",
    "output_cost",
    "total_cost",
    "price_input_per_mtok",
    "price_output_per_mtok",
    "price_cache_read_per_mtok",
    "price_cache_write_per_mtok",
    "response_ms",
    "channel",
    "endpoint",
    "estimated",
    "over_limit",
    "user",
    "source_cost",
]
GROUP_KEYS = {
    "agent": ["agent", "agent_id"],
    "model": ["model", "provider"],
    "provider": ["provider"],
    "user": ["user"],
}
# columns that follow the figures (added after them, so that the CSV's first columns keep their places)
AFTER_FIGURES = {"agent": ["removed"]}


BREAKDOWN_FIGURES = (
    Column.count("calls"),
    Column.count("input_tokens", "input tokens"),
    Column.count("output_tokens", "output tokens"),
    Column.count("cache_read_tokens", "cache read"),
    Column.count("cache_write_tokens", "cache write"),
    Column.money(),
)


def breakdown(by: str, rows: list[dict[str, Any]]) -> View:
    """The view of a breakdown by agent, model, provider or user: each row's share of the rows' cost."""
    total = sum(r["cost_nd"] for r in rows)
    keys = GROUP_KEYS[by][:1] if by == "agent" else GROUP_KEYS[by]
    return View(
        (
            *(Column("agent", _agent_label) if k == "agent" else Column.of(k) for k in keys),
            *BREAKDOWN_FIGURES,
            Column("share", lambda r: f"{r['cost_nd'] / total:.0%}" if total else "", right=True),
            Column("unpriced", lambda r: r["unpriced_calls"] or "", right=True),
        ),
        (*GROUP_KEYS[by], *FIGURES, *AFTER_FIGURES.get(by, [])),
        empty="no costs recorded in that time",
    )


def _agent_label(row: dict[str, Any]) -> str:
    """A removed agent's name with its id: its cost rows keep reporting under the name, which a live
    agent may have taken since, and two rows reading `helper` would tell nobody which is which."""
    if row["removed"]:
        return f"{row['agent']} (removed, id {row['agent_id']})"
    return str(row["agent"])


def _chart(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    top = max((r["cost_nd"] for r in rows), default=0)
    width = 40
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    table.add_column("period")
    table.add_column("", no_wrap=True)
    table.add_column("cost", justify="right")
    table.add_column("calls", justify="right")
    for r in rows:
        filled = round(r["cost_nd"] / top * width) if top else 0
        if r["cost_nd"] and not filled:
            filled = 1
        bar = Text("█" * filled, style="cyan") + Text("·" * (width - filled) if not r["calls"] else "", style="dim")
        table.add_row(r["period"], bar, render.money(r["cost_nd"], r["unpriced_calls"]), f"{r['calls']:,}")
    render.out().print(table)
    total = sum(r["cost_nd"] for r in rows)
    unpriced = sum(r["unpriced_calls"] for r in rows)
    render.note(f"total {render.money(total, unpriced)} over {len(rows)} periods")


HISTORY_COLUMNS = (
    "period",
    "calls",
    "input_tokens",
    "output_tokens",
    "cost",
    "unpriced_calls",
    "estimated_calls",
    "over_limit_calls",
)
HISTORY = View((), HISTORY_COLUMNS, json_keys=HISTORY_COLUMNS, table=_chart)


LEDGER = View(
    (
        Column.of("id", right=True),
        Column.when("timestamp", "when"),
        Column("agent", lambda r: r["agent"] or ""),
        Column.of("user"),
        Column.of("model"),
        Column.count("input_tokens", "in"),
        Column.count("output_tokens", "out"),
        Column.money("total_cost_nd", unpriced=None),
    ),
    tuple(LEDGER_COLUMNS),
    empty="no costs recorded in that time",
)
