"""The one place that turns results into rich tables, Markdown, JSON or CSV. Data goes to stdout;
notes, warnings and progress go to stderr. No colour or control codes when stdout is not a terminal,
with NO_COLOR, or with --no-color."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from agentik_cli import config

if TYPE_CHECKING:
    from rich.console import Console


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def out() -> Console:
    # made per use, not cached: the root options and (under test) sys.stdout change between runs
    from rich.console import Console

    tty = sys.stdout.isatty()
    return Console(
        file=sys.stdout,
        no_color=not config.settings.color,
        # NO_COLOR and --no-color: no styling codes at all, not only no colours
        color_system="auto" if config.settings.color else None,
        highlight=False,
        # piped output is read by programs: never wrap it at an assumed 80 columns
        width=None if tty else 1000,
        emoji=False,
    )


def err() -> Console:
    from rich.console import Console

    return Console(
        file=sys.stderr,
        stderr=True,
        no_color=not config.settings.color or not sys.stderr.isatty(),
        color_system="auto" if config.settings.color and sys.stderr.isatty() else None,
        highlight=False,
        soft_wrap=True,
        emoji=False,
    )


def local_time(stamp: str | None) -> str:
    """An ISO UTC timestamp from the data, as local time for a table."""
    from datetime import datetime

    if not stamp:
        return ""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _cell(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ";".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False)
    if value is None:
        return ""
    return value


def print_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str]) -> None:
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(column)) for column in columns])
    sys.stdout.flush()


def print_table(
    headers: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    right: Iterable[str] = (),
    title: str | None = None,
    empty: str = "nothing to show",
) -> None:
    rows = list(rows)
    if not rows:
        note(empty)
        return
    from rich import box
    from rich.table import Table

    right_set = set(right)
    table = Table(title=title, box=box.SIMPLE_HEAD, header_style="bold", show_edge=False, pad_edge=False)
    for header in headers:
        table.add_column(
            header, justify="right" if header in right_set else "left", overflow="fold", no_wrap=header in right_set
        )
    for row in rows:
        table.add_row(*("" if cell is None else str(cell) for cell in row))
    out().print(table)


def print_fields(pairs: Iterable[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        if value is not None:
            table.add_row(key, str(value))
    out().print(table)


def print_line(text: str = "") -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """A remark for the person at the terminal, on stderr."""
    err().print(message, style="dim", markup=False)


def warn(message: str) -> None:
    err().print(f"agentik: warning: {message}", style="yellow", markup=False)
