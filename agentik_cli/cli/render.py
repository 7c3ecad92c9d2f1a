"""The one place that turns results into rich tables, Markdown, JSON or CSV. Data goes to stdout;
notes, warnings and progress go to stderr. No colour or control codes when stdout is not a terminal,
with NO_COLOR, or with --no-color.

Four rules hold for everything printed through here:
- Text printed for people (tables, fields, notes, warnings, errors, Markdown, a reply on a terminal)
  shows control characters escaped (`safe_text`): a name, a title or a model's reply holding ESC,
  BEL or a carriage return must not move the cursor, retitle the window or hide what came before.
  --json and --csv carry text exactly as stored.
- Text that came from a user, a file or a model is never read as rich markup or emoji codes: the
  consoles have markup and emoji off, and cells are handed to rich as `Text` (`[/INST]` in a name
  would otherwise crash a listing, and `[x] done [beta]` would lose words).
- Money shown to people goes through `money`: an unknown (unpriced) cost is never shown as $0.
- Numbers in JSON and CSV are plain decimals (`0.00001095`, never `1.095e-05`), so awk and bc can
  read them."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING, Any

from agentik_cli import environment
from agentik_cli.money import fmt_usd

if TYPE_CHECKING:
    from rich.console import Console


def _escape(code: int) -> str:
    named = {0x0D: "\\r", 0x08: "\\b", 0x0B: "\\v", 0x0C: "\\f", 0x00: "\\0"}
    if code in named:
        return named[code]
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# Every C0 control but tab and newline, DEL, every C1 control (0x9b is a CSI to many terminals), and
# the bidirectional overrides and isolates, which reorder what is shown ("Trojan Source").
_UNSAFE = [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
_ESCAPES = {code: _escape(code) for code in _UNSAFE}


def safe_text(text: str) -> str:
    """Text for a terminal: each control character shown as its escape (`\\x1b`, `\\r`, `\\x07`),
    newline and tab kept. The one rule for everything agentik prints for people; --json and --csv
    are data, and keep the text as it is."""
    return text.translate(_ESCAPES)


def stdout_is_terminal() -> bool:
    return environment.current().stdout_isatty


def err_is_terminal() -> bool:
    return environment.current().stderr_isatty


def _console_class(*, stdout: bool) -> type[Console]:
    """rich's Console, with two differences. A closed stdout raises BrokenPipeError (rich exits 1),
    for cli/app.py to end the command quietly with exit 0; a closed stderr is ignored (a note
    nobody can read is no reason to stop). And every piece of text is escaped by `safe_text` as it
    is written, behind the escaping done where text is made (which keeps table widths right): no
    renderable, ours or a library's, writes a raw control character to the terminal."""
    from rich.console import Console
    from rich.segment import Segment

    class SafeConsole(Console):
        def on_broken_pipe(self) -> None:
            if stdout:
                raise BrokenPipeError
            self.quiet = True

        def _render_buffer(self, buffer: Iterable[Segment]) -> str:
            return super()._render_buffer(
                segment if segment.control else Segment(safe_text(segment.text), segment.style) for segment in buffer
            )

    return SafeConsole


def out() -> Console:
    # made per use, not cached: the root options and (under test) the streams change between runs
    env = environment.current()
    tty = env.stdout_isatty
    return _console_class(stdout=True)(
        file=env.stdout,
        force_terminal=env.given_isatty("stdout"),
        no_color=not env.color,
        # NO_COLOR and --no-color: no styling codes at all, not only no colours
        color_system="auto" if env.color else None,
        highlight=False,
        # piped output is read by programs: never wrap it at an assumed 80 columns
        width=None if tty else 1000,
        markup=False,
        emoji=False,
    )


def err() -> Console:
    env = environment.current()
    tty = env.stderr_isatty
    return _console_class(stdout=False)(
        file=env.stderr,
        stderr=True,
        force_terminal=env.given_isatty("stderr"),
        no_color=not env.color or not tty,
        color_system="auto" if env.color and tty else None,
        highlight=False,
        soft_wrap=True,
        markup=False,
        emoji=False,
    )


def local_time(stamp: str | None) -> str:
    """An ISO UTC timestamp from the data, as local time for a table."""
    from datetime import datetime

    if not stamp:
        return ""
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M")


def money(nd: int | None, unpriced: int = 0) -> str:
    """A cost for people. `nd` is the priced part in nano-dollars (None: one call with no known
    price) and `unpriced` how many calls in it have no price: `$0.0012`, `$0.0012 +2 unpriced`, or
    `unpriced` when nothing in it is priced. An unknown cost never reads as $0."""
    if nd is None or (unpriced and not nd):
        return "unpriced"
    shown = fmt_usd(nd)
    return f"{shown} +{unpriced:,} unpriced" if unpriced else shown


NINE_PLACES = Decimal("1e-9")


def plain_number(value: float | Decimal) -> str:
    """A number as JSON and CSV readers without float parsing (awk, bc) take it: plain decimal
    notation, no exponent, at most 9 decimal places (money is whole nano-dollars, so nothing of it
    is lost). A float keeps its shortest round-trip digits and stays a float (`2.0`, not `2`)."""
    number = Decimal(repr(value)) if isinstance(value, float) else value
    if not number.is_finite():
        # not a number JSON can carry; validation keeps these out of the store
        return "null"
    if number.as_tuple().exponent < -9:  # type: ignore[operator]
        number = number.quantize(NINE_PLACES, rounding=ROUND_HALF_EVEN)
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    if isinstance(value, float) and "." not in text:
        text += ".0"
    return text


