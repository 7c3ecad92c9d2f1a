"""`agentik costs`: what each agent, model and day has cost."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, cost_views, render
from agentik_cli.cli.cost_views import breakdown
from agentik_cli.cli.options import Csv, Json, Yes, budget_warnings, confirm, when
from agentik_cli.cli.views import output
from agentik_cli.records import for_output
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Spend: summary, a live view, breakdowns, history, the raw ledger; record and import usage.\n\n"
    "Example: agentik costs summary",
    no_args_is_help=True,
)

Since = Annotated[str | None, typer.Option("--since", help="From WHEN: 2026-11-01, 2026-11-01T09:00, 7d, 24h, today.")]
Until = Annotated[str | None, typer.Option("--until", help="Up to WHEN (a date includes that whole day).")]
AgentOpt = Annotated[
    str | None, typer.Option("--agent", help="Only this agent's.", autocompletion=complete.agent_names)
]


def _usd(nd: int | None, unpriced: int = 0) -> str:
    return render.money(nd, unpriced)


def _window(since: str | None, until: str | None) -> Any:
    from agentik_cli.services.reports import Window

    window = Window(when(since, "--since"), when(until, "--until", end_of_day=True))
    window.check()
    return window


@app.command()
def summary(as_json: Json = False) -> None:
    """Today, this month, all time, and each model's share.

    Example: agentik costs summary --json | jq .month
    """
    from agentik_cli.services import listings

    data, in_force = listings.summary()
    if as_json:
        render.print_json({**for_output(data), "budgets": in_force})
        return
    _print_summary(data, in_force)


def _print_summary(data: dict[str, Any], in_force: list[dict[str, Any]]) -> None:
    render.print_fields(
        [
            ("today", _usd(data["today_nd"], data["today_unpriced_calls"])),
            ("this month", _usd(data["month_nd"], data["month_unpriced_calls"])),
            ("all time", _usd(data["total_nd"], data["unpriced_calls"])),
            ("calls", f"{data['calls']:,}"),
        ]
    )
    if data["models"]:
        render.print_line()
        render.print_table(
            ["model", "provider", "calls", "input tokens", "output tokens", "cost", "unpriced"],
            (
                [
                    m["model"],
                    m["provider"],
                    f"{m['calls']:,}",
                    f"{m['input_tokens']:,}",
                    f"{m['output_tokens']:,}",
                    _usd(m["cost_nd"], m["unpriced_calls"]),
                    m["unpriced_calls"] or "",
                ]
                for m in data["models"]
            ),
            right=["calls", "input tokens", "output tokens", "cost", "unpriced"],
        )
    if in_force:
        from agentik_cli.cli.budgets import print_budgets

        render.print_line()
        print_budgets(in_force)


# the view is worked out again this often even when nothing changed: a new day starts at midnight
RECHECK_S = 30.0


@app.command()
def watch() -> None:
    """Today, this month, each model and the budgets, live: redrawn within a second of any change.

    On a terminal a full-screen view (Ctrl-C ends it); piped, one `costs summary --json` object a
    line each time it changes, whichever process changed it.

    Example: agentik costs watch | jq --unbuffered .today
    """
    import time
    from contextlib import nullcontext

    from agentik_cli.errors import INTERRUPTED
    from agentik_cli.services import listings
    from agentik_cli.store.changes import Watcher

    store = command_store()
    live = render.stdout_is_terminal()
    shown: Any = None
    try:
        with Watcher(store.url) as watcher, render.out().screen() if live else nullcontext():
            while True:
                data, in_force = listings.summary(store)
                current = {**for_output(data), "budgets": in_force}
                if current != shown:
                    shown = current
                    if live:
                        render.out().clear()
                        render.print_line(f"agentik costs watch · {time.strftime('%H:%M:%S')} · Ctrl-C to stop\n")
                        _print_summary(data, in_force)
                    else:
                        render.print_line(render.to_json(current, indent=None))
                watcher.wait(RECHECK_S)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None


def _breakdown(by: str, since: str | None, until: str | None, as_json: bool, as_csv: bool) -> None:
    from agentik_cli.services import reports

    fmt = output(as_json, as_csv)
    rows = reports.breakdown(command_store(), by, _window(since, until))
    breakdown(by, rows).show(rows, fmt)


@app.command("by-agent")
def by_agent(since: Since = None, until: Until = None, as_json: Json = False, as_csv: Csv = False) -> None:
    """Spend per agent, largest first (removed agents keep reporting under their name, marked removed).

    Example: agentik costs by-agent --since 2026-11-01 --until 2026-11-30
    """
    _breakdown("agent", since, until, as_json, as_csv)


@app.command("by-model")
def by_model(since: Since = None, until: Until = None, as_json: Json = False, as_csv: Csv = False) -> None:
    """Spend per model, largest first.

    Example: agentik costs by-model --since 7d --csv
    """
    _breakdown("model", since, until, as_json, as_csv)


@app.command("by-provider")
def by_provider(since: Since = None, until: Until = None, as_json: Json = False, as_csv: Csv = False) -> None:
    """Spend per provider, largest first.

    Example: agentik costs by-provider --since today
    """
    _breakdown("provider", since, until, as_json, as_csv)


@app.command("by-user")
def by_user(since: Since = None, until: Until = None, as_json: Json = False, as_csv: Csv = False) -> None:
    """Spend per user (AGENTIK_USER, else the login name, of whoever made each call), largest first.

    Example: agentik costs by-user --since 2026-11-01
    """
    _breakdown("user", since, until, as_json, as_csv)


@app.command()
def history(
    days: Annotated[int | None, typer.Option("--days", help="The last N days, today included (default 30).")] = None,
    since: Since = None,
    by: Annotated[str, typer.Option("--by", help="day, week or month.", autocompletion=complete.periods)] = "day",
    agent: AgentOpt = None,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """Spend per day, week or month, oldest first, empty periods included (a chart on a terminal).

    Example: agentik costs history --days 14
    """
    from agentik_cli.services import reports

    fmt = output(as_json, as_csv)
    if days is not None:
        from agentik_cli.timeutil import days_ago

        days_ago(days, "--days")  # more days than the calendar holds is a usage error, not an overflow
    rows = reports.history(command_store(), days=days, since=when(since, "--since"), by=by, agent=agent)
    cost_views.HISTORY.show(rows, fmt)


@app.command("list")
def list_(
    since: Since = None,
    until: Until = None,
    agent: AgentOpt = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model's.", autocompletion=complete.models)
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many rows.", min=1)] = 50,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """The raw ledger, newest first, with every field.

    Example: agentik costs list --since today --csv > today.csv
    """
    from agentik_cli.services import reports

    fmt = output(as_json, as_csv)
    rows = reports.list_costs(command_store(), _window(since, until), agent=agent, model=model, limit=limit)
    cost_views.LEDGER.show(rows, fmt)


@app.command()
def record(
    model: Annotated[str, typer.Option("--model", help="The model used.", show_default=False)],
    provider: Annotated[
        str, typer.Option("--provider", help="Who served it (anthropic, openai, ...).", show_default=False)
    ],
    input_tokens: Annotated[
        int, typer.Option("--input-tokens", help="Every prompt token, cache included.", show_default=False)
    ],
    output_tokens: Annotated[int, typer.Option("--output-tokens", help="Output tokens.", show_default=False)],
    cache_read_tokens: Annotated[int, typer.Option("--cache-read-tokens", help="Of the input: read from cache.")] = 0,
    cache_write_tokens: Annotated[
        int, typer.Option("--cache-write-tokens", help="Of the input: written to cache.")
    ] = 0,
    agent: AgentOpt = None,
    cost: Annotated[float | None, typer.Option("--cost", help="USD; from the price list when not given.")] = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Channel.")] = None,
    endpoint: Annotated[str | None, typer.Option("--endpoint", help="Endpoint called.")] = None,
    at: Annotated[str | None, typer.Option("--at", help="When (default now): ISO date or datetime, 2h ...")] = None,
    as_json: Json = False,
) -> None:
    """Record usage that happened elsewhere (a batch job, another tool), priced at today's prices.

    Example: agentik costs record --model gpt-4o-mini --provider openai --input-tokens 1200 --output-tokens 300
    """
    from agentik_cli.services import costs, reports

    fields = {
        "model": model,
        "provider": provider,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_tokens": cache_write_tokens,
        "agent": agent,
        "cost": cost,
        "channel": channel,
        "endpoint": endpoint,
        "at": at,
    }
    store = command_store()
    row = costs.record(store, fields)
    if row["total_cost_nd"] is None:
        render.warn(f"no price known for {model} ({provider}): recorded as unpriced")
    budget_warnings(store, row["agent_id"])
    if as_json:
        render.print_json(for_output(reports.get_cost(command_store(), row["id"])))
    else:
        render.print_line(str(row["id"]))


@app.command("import")
def import_(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="A .jsonl or .csv file, or - for stdin. With --from: the tool's logs, files or folders "
            "(default: its own folder).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl or csv (default: from the file name).")] = None,
    source: Annotated[
        str | None,
        typer.Option(
            "--from", help="Read another tool's own logs: claude-code, codex, gemini or llm.", show_default=False
        ),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", help="With --from: keep watching and import as the tool writes.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="With --from: only show what would be imported, per model and day.")
    ] = False,
    as_json: Json = False,
) -> None:
    """Import usage records (one JSON object a line, or CSV with a header; all rows or none), or another
    tool's spend from its own logs with --from, exactly once however often it runs.

    Example: agentik costs import usage.jsonl · agentik costs import --from claude-code --dry-run
    """
    from agentik_cli.cli import imports

    imports.import_usage(paths or [], fmt, source, follow=follow, dry_run=dry_run, as_json=as_json)


@app.command()
def cleanup(
    older_than: Annotated[
        int, typer.Option("--older-than", help="Remove ledger rows older than DAYS.", show_default=False)
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Only say what would go.")] = False,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Remove old rows from the cost ledger (sessions are removed with `sessions remove`).

    Example: agentik costs cleanup --older-than 365 --dry-run
    """
    from agentik_cli.services import costs

    store = command_store()
    plan = costs.cleanup(store, older_than, dry_run=True)
    unpriced = f" and {plan.unpriced_calls} unpriced calls" if plan.unpriced_calls else ""
    what = (
        f"{plan.rows:,} ledger rows worth {_usd(plan.cost_nd)}{unpriced}, older than {plan.before:%Y-%m-%d %H:%M} UTC"
    )
    result = plan
    if not dry_run and plan.rows:
        confirm(f"Remove {what}?", yes)
        result = costs.cleanup(store, older_than)
    if as_json:
        render.print_json(
            for_output(
                {
                    "removed": 0 if dry_run else result.rows,
                    "rows": result.rows,
                    "cost_nd": result.cost_nd,
                    "unpriced_calls": result.unpriced_calls,
                    "before": result.before.isoformat(),
                    "dry_run": dry_run,
                }
            )
        )
    elif dry_run:
        render.print_line(f"would remove {what}")
    elif result.rows:
        render.print_line(f"removed {result.rows:,} ledger rows worth {_usd(result.cost_nd)}{unpriced}")
    else:
        render.print_line("nothing to remove")


def statusline(
    agent: AgentOpt = None,
    as_json: Json = False,
) -> None:
    """Today's spend, the month's and the budget left, in one line for a prompt or a status bar.

    `today $X · month $Y · budget left $Z` (the last part when a budget applies), or --json. Fast
    enough to run on every prompt.

    Example: PS1='$(agentik statusline) \\$ '
    """
    from agentik_cli import environment
    from agentik_cli.services.statusline import render as status

    render.print_line(status(environment.current().db, agent, as_json))
