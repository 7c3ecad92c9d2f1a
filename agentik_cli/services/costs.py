"""Writing the ledger directly: `costs record` (usage that happened elsewhere), `costs import`
(JSONL or CSV, all rows or none) and `costs cleanup`. A record is made a ledger row by
services/cost_rows.py.

A big JSONL import is parsed, checked and priced by forked processes while this one writes what
they made before (issue 22: at a million rows the writing is about 60% of the work, so with a core
to spare the import takes the writing's time alone); blocks of lines go out and their rows come
back in the file's order, so the first bad line named is the file's first, and nothing is written
unless every line is good."""

from __future__ import annotations

import csv
import io
import itertools
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from agentik_cli.errors import UsageError
from agentik_cli.services import cost_rows, workers
from agentik_cli.services.cost_rows import CHUNK, COLUMNS, FIELDS, PRICE_COLUMNS, Resolver, RowError
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import bulk, ledger
from agentik_cli.store.engine import Store
from agentik_cli.timeutil import days_ago

__all__ = ["CHUNK", "PRICE_COLUMNS", "cleanup", "detect_format", "import_file", "record"]

# a JSONL file this big is parsed by a forked process (smaller ones would wait for the fork)
PARALLEL_BYTES = 4 << 20
# the text of a block of lines handed to the parser, and how many blocks may wait at a time
BLOCK_CHARS = 256 << 10
AHEAD = 4
# forked parsers: one per core (the writer waits on its disk often enough to share one)
PARSERS = 2


def record(store: Store, fields: dict[str, Any]) -> dict[str, Any]:
    resolver = Resolver(store, PriceBook(store))
    try:
        row = resolver.row({k: v for k, v in fields.items() if v is not None})
    except RowError as exc:
        raise UsageError(exc.message) from None
    with store.write() as unit:
        row["id"] = ledger.add_costs(unit, [row])[0]
    return row


# ---- import ----


Chunk = tuple[list[int], list[Any]]


def _blocks(first: str, handle: IO[str]) -> Iterator[tuple[int, str]]:
    """The file's JSONL text a block of whole lines at a time, with the number of each block's first
    line. Every line end is made a newline: the file is read with newline="" (for CSV), which
    leaves a Windows or old Mac line end as it was, and a parser splits on newlines alone."""
    number = 1
    text = first
    while True:
        more = handle.read(BLOCK_CHARS)
        if more:
            more += handle.readline()
        text = (text + more).replace("\r\n", "\n").replace("\r", "\n")
        if not text:
            return
        yield number, text
        number += text.count("\n")
        text = ""
        if not more:
            return


def _parsed(
    store: Store, resolver: Resolver, blocks: Iterator[tuple[int, str]], size: int
) -> Iterator[cost_rows.Parsed]:
    """Each block's rows, in order: parsed here, or by a forked parser when the file is big and a
    core is there for it."""
    for_sqlite = store.is_sqlite
    # PostgreSQL: the server needs the other core for its side of the COPY (forked parsers made the
    # import slower there: 51,056 -> 45,146 rows/s at a million rows)
    if not for_sqlite or size < PARALLEL_BYTES or not workers.can_fork():
        for number, text in blocks:
            yield cost_rows.parse_block(resolver, for_sqlite, number, text)
        return
    yield from workers.in_order(
        cost_rows.parse_forked, blocks, PARSERS, AHEAD, cost_rows.parser_started, (resolver, for_sqlite)
    )


def _csv(handle: Iterable[str]) -> Iterator[Chunk]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:
        return
    header = [name.strip() for name in reader.fieldnames]
    unknown = set(header) - set(FIELDS)
    if unknown:
        raise UsageError(f"line 1: unknown column {', '.join(sorted(unknown))}", hint=f"columns: {', '.join(FIELDS)}")
    reader.fieldnames = header
    numbers: list[int] = []
    records: list[Any] = []
    for record in reader:
        if None in record:
            raise UsageError(f"line {reader.line_num}: more values than columns", hint="nothing was imported")
        numbers.append(reader.line_num)
        records.append({k: v for k, v in record.items() if v not in (None, "")})
        if len(records) == CHUNK:
            yield numbers, records
            numbers, records = [], []
    yield numbers, records


