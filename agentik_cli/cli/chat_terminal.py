"""The chat at a terminal: each tool call shown as it runs, the person asked to approve one, and the
line history of what they typed."""

from __future__ import annotations

import sys
from typing import Any

from agentik_cli.cli import render


class ToolLines:
    """Each tool call as it happens, on stderr: its name and what it runs, a spinner while it runs
    on a terminal, then its outcome."""

    def __init__(self, terminal: bool) -> None:
        self.terminal = terminal
        self.status: Any = None
        self.label: str | None = None

    def start(self, tool: Any, shown: str) -> None:
        self.label = f"⚙ {tool.name} {_short(shown)}"
        if self.terminal:
            self.status = render.err().status(render.safe_text(self.label), spinner="dots")
            self.status.start()
        else:
            render.note(self.label)

    def stop(self) -> None:
        if self.status is not None:
            self.status.stop()
            self.status = None

    def end(self, run: Any) -> None:
        self.stop()
        if run.status == "ok":
            outcome = f"ok · {run.duration_ms / 1000:.1f} s" + (" · output cut" if run.truncated else "")
        else:
            error = run.error or run.status
            outcome = error if error.startswith(run.status) else f"{run.status}: {error}"
        if self.label is None:  # it never ran: refused, denied, or bad arguments
            render.note(f"⚙ {run.tool} {_short(_arguments(run.arguments))} → {outcome}")
        elif self.terminal:  # the spinner's line is gone: the whole line again, with the outcome
            render.note(f"{self.label} → {outcome}")
        else:
            render.note(f"  → {outcome}")
        self.label = None


def _arguments(arguments: dict[str, Any]) -> str:
    import json

    return json.dumps(arguments, ensure_ascii=False)


def _short(text: str, width: int = 100) -> str:
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def ask(tool: Any, arguments: dict[str, Any], shown: str) -> bool:
    """Ask the person at the terminal, showing the call exactly as it will run. Nobody else can
    answer: what was typed before the question (a `y` typed at a model's imitation of it) is
    dropped first. And nothing else can draw it: it is in reverse video, which model text (its
    control characters made visible, render.safe_text) can never produce, on its own fresh line."""
    _drop_typed_ahead()
    console = render.err()
    console.print()
    console.print(f" agentik asks: allow {tool.skill} ({tool.risk}) to run ", style="reverse", markup=False)
    console.print(f"  {render.safe_text(shown)}", style="bold", markup=False, soft_wrap=True)
    console.print(" allow? [y/N] ", style="reverse", end="", markup=False)
    console.print(" ", end="", markup=False)
    answer = sys.stdin.readline()
    return answer.strip().lower() in ("y", "yes")


def _drop_typed_ahead() -> None:
    try:
        import termios

        termios.tcflush(sys.stdin.fileno(), termios.TCIFLUSH)
    except (ImportError, OSError, ValueError, AttributeError):  # not a terminal after all: nothing pends
        pass


def setup_readline() -> None:
    try:
        import readline
    except ImportError:  # pragma: no cover - not on this platform
        return
    import atexit

    from agentik_cli import paths

    history = paths.history_path()
    try:
        paths.ensure_data_dir()
        readline.read_history_file(history)
    except OSError:
        pass
    readline.set_history_length(2000)

    def save() -> None:
        try:
            readline.write_history_file(history)
        except OSError:
            pass

    atexit.register(save)


def forget_lines(contents: list[str]) -> None:
    """Forgotten messages leave the line history in memory too (it is written back at exit)."""
    try:
        import readline
    except ImportError:  # pragma: no cover - not on this platform
        return
    gone = {c.strip() for c in contents}
    for index in range(readline.get_current_history_length(), 0, -1):
        item = readline.get_history_item(index)
        if item is not None and item.strip() in gone:
            readline.remove_history_item(index - 1)


def preload_sdk(provider: str) -> None:
    """Import the SDK (over a second for anthropic) while the person types: waiting for keystrokes
    releases the GIL, so the import is done by the time they press Enter."""
    import importlib
    import threading

    threading.Thread(target=importlib.import_module, args=(provider,), daemon=True).start()
