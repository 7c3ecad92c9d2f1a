"""A listing's table for a program reading a pipe, written without rich: importing rich's table and
console is about a third of what `agents list` costs. It writes what render.print_table's rich table
writes (box SIMPLE_HEAD without edges, one space of padding between columns, no styles off a
terminal, 1,000 columns), and only where that is simple to be sure of: stdout no terminal for rich
either, an encoding rich draws the rule in, no title, and cells of printable ASCII on one line (so
a character is a column) that fit in the width. Anything else is left to rich
(tests/cli/test_display.py compares the two)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

# the width render.out() gives rich when stdout is no terminal
PIPE_WIDTH = 1000
# what makes rich take a pipe for a terminal: a decision left to rich
_TERMINAL_HINTS = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS")


def text(cells: Sequence[str], widths: Sequence[int], right: Sequence[bool]) -> str:
    """One line: each cell padded to its column, three spaces between columns. A cell on the right
    loses the spaces it ends with, as rich's right justification strips them."""
    return "   ".join(
        cell.rstrip().rjust(width) if on_right else cell.ljust(width)
        for cell, width, on_right in zip(cells, widths, right, strict=True)
    )


def table(headers: Sequence[str], rows: list[list[str]], right: Sequence[bool]) -> str | None:
    """The table as rich writes it to a pipe, or None where rich must decide (see above)."""
    if not all(_plain(cell) for row in (headers, *rows) for cell in row):
        return None
    widths = [max(len(row[i]) for row in (headers, *rows)) for i in range(len(headers))]
    total = sum(widths) + 3 * (len(widths) - 1)
    if total > PIPE_WIDTH:
        return None
    lines = [text(headers, widths, right), "\u2500" * total, *(text(row, widths, right) for row in rows)]
    return "\n".join(lines) + "\n"


def _plain(cell: str) -> bool:
    return cell.isascii() and cell.isprintable()


def for_pipe(env: Any) -> bool:
    """Whether stdout is a pipe to rich as well, with an encoding it draws the rule in."""
    if env.given_isatty("stdout") is True or env.stdout_isatty:
        return False
    if env.given_isatty("stdout") is None and any(name in os.environ for name in _TERMINAL_HINTS):
        return False
    encoding = (getattr(env.stdout, "encoding", "utf-8") or "utf-8").lower()
    return encoding.startswith("utf")
