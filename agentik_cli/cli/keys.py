"""`agentik keys`: provider keys kept in keys.json (mode 0600). The environment wins over the file."""

from __future__ import annotations

from typing import Annotated

import typer

from agentik_cli import environment
from agentik_cli.cli import complete, render
from agentik_cli.cli.options import Csv, Json
from agentik_cli.cli.views import Column, View, output

app = typer.Typer(
    help="Store provider keys (the environment variables win).\n\nExample: agentik keys set anthropic",
    no_args_is_help=True,
)

ProviderArg = Annotated[
    str, typer.Argument(help="anthropic or openai.", show_default=False, autocompletion=complete.providers)
]


@app.command("set")
def set_(provider: ProviderArg) -> None:
    """Store a key: typed at a hidden prompt, or read from stdin.

    Example: printf %s "$KEY" | agentik keys set openai
    """
    from agentik_cli.services import keys

    keys.check_provider(provider)  # before asking for the key
    if environment.current().stdin_isatty:
        value = typer.prompt(f"{provider} key", hide_input=True, err=True)
    else:
        value = _stdin_line()
    keys.set_key(provider, value)
    render.note(f"stored the {provider} key")


def _stdin_line() -> str:
    """The key's line on stdin. A file saved by a Windows editor starts with a byte order mark, which
    is not part of the key; bytes that are not UTF-8 cannot be part of one."""
    from agentik_cli.errors import UsageError
    from agentik_cli.text import decode

    stdin = environment.current().stdin
    stream = getattr(stdin, "buffer", None)
    if stream is None:  # a text-only stdin (a test harness)
        return stdin.readline().removeprefix("\ufeff")
    value, replaced = decode(stream.readline())
    if replaced:
        raise UsageError("the key on stdin is not UTF-8 text")
    return value


@app.command("list")
def list_(as_json: Json = False, as_csv: Csv = False) -> None:
    """Which keys are set, and where from (masked).

    Example: agentik keys list
    """
    from agentik_cli.services import keys

    fmt = output(as_json, as_csv)
    KEYS.show(keys.list_keys(), fmt)


KEYS = View(
    (
        Column.of("provider"),
        Column("key", lambda r: r["key"] or "not set"),
        Column("from", lambda r: r["source"] or ""),
    ),
    ("provider", "source", "key"),
)


@app.command()
def remove(provider: ProviderArg) -> None:
    """Remove a stored key (the environment is left alone).

    Example: agentik keys remove openai
    """
    from agentik_cli.errors import NotFound
    from agentik_cli.services import keys

    if not keys.remove_key(provider):
        raise NotFound(f"no {provider} key is stored")
    render.note(f"removed the stored {provider} key")
