"""`agentik budgets`: limits per day and month, over everything or one agent, that stop a call
before it is sent when it could go over (exit 3)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, render
from agentik_cli.cli.options import Csv, Json
from agentik_cli.cli.views import Column, View, output
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Budgets: a daily or monthly limit, over everything or one agent; a call that could pass it is not sent.",
    no_args_is_help=True,
)

AgentOpt = Annotated[
    str | None,
    typer.Option("--agent", help="One agent's budget (none: over everything).", autocompletion=complete.agent_names),
]
COLUMNS = ("scope", "period", "limit", "spent", "reserved", "left", "percent")


def _amount(value: float) -> str:
    """$0.10, $20.00, $0.0513: cents always, more digits where the amount has them."""
    from decimal import Decimal

    exact = Decimal(str(value))
    return f"${exact:,.2f}" if exact == exact.quantize(Decimal("0.01")) else f"${render.plain_number(exact)}"


def _amount_of(key: str) -> Column:
    return Column(key, lambda r: _amount(r[key]), right=True)


BUDGETS = View(
    (
        Column.of("scope", "budget"),
        Column.of("period"),
        _amount_of("limit"),
        _amount_of("spent"),
        _amount_of("reserved"),
        _amount_of("left"),
        Column("used", lambda r: f"{r['percent']:g}%", right=True),
    ),
    COLUMNS,
    empty="no budgets: `agentik budgets set --daily USD` sets one",
)


def print_budgets(rows: list[dict[str, Any]]) -> None:
    BUDGETS.show(rows, "table")


@app.command("set")
def set_(
    agent: AgentOpt = None,
    daily: Annotated[float | None, typer.Option("--daily", help="USD a local day.")] = None,
    monthly: Annotated[float | None, typer.Option("--monthly", help="USD a calendar month (local).")] = None,
    warn: Annotated[int | None, typer.Option("--warn", help="Warn at this percent of the limit (default 80).")] = None,
    allow_unpriced: Annotated[
        bool, typer.Option("--allow-unpriced", help="Let calls to models with no price through.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Set a budget (again: updates it).

    Example: agentik budgets set --agent helper --daily 2 --monthly 30
    """
    from agentik_cli.services import budgets

    rows = [
        s.to_json()
        for s in budgets.set_budget(
            command_store(), agent=agent, daily=daily, monthly=monthly, warn=warn, allow_unpriced=allow_unpriced
        )
    ]
    if as_json:
        render.print_json(rows)
    else:
        print_budgets(rows)


@app.command("list")
def list_(as_json: Json = False, as_csv: Csv = False) -> None:
    """Every budget: limit, spent, reserved by calls in flight, left, and percent used, for today
    and this month in local time.

    Example: agentik budgets list --json
    """
    from agentik_cli.services import budgets

    fmt = output(as_json, as_csv)
    BUDGETS.show([s.to_json() for s in budgets.statuses(command_store())], fmt)


@app.command()
def remove(
    agent: AgentOpt = None,
    daily: Annotated[bool, typer.Option("--daily", help="Only the daily budget.")] = False,
    monthly: Annotated[bool, typer.Option("--monthly", help="Only the monthly budget.")] = False,
) -> None:
    """Remove a budget (both periods unless --daily or --monthly).

    Example: agentik budgets remove --agent helper --daily
    """
    from agentik_cli.services import budgets

    removed = budgets.remove_budget(command_store(), agent=agent, daily=daily, monthly=monthly)
    render.note(f"removed {removed} budget{'s' if removed != 1 else ''}")


@app.command()
def release(
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", help="Only the reservations of this agent's calls.", autocompletion=complete.agent_names
        ),
    ] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Also those of processes that still seem to run (their calls go on).")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Release without asking.")] = False,
) -> None:
    """Release reservations left by processes that are gone (a killed chat, a machine that went
    away), asking first. Every budget check already releases those of this machine's processes that
    are gone, and another machine's when its heartbeat lapses (2 minutes).

    Example: agentik budgets release --agent helper --yes
    """
    from agentik_cli.cli.options import confirm
    from agentik_cli.services import budgets

    store = command_store()
    found = budgets.left_behind(store, agent=agent, every=every)
    if not found:
        running = [] if every else [r for r in budgets.left_behind(store, agent=agent, every=True) if r.running]
        render.note(
            "no reservations left behind"
            + (f" ({len(running)} held by calls still running: --all releases them too)" if running else "")
        )
        return
    render.print_table(
        ["id", "agent", "reserved", "held by", ""],
        ([str(r.id), r.agent, budgets.dollars(r.amount_nd), r.holder, r.why] for r in found),
        right=["id", "reserved"],
    )
    total = budgets.dollars(sum(r.amount_nd for r in found))
    count = f"{len(found)} reservation{'s' if len(found) != 1 else ''}"
    confirm(f"Release {count} ({total})?", yes)
    released = budgets.release(store, [r.id for r in found])
    render.note(f"released {released} reservation{'s' if released != 1 else ''} ({total})")
