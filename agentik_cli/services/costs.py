"""Writing the ledger directly: `costs record` (usage that happened elsewhere, the seed's
costs.create), `costs import` (JSONL or CSV, all rows or none) and `costs cleanup`."""

from __future__ import annotations

import csv
import io
import itertools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from agentik_cli import environment, limits
from agentik_cli.errors import UsageError
from agentik_cli.limits import EARLIEST, LATEST, MAX_TOKENS
from agentik_cli.records import TOKEN_KEYS
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import bulk, ledger
from agentik_cli.store.engine import Store
from agentik_cli.timeutil import days_ago, now_utc, parse_when
from agentik_cli.values import UnitPrices

FIELDS = (
    "model",
    "provider",
    *TOKEN_KEYS,
    "agent",
    "cost",
    "channel",
    "endpoint",
    "at",
    "user",
)
REQUIRED = FIELDS[:4]
FIELD_SET = frozenset(FIELDS)
PRICE_COLUMNS = ("price_input_nd", "price_output_nd", "price_cache_read_nd", "price_cache_write_nd")
NO_PRICES = (None,) * len(PRICE_COLUMNS)
# the columns of a ledger row made from a record (Resolver.values), in order
COLUMNS = (
    *("agent_id", "agent_name", "model", "provider", "input_tokens", "output_tokens", "cache_read_tokens"),
    *("cache_write_tokens", "total_tokens", "input_cost_nd", "output_cost_nd", "total_cost_nd", *PRICE_COLUMNS),
    *("timestamp", "channel", "endpoint", "user_name"),
)
# records parsed, validated and written at a time
CHUNK = 1000


class RowError(UsageError):
    pass


@dataclass
class Resolver:
    """Turns a record's fields into a ledger row: agents looked up once each, prices once a model."""

    store: Store
    prices: PriceBook

    def __post_init__(self) -> None:
        self.agents: dict[str, tuple[int, str] | None] = {}
        # a record's (model, provider) as given: their names cleaned, whether their prices are
        # tiered, else their prices (None: unknown) and those prices as a row keeps them
        self.models: dict[tuple[Any, Any], tuple[str, str, bool, UnitPrices | None, tuple[int | None, ...]]] = {}
        self.user = environment.current().user
        self.users: dict[Any, str] = {}
        self.stored: dict[int, tuple[UnitPrices, tuple[int | None, ...]]] = {}

    def agent(self, ref: str) -> tuple[int, str]:
        if ref not in self.agents:
            with self.store.read() as session:
                from agentik_cli.services.agents import find

                found = find(session, ref)
            self.agents[ref] = (found.id, found.name) if found is not None and found.id else None
        resolved = self.agents[ref]
        if resolved is None:
            raise RowError(f"unknown agent '{ref}'")
        return resolved

    def user_name(self, given: Any) -> str:
        """A row's `user`, checked as AGENTIK_USER is (once a name: an import has few users)."""
        name = self.users.get(given)
        if name is None:
            if not isinstance(given, str):
                raise RowError("user must be text")
            name = self.users[given] = environment.check_user(given, "user")
        return name

    def row(self, record: dict[str, Any]) -> dict[str, Any]:
        """Validate one record and make its ledger row."""
        return dict(zip(COLUMNS, self.values(record), strict=True))

    def values(self, record: Any) -> list[Any]:
        """Validate one record and make its ledger row's values, in the order of COLUMNS. Written for
        speed: an import calls it a million times, so the common case (well-formed numbers, an ISO
        time, a model seen before) takes no detours and makes one list."""
        if type(record) is not dict:
            raise RowError("a record must be a JSON object")
        get = record.get
        if not record.keys() <= FIELD_SET:
            raise RowError(f"unknown field {', '.join(sorted(set(record) - FIELD_SET))}")
        model, provider = get("model"), get("provider")
        input_tokens, output_tokens = get("input_tokens"), get("output_tokens")
        if not model or not provider or input_tokens in (None, "") or output_tokens in (None, ""):
            missing = [name for name in REQUIRED if get(name) in (None, "")]
            raise RowError(f"missing {', '.join(missing)}")
        known = self.models.get((model, provider)) or self._model(model, provider)
        model, provider, tiered, prices, stored = known
        if type(input_tokens) is not int or not 0 <= input_tokens <= MAX_TOKENS:
            input_tokens = limits.tokens(input_tokens, "input_tokens")
        if type(output_tokens) is not int or not 0 <= output_tokens <= MAX_TOKENS:
            output_tokens = limits.tokens(output_tokens, "output_tokens")
        cache_read, cache_write = get("cache_read_tokens", 0), get("cache_write_tokens", 0)
        if type(cache_read) is not int or not 0 <= cache_read <= MAX_TOKENS:
            cache_read = _count(cache_read, "cache_read_tokens")
        if type(cache_write) is not int or not 0 <= cache_write <= MAX_TOKENS:
            cache_write = _count(cache_write, "cache_write_tokens")
        if cache_read + cache_write > input_tokens:
            raise RowError("cache tokens are part of input_tokens, so cannot be more than it")
        at, agent, cost, channel, endpoint = get("at"), get("agent"), get("cost"), get("channel"), get("endpoint")
        user = get("user")
        agent_id = agent_name = None
        if agent is not None and agent != "":
            agent_id, agent_name = self.agent(str(agent))
        # checked in the order the fields were always checked, so a row with two faults names the same one
        moment = _time(at) if at is not None and at != "" else now_utc()
        user_name = self.user if user is None or user == "" else self.user_name(user)
        input_nd = output_nd = total_nd = None
        if at is not None and at != "":  # usage of another day: that day's prices
            prices = self.prices.unit_prices(model, provider, input_tokens, moment)
            stored = NO_PRICES if prices is None else self._stored(prices)
        elif tiered:
            prices = self.prices.unit_prices(model, provider, input_tokens)
            stored = NO_PRICES if prices is None else self._stored(prices)
        if cost is not None and cost != "":
            total_nd = _money(cost)  # the prices of the day are kept for the record even then
        elif prices is not None:
            input_nd, output_nd = prices.cost_nd(input_tokens, output_tokens, cache_read, cache_write)
            total_nd = input_nd + output_nd
        # what an imported call never has (a session, a message, a response time, an estimate) is
        # left to the columns' defaults
        return [
            agent_id,
            agent_name,
            model,
            provider,
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            input_tokens + output_tokens,
            input_nd,
            output_nd,
            total_nd,
            *stored,
            moment,
            None if channel in (None, "") else str(channel),
            None if endpoint in (None, "") else str(endpoint),
            user_name,
        ]

    def _model(self, given_model: Any, given_provider: Any) -> tuple[str, str, bool, UnitPrices | None, Any]:
        model, provider = str(given_model).strip(), str(given_provider).strip().lower()
        if not model or not provider:
            raise RowError("model and provider cannot be empty")
        tiered = self.prices.tiered(model, provider)
        prices = None if tiered else self.prices.unit_prices(model, provider)
        stored = NO_PRICES if prices is None else self._stored(prices)
        known = self.models[(given_model, given_provider)] = (model, provider, tiered, prices, stored)
        return known

    def _stored(self, prices: UnitPrices) -> tuple[int | None, ...]:
        """The unit prices as a row keeps them, made once for each prices object the book hands out
        (it keeps them all, so an object's id names it while the import lasts)."""
        found = self.stored.get(id(prices))
        if found is None or found[0] is not prices:
            found = self.stored[id(prices)] = (prices, tuple(prices.stored[name] for name in PRICE_COLUMNS))
        return found[1]


