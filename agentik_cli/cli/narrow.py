"""The app narrowed to the command a command line names. Typer makes the click command of every
command of the app before it parses anything (each one's signature, type hints and parameters:
several hundredths of a second for agentik's sixty commands), and one command line runs one of them.
`agentik agents list` needs the root, the `agents` group and its `list`: the console script builds
those alone. A group is narrowed only where the next word of the command line is one of its
commands, so that whatever speaks of its other commands (its help, `No such command`, completion)
is made from the whole group, as before."""

from __future__ import annotations

import copy
import os
from collections.abc import Sequence
from typing import Any

import typer
from typer.main import get_command_name

from agentik_cli.cli.rootargs import after_root


def narrowed(app: typer.Typer, args: Sequence[str], complete_var: str) -> typer.Typer:
    """`app` with only the commands `args` runs through; `app` itself where args name none, or when
    the shell asks for completions (`complete_var` set)."""
    if os.environ.get(complete_var):
        return app
    rest = after_root(list(args))
    return app if rest is None else _narrowed(app, rest)


def _narrowed(app: typer.Typer, rest: list[str]) -> typer.Typer:
    if not rest:
        return app
    word = rest[0]
    for info in app.registered_commands:
        if _command_name(info) == word:
            return _only(app, commands=[info], groups=[])
    for group in app.registered_groups:
        if group.name == word and group.typer_instance is not None:
            narrower = copy.copy(group)
            narrower.typer_instance = _narrowed(group.typer_instance, rest[1:])
            return _only(app, commands=[], groups=[narrower])
    return app


def _command_name(info: Any) -> str | None:
    if info.name:
        return str(info.name)
    return get_command_name(info.callback.__name__) if info.callback is not None else None


def _only(app: typer.Typer, *, commands: list[Any], groups: list[Any]) -> typer.Typer:
    narrower = copy.copy(app)
    narrower.registered_commands = commands
    narrower.registered_groups = groups
    return narrower