def to_json(data: Any, indent: int | None = 2) -> str:
    """json.dumps(data, indent=..., ensure_ascii=False), but with every float and Decimal written by
    `plain_number` (the json module writes 1.095e-05 and offers no hook for floats)."""
    return _json(data, indent, 0)


# the json module's own string encoder (C), as json.dumps(ensure_ascii=False) uses it
_json_string = json.encoder.encode_basestring


def _json(value: Any, indent: int | None, level: int) -> str:
    kind = type(value)
    if kind is str:
        return _json_string(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return int.__repr__(value)
    if isinstance(value, float | Decimal):
        return plain_number(value)
    if isinstance(value, dict):
        deeper = level + 1
        members = [f"{_json_key(key)}: {_json(item, indent, deeper)}" for key, item in value.items()]
    elif isinstance(value, list | tuple):
        deeper = level + 1
        members = [_json(item, indent, deeper) for item in value]
    elif isinstance(value, str | int):  # subclasses (enums and the like), as the json module writes them
        return json.dumps(value, ensure_ascii=False)
    else:
        raise TypeError(f"Object of type {kind.__name__} is not JSON serializable")
    opening, closing = ("{", "}") if isinstance(value, dict) else ("[", "]")
    if not members:
        return opening + closing
    if indent is None:
        return opening + ", ".join(members) + closing
    inner = "\n" + " " * (indent * (level + 1))
    return opening + inner + ("," + inner).join(members) + "\n" + " " * (indent * level) + closing


def _json_key(key: Any) -> str:
    # as the json module does: keys are strings, other scalars are written as their JSON text
    return _json_string(key if isinstance(key, str) else _json(key, None, 0).strip('"'))


def print_json(data: Any) -> None:
    stdout = environment.current().stdout
    stdout.write(to_json(data) + "\n")
    stdout.flush()


def _cell(value: Any, nested_json: bool = False) -> Any:
    if nested_json and isinstance(value, list | tuple):
        return to_json(value, indent=None)
    if isinstance(value, list | tuple):
        return ";".join(str(_cell(v)) for v in value)
    if isinstance(value, dict):
        return to_json(value, indent=None)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"  # as in the JSON: CSV columns are the JSON keys
    if isinstance(value, float | Decimal):
        return plain_number(value)
    return value


def print_csv(rows: Iterable[dict[str, Any]], columns: Sequence[str], *, nested_json: bool = False) -> None:
    """CSV with a header row: the columns are the JSON keys. An object in a cell is its compact JSON
    text; a list is its items joined by `;` (the first listings' CSV, kept for their readers), or
    with `nested_json` its JSON text too, for lists of objects (tool calls) that no `;` can carry."""
    stdout = environment.current().stdout
    writer = csv.writer(stdout, lineterminator="\n")
    # Python's writer quotes a field holding "\n" (the line terminator) but not one holding a bare
    # "\r", which every reader then takes for the end of a line: such a row is written all quoted
    quoted = csv.writer(stdout, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    for row in rows:
        cells = [_cell(row.get(column), nested_json) for column in columns]
        (quoted if any(isinstance(cell, str) and "\r" in cell for cell in cells) else writer).writerow(cells)
    stdout.flush()


def literal(value: Any) -> Any:
    """A cell for a rich table: text as given (never markup, control characters escaped), or a
    renderable as it is."""
    from rich.text import Text

    if value is None:
        return Text("")
    if isinstance(value, str):
        return Text(safe_text(value))
    if _renderable(value):
        return value
    return Text(safe_text(str(value)))


def markdown(text: str) -> Any:
    """Markdown for the terminal, control characters escaped."""
    from rich.markdown import Markdown

    return Markdown(safe_text(text), code_theme="ansi_dark")


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
    if title is None and _plain_table(headers, rows, right):
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
        table.add_row(*(literal(cell) for cell in row))
    out().print(table)


def _plain_table(headers: Sequence[str], rows: list[Sequence[Any]], right: Iterable[str]) -> bool:
    """The table written without rich, where that writes the same (cli/plain_table.py); False
    where rich is needed."""
    from agentik_cli.cli import plain_table

    env = environment.current()
    if not plain_table.for_pipe(env) or any(_renderable(cell) for row in rows for cell in row):
        return False
    right_set = set(right)
    written = plain_table.table(
        [safe_text(header) for header in headers],
        [
            ["" if cell is None else safe_text(cell if isinstance(cell, str) else str(cell)) for cell in row]
            for row in rows
        ],
        [header in right_set for header in headers],
    )
    if written is None:
        return False
    env.stdout.write(written)
    env.stdout.flush()
    return True


def _renderable(value: Any) -> bool:
    return hasattr(value, "__rich_console__") or hasattr(value, "__rich__")


def print_fields(pairs: Iterable[tuple[str, Any]]) -> None:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in pairs:
        if value is not None:
            table.add_row(literal(key), literal(value))
    out().print(table)


def print_line(text: str = "") -> None:
    """A line on stdout: escaped on a terminal, as it is for a program reading a pipe."""
    env = environment.current()
    env.stdout.write((safe_text(text) if env.stdout_isatty else text) + "\n")
    env.stdout.flush()


def note(message: str) -> None:
    """A remark for the person at the terminal, on stderr."""
    from rich.text import Text

    err().print(Text(safe_text(message), style="dim"))


def warn(message: str) -> None:
    from rich.text import Text

    err().print(Text(f"agentik: warning: {safe_text(message)}", style="yellow"))
