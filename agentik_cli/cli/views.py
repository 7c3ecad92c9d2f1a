"""One output path for every listing. A listing declares its View (the table's columns, headers and
alignment, the CSV's columns, the JSON keys it keeps, what to say when there is nothing); `View.show`
prints its rows as a table, JSON or CSV. The rows are what the services return (records with money
in nano-dollars, `*_nd`, or the objects a record is made of): their JSON and CSV shape is records.py's
(`records.for_output` unless the view names another), and the table's cells are made from the rows
themselves, so that a table can say `$0.0042 +1 unpriced` from the exact figures."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from agentik_cli.cli import render
from agentik_cli.records import for_output

Output = Literal["table", "json", "csv"]
Row = Any  # a record (a dict), or what one is made of


def output(as_json: bool, as_csv: bool) -> Output:
    """The format asked for, checked before any work is done."""
    if as_json and as_csv:
        from agentik_cli.errors import UsageError

        raise UsageError("choose one of --json and --csv")
    return "json" if as_json else "csv" if as_csv else "table"


@dataclass(frozen=True)
class Column:
    """A column of the table: its header, its cell from a row, and its side."""

    header: str
    cell: Callable[[Row], Any]
    right: bool = False

    @classmethod
    def of(cls, key: str, header: str | None = None, *, right: bool = False) -> Column:
        """A field shown as it is."""
        return cls(header or key, lambda row: row[key], right)

    @classmethod
    def count(cls, key: str, header: str | None = None) -> Column:
        """A number with thousands separators, on the right."""
        return cls(header or key, lambda row: f"{row[key]:,}", right=True)

    @classmethod
    def money(cls, key: str = "cost_nd", header: str = "cost", unpriced: str | None = "unpriced_calls") -> Column:
        """Nano-dollars as dollars, with the calls that had no price."""
        return cls(header, lambda row: render.money(row[key], row[unpriced] if unpriced else 0), right=True)

    @classmethod
    def when(cls, key: str, header: str | None = None) -> Column:
        """A stored time, in the local zone."""
        return cls(header or key, lambda row: render.local_time(row[key]))


@dataclass(frozen=True)
class View:
    columns: tuple[Column, ...]
    csv: Sequence[str]  # the CSV's columns: JSON keys
    empty: str = "nothing to show"
    json_keys: tuple[str, ...] | None = None  # the JSON keys kept (None: the whole record)
    nested_json: bool = False  # lists in a CSV cell as JSON text (lists of objects), not joined by `;`
    table: Callable[[list[Row]], None] | None = None  # a table of its own (a chart), given the rows
    title: str | None = None
    shape: Callable[[Row], dict[str, Any]] = for_output  # a row's JSON form (records.py)
    flat: Callable[[Row], dict[str, Any]] | None = None  # its CSV form, where that is not the JSON form

    def show(self, rows: Iterable[Row], fmt: Output) -> None:
        rows = list(rows)
        if fmt == "json":
            shaped = [self.shape(row) for row in rows]
            if self.json_keys is not None:
                shaped = [{k: v for k, v in row.items() if k in self.json_keys} for row in shaped]
            render.print_json(shaped)
        elif fmt == "csv":
            render.print_csv(map(self.flat or self.shape, rows), self.csv, nested_json=self.nested_json)
        elif self.table is not None:
            self.table(rows)
        else:
            render.print_table(
                [c.header for c in self.columns],
                ([c.cell(row) for c in self.columns] for row in rows),
                right=[c.header for c in self.columns if c.right],
                title=self.title,
                empty=self.empty,
            )