def _count(value: Any, name: str) -> int:
    if type(value) is int and 0 <= value <= MAX_TOKENS:
        return value
    if value in (None, ""):
        return 0
    return limits.tokens(value, name)


def _money(value: Any) -> int:
    return limits.cost_nd(value, "cost")


def _time(value: Any) -> datetime:
    text = str(value)
    if "T" in text:
        try:  # the common case, an ISO datetime, without the general parser (which words the errors)
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if moment.tzinfo is not UTC:  # fromisoformat gives UTC itself for +00:00 and Z
                moment = (moment if moment.tzinfo else moment.astimezone()).astimezone(UTC)
            if EARLIEST <= moment < LATEST:
                return moment
        except (ValueError, OverflowError, OSError):
            pass
    return parse_when(text, option="at")


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


def _jsonl(handle: Iterable[str]) -> Iterator[Chunk]:
    """(line numbers, records) a chunk of lines at a time. A chunk is parsed as one JSON array (one
    call into the C parser instead of a thousand); a chunk that fails is parsed again line by line
    to name the bad line. Whether each record is an object is for Resolver.values to say."""
    numbers: list[int] = []
    lines: list[str] = []
    for number, line in enumerate(handle, start=1):
        if line.isspace() or not line:
            continue
        numbers.append(number)
        lines.append(line)
        if len(lines) == CHUNK:
            yield numbers, _parse_chunk(numbers, lines)
            numbers, lines = [], []
    yield numbers, _parse_chunk(numbers, lines)


def _parse_chunk(numbers: list[int], lines: list[str]) -> list[Any]:
    try:
        values = json.loads("[" + ",".join(lines) + "]")
        if len(values) == len(lines):  # else a line holds two values, separated by a comma
            return list(values)
    except ValueError:
        pass
    values = []
    for number, line in zip(numbers, lines, strict=True):
        try:
            values.append(json.loads(line))
        except ValueError as exc:
            hint = "nothing was imported"
            if number == 1 and "," in line:
                hint += "; for CSV give --format csv (the header names the fields: model, provider, ...)"
            raise UsageError(f"line {number}: not valid JSON ({getattr(exc, 'msg', exc)})", hint=hint) from None
    return values


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
    lines = itertools.chain([first], handle)
    resolver = Resolver(store, PriceBook(store))
    reader = _csv(lines) if fmt == "csv" else _jsonl(lines)

    def batches() -> Iterator[list[list[Any]]]:
        values = resolver.values
        for numbers, records in reader:
            try:
                batch = [values(record) for record in records]
            except UsageError:
                raise _bad_line(numbers, records, values) from None
            yield batch

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


def _bad_line(numbers: list[int], records: list[Any], values: Callable[[Any], Any]) -> UsageError:
    """The error of the first record of a chunk that fails, naming its line."""
    for number, record in zip(numbers, records, strict=True):
        try:
            values(record)
        except UsageError as exc:
            return UsageError(f"line {number}: {exc.message}", hint="nothing was imported")
    raise AssertionError("a chunk that failed has a record that fails")


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