def detect_format(path: str, given: str | None, first_line: str = "") -> str:
    """--format when given; else the file's extension; else (stdin, any other name) the first
    line: a CSV header names only the import's fields, a JSON line starts with `{`."""
    if given is not None:
        if given not in ("jsonl", "csv"):
            raise UsageError(f"unknown format '{given}'", hint="use jsonl or csv")
        return given
    if path.lower().endswith(".csv"):
        return "csv"
    if path.lower().endswith((".jsonl", ".json", ".ndjson")):
        return "jsonl"
    return "csv" if _is_csv_header(first_line) else "jsonl"


def _is_csv_header(line: str) -> bool:
    if line.lstrip().startswith("{"):
        return False
    names = {name.strip().strip('"') for name in line.strip().split(",")}
    return "model" in names and names <= set(FIELDS)


def import_file(store: Store, path: str, fmt: str | None = None, progress: Callable[[int], None] | None = None) -> int:
    """All rows or none: rows are validated and inserted in batches inside one transaction, and the
    first bad row rolls everything back with an error naming its line. The file is streamed."""
    # utf-8-sig: a file saved by a spreadsheet starts with a byte order mark, which is not data
    if path == "-":
        handle: IO[str] = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", newline="")
    else:
        file = Path(path)
        if not file.exists():
            raise UsageError(f"{path}: no such file")
        if file.is_dir():
            raise UsageError(f"{path} is a folder, not a file")
        handle = file.open(encoding="utf-8-sig", newline="")
    try:
        first = handle.readline()
    except UnicodeDecodeError:
        handle.close()
        raise UsageError(f"{path}: not UTF-8 text", hint="nothing was imported") from None
    fmt = detect_format(path, fmt, first)
    resolver = Resolver(store, PriceBook(store))

    def batches() -> Iterator[list[list[Any]]]:
        if fmt == "csv":
            values = resolver.values
            for numbers, records in _csv(itertools.chain([first], handle)):
                try:
                    batch = [values(record) for record in records]
                except UsageError:
                    message, hint = cost_rows.bad_line(numbers, records, values)
                    raise UsageError(message, hint=hint) from None
                yield batch
            return
        size = 0 if path == "-" else Path(path).stat().st_size
        for rows, error in _parsed(store, resolver, _blocks(first, handle), size):
            if error is not None:
                raise UsageError(error[0], hint=error[1])
            yield rows

    def moved() -> None:
        if progress is not None:
            progress(_position(handle))

    try:
        with store.write() as unit:
            count = bulk.import_costs(unit, COLUMNS, batches(), after_batch=moved)
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text", hint="nothing was imported") from None
    finally:
        if path != "-":
            handle.close()
    return count


def _position(handle: IO[str]) -> int:
    buffer = getattr(handle, "buffer", None)
    try:
        return buffer.tell() if buffer is not None else 0
    except (OSError, ValueError):
        return 0


# ---- cleanup ----


@dataclass
class Cleanup:
    rows: int
    cost_nd: int
    unpriced_calls: int
    before: datetime


def cleanup(store: Store, older_than_days: int, dry_run: bool = False) -> Cleanup:
    """Remove ledger rows older than N days (to the quarter hour), moving the maintained aggregates
    by the same amounts in the same transaction. Sessions and messages are not touched. What is
    reported is what the unit removed, counted inside its transaction."""
    if older_than_days <= 0:
        raise UsageError("--older-than must be 1 day or more")
    cutoff = ledger.quarter_hour(days_ago(older_than_days, "--older-than"))
    old = ledger.older_than(cutoff)
    if dry_run:
        with store.read() as session:
            found = ledger.count_costs(session, old)
    else:
        with store.write() as unit:
            found = ledger.remove_costs(unit, old)
    return Cleanup(found.rows, found.cost_nd, found.unpriced_calls, cutoff)
