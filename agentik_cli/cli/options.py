"""Reusable option aliases (Annotated), shared by the sub-apps."""

from __future__ import annotations

from typing import Annotated, Any

import typer

Json = Annotated[bool, typer.Option("--json", help="Print JSON on stdout and nothing else.")]
Csv = Annotated[bool, typer.Option("--csv", help="Print CSV with a header row.")]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
# Options (and the PROVIDER argument) whose value is a word from a fixed list: read in any case
# (`--by DAY`, `--format CSV`). cli/app.py applies it to every command.
ANY_CASE = frozenset({"--by", "--status", "--sort", "--provider", "--format", "provider"})
# Options and arguments that name a file (or a database URL): passed on as the system gave them, since
# a file name need not be UTF-8. Every other text is made valid UTF-8 (agentik_cli/text.py).
FILE_NAMES = frozenset({"--db", "file"})

Limit = Annotated[int | None, typer.Option("--limit", "-n", help="At most this many rows.", min=1)]


def confirm(question: str, yes: bool) -> None:
    """Ask on a terminal; without one, refuse unless --yes (the contract's exit 2)."""
    from agentik_cli import environment
    from agentik_cli.errors import AgentikError, UsageError

    if yes:
        return
    if not environment.current().stdin_isatty:
        raise UsageError("not removing anything without confirmation", hint="add --yes when not on a terminal")
    if not typer.confirm(question, default=False, err=True):
        raise AgentikError("nothing was removed")


def when(value: str | None, option: str, *, end_of_day: bool = False):  # noqa: ANN201 - datetime | None
    """A WHEN option (ISO date or datetime, 7d, 24h, today) as an aware UTC datetime."""
    if value is None:
        return None
    from agentik_cli.timeutil import parse_when

    return parse_when(value, end_of_day=end_of_day, option=option)


def budget_warnings(store: Any, agent_id: int | None, every: bool = False) -> None:
    """Recorded spend may cross a budget's warning or its limit, as a chat's may: said the same way."""
    from agentik_cli.cli import render
    from agentik_cli.services import budgets

    for line in budgets.warnings(store, agent_id, every=every):
        render.warn(line)
