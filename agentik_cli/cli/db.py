"""`agentik db`: the store itself: status, upgrade, backup, copy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentik_cli import environment
from agentik_cli.cli import render
from agentik_cli.cli.options import Json
from agentik_cli.services import database
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="The database: what it holds, its schema, a consistent backup, a copy into another."
    "\n\nExample: agentik db backup ~/agentik.db",
    no_args_is_help=True,
)


def _store():  # noqa: ANN202 - a context of a Store: opened without migrating, closed after
    return database.unopened(environment.current().db)


@app.command()
def status(as_json: Json = False) -> None:
    """Which database, its schema version, pending migrations and row counts (never migrates).

    Example: agentik db status --json
    """
    with _store() as store:
        data = database.status(store)
    if as_json:
        render.print_json(data)
        return
    render.print_fields(
        [
            ("database", data["url"]),
            ("engine", data["dialect"]),
            ("schema", data["schema"] or "none yet"),
            ("pending", ", ".join(data["pending"]) or "none"),
            *((table, f"{count:,}") for table, count in data["rows"].items()),
        ]
    )


@app.command()
def upgrade() -> None:
    """Apply pending migrations (every command does this on first use; this does only that).

    Example: agentik db upgrade
    """
    with _store() as store:
        applied = database.upgrade(store)
    render.note(f"applied {', '.join(applied)}" if applied else "the database is up to date")


@app.command()
def backup(
    path: Annotated[Path, typer.Argument(help="The file to write (or a folder to write a dated file into).")],
    force: Annotated[bool, typer.Option("--force", help="Replace the file if it exists.")] = False,
    as_json: Json = False,
) -> None:
    """A consistent copy of the SQLite database in one file, even while other agentik processes write.

    Example: agentik db backup ~/backups/
    """
    with _store() as unopened:
        newer = database.newer_schema(unopened)
        if newer is not None:
            # a backup never refuses: this agentik cannot use the database, but it can copy it as it
            # is (not migrated, nothing replayed into it) for an agentik that can (issue 21)
            data = database.backup(unopened, path.expanduser(), force=force)
            render.warn(
                f"{database.printable_url(unopened.url)} was written by a newer agentik "
                f"(its schema has {newer}): backed up as it is"
            )
    if newer is None:
        data = database.backup(command_store(), path.expanduser(), force=force)
    if as_json:
        render.print_json(data)
    else:
        render.print_line(data["path"])
        rows = ", ".join(f"{count:,} {table}" for table, count in data["rows"].items())
        render.note(f"backed up {data['bytes']:,} bytes: {rows}")


@app.command()
def copy(
    to: Annotated[str, typer.Option("--to", help="The database to copy into (a URL or a SQLite file path).")],
    prefer: Annotated[
        str,
        typer.Option(
            "--prefer",
            help="Whose price override wins when both stores set one model's price differently: "
            "target (the default: the target keeps its own) or source.",
        ),
    ] = "target",
    yes: Annotated[bool, typer.Option("--yes", help="Copy into a database that holds data without asking.")] = False,
    as_json: Json = False,
) -> None:
    """Copy every agent, session, message, cost row, tool call, price override, budget, webhook
    endpoint (with its signing secret) and default agent into another database (a local history
    into a team server). Safe to re-run, and in any order of copies: a row never goes back to a
    store it came from, nor to one that holds it (or removed it) already.

    Example: agentik db copy --to 'postgresql+psycopg://me@db.example.com/agentik' --prefer target
    """
    import sys

    from agentik_cli.errors import AgentikError, UsageError

    prefer = prefer.lower()
    if prefer not in ("source", "target"):
        raise UsageError(f"--prefer {prefer}: source or target")
    source = command_store()
    with database.unopened(to) as target:
        held = database.status(target)
        if any(held["rows"].values()) and not yes:
            if not sys.stdin.isatty():
                raise UsageError(
                    f"{held['url']} already holds data", hint="add --yes to copy into it when not on a terminal"
                )
            rows = ", ".join(f"{n:,} {t}" for t, n in held["rows"].items())
            if not typer.confirm(f"{held['url']} holds {rows}; copy into it?", default=False, err=True):
                raise AgentikError("nothing was copied")
        data = _copy_with_progress(source, target, prefer)
    data["price_conflicts"] = [
        {**c, "source": _per_million(c["source"]), "target": _per_million(c["target"])} for c in data["price_conflicts"]
    ]
    if as_json:
        render.print_json(data)
        return
    copied = ", ".join(f"{n:,} {t}" for t, n in data["copied"].items())
    render.note(f"copied {copied} into {data['to']}")
    render.note(
        f"copied {data['price_overrides']} price overrides, {data['budgets']} budgets, "
        f"{data['default_agents']} default agents and {data['webhook_endpoints']} webhook endpoints"
        + (" with their signing secrets" if data["webhook_endpoints"] else "")
    )
    for reason, why in _REASONS.items():
        skipped = {t: n for t, n in data["skipped"][reason].items() if n}
        if skipped:
            render.note(f"skipped {', '.join(f'{n:,} {t}' for t, n in skipped.items())}: {why}")
    for c in data["price_conflicts"]:
        kept, other = (c["target"], c["source"]) if c["kept"] == "target" else (c["source"], c["target"])
        render.warn(
            f"price conflict for {c['model']} ({c['provider']}): kept the {c['kept']}'s "
            f"${kept['input']}/${kept['output']} in/out per million tokens over ${other['input']}/${other['output']}"
            + (" (--prefer source takes the source's)" if c["kept"] == "target" else "")
        )
    check = data["check"]
    written = check["target"]
    if not any(written[t] for t in ("agents", "sessions", "messages", "costs", "tool_calls")):
        render.note("checked: nothing was written, nothing to compare")
        return
    render.note(
        f"checked the rows this copy wrote against the source's: {written['costs']:,} cost rows, "
        f"{written['messages']:,} messages, {written['sessions']:,} sessions, the same tokens and "
        f"${written['cost_nd'] / 1e9:,.6f} on both sides"
    )


_REASONS = {
    "already_there": "already there by another path",
    "removed_in_target": "removed or forgotten in the target (or what they belong to was)",
    "from_target": "they came from the target",
}


def _per_million(prices: dict[str, int | None]) -> dict[str, float | None]:
    """A price override's nano-dollars per million tokens as USD per million (as `prices --json`)."""
    return {k.removesuffix("_nd"): None if v is None else v / 1e9 for k, v in prices.items()}


def _copy_with_progress(source, target, prefer):  # noqa: ANN001, ANN202 - Store, Store, str -> dict
    import sys

    if not sys.stderr.isatty():
        return database.copy(source, target, prefer)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(
        TextColumn("copying {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=render.err(),
        transient=True,
    ) as bar:
        tasks: dict[str, int] = {}

        def progress(table: str, done: int, total: int) -> None:
            if table not in tasks:
                tasks[table] = bar.add_task(table, total=total)
            bar.update(tasks[table], completed=done)

        return database.copy(source, target, prefer, progress)
