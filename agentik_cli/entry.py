"""The console script. `agentik statusline` runs on every shell prompt, so it is answered here,
before the command line's framework is imported (Typer and rich take about a tenth of a second); any
other command line, `statusline --help` included, goes to the full app (cli/app.py).

A `chat` starts with the cyclic garbage collector held back (issue 22): its start-up makes about a
million objects that live until the process ends (the SDK's pydantic models, the ORM's tables), and
the collector's passes over them, finding nothing, cost a one-shot chat about a quarter of its own
time. The chat turns it back on once its first model call is over (services/chat/turn.py); other
commands never hold it back."""

from __future__ import annotations

import gc
import os
import sys

from agentik_cli.cli.rootargs import ROOT_FLAGS, ROOT_VALUED, after_root


def _options(args: list[str], named: frozenset[str], flags: frozenset[str]) -> dict[str, str | bool] | None:
    """The options of `args` (`--name VALUE`, `--name=VALUE`, `--flag`); None if anything else is there."""
    found: dict[str, str | bool] = {}
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, equals, value = arg.partition("=")
        if arg in flags:
            found[arg] = True
        elif name in named and equals:
            found[name] = value
        elif arg in named and rest:
            found[arg] = rest.pop(0)
        else:
            return None
    return found


def _statusline_args(args: list[str]) -> tuple[str | None, str | None, bool] | None:
    """(--db, --agent, --json) when the command line is a plain `statusline`; None otherwise."""
    if "statusline" not in args:
        return None
    at = args.index("statusline")
    root = _options(args[:at], ROOT_VALUED, ROOT_FLAGS)
    own = _options(args[at + 1 :], frozenset({"--agent"}), frozenset({"--json"}))
    if root is None or own is None:
        return None
    db, agent = root.get("--db"), own.get("--agent")
    return (db if isinstance(db, str) else None), (agent if isinstance(agent, str) else None), "--json" in own


def _printable(text: str) -> str:
    """A name given on the command line may hold control characters: shown, never obeyed."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _runs_chat(args: list[str]) -> bool:
    """Whether the command line is a `chat` (its name after the root's options)."""
    rest = after_root(args)
    return rest is not None and rest[:1] == ["chat"]


def main() -> None:
    if _runs_chat(sys.argv[1:]):
        gc.disable()
    fast = _statusline_args(sys.argv[1:])
    if fast is None:
        from agentik_cli.cli.app import main as full

        full()
        return
    from agentik_cli.errors import AgentikError

    try:
        from agentik_cli.services.statusline import render

        sys.stdout.write(render(*fast) + "\n")
        code = 0
    except AgentikError as exc:
        sys.stderr.write(f"agentik: error: {_printable(exc.message)}\n" + (f"hint: {exc.hint}\n" if exc.hint else ""))
        code = exc.exit_code
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    os._exit(code)
