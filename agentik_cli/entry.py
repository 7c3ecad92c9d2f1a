"""The console script. `agentik statusline` runs on every shell prompt, so it is answered here,
before the command line's framework is imported (Typer and rich take about a tenth of a second); any
other command line, `statusline --help` included, goes to the full app (cli/app.py)."""

from __future__ import annotations

import os
import sys


def _statusline_args(args: list[str]) -> tuple[str | None, str | None, bool] | None:
    """(--db, --agent, --json) when the command line is a plain `statusline`; None otherwise."""
    db = agent = None
    as_json = seen = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if arg == "statusline" and not seen:
            seen = True
        elif arg in ("--db", "--agent") and rest:
            if arg == "--agent" and not seen or arg == "--db" and seen:
                return None
            value = rest.pop(0)
            db, agent = (value, agent) if arg == "--db" else (db, value)
        elif arg.startswith(("--db=", "--agent=")):
            name, value = arg.split("=", 1)
            if (name == "--agent") != seen:
                return None
            db, agent = (value, agent) if name == "--db" else (db, value)
        elif arg == "--json" and seen:
            as_json = True
        elif arg == "--no-color":
            continue
        else:
            return None
    return (db, agent, as_json) if seen else None


def _printable(text: str) -> str:
    """A name given on the command line may hold control characters: shown, never obeyed."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def main() -> None:
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
