"""`agentik db`: the store itself: status, upgrade, backup."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from agentik_cli import config, environment
from agentik_cli.cli import render
from agentik_cli.cli.options import Json

app = typer.Typer(
    help="The database: what it holds, its schema, a consistent backup.\n\nExample: agentik db backup ~/agentik.db",
    no_args_is_help=True,
)


def _store():  # noqa: ANN202 - Store; opened without migrating
    from agentik_cli.store.engine import Store, resolve_url

    return Store(resolve_url(environment.current().db))


@app.command()
def status(as_json: Json = False) -> None:
    """Which database, its schema version, pending migrations and row counts (never migrates).

    Example: agentik db status --json
    """
    from agentik_cli.store import admin

    data = admin.status(_store())
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
    from agentik_cli.store import admin

    applied = admin.upgrade(_store())
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
    from agentik_cli.store import admin

    data = admin.backup(config.store(), path.expanduser(), force=force)
    if as_json:
        render.print_json(data)
    else:
        render.print_line(data["path"])
        rows = ", ".join(f"{count:,} {table}" for table, count in data["rows"].items())
        render.note(f"backed up {data['bytes']:,} bytes: {rows}")
