"""Writing the ledger directly: `costs record` (usage that happened elsewhere, the seed's
costs.create), `costs import` (JSONL or CSV, all rows or none) and `costs cleanup`."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import delete, func, select

from agentik_cli.errors import UsageError
from agentik_cli.money import to_nd
from agentik_cli.services import ledger
from agentik_cli.services.pricing import PriceBook, Usage, per_mtok_nd
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Cost, CostBucket
from agentik_cli.timeutil import now_utc, parse_when

FIELDS = (
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "agent",
    "cost",
    "channel",
    "endpoint",
    "at",
)
REQUIRED = FIELDS[:4]
BATCH = 5000


class RowError(UsageError):
    pass


@dataclass
class Resolver:
    """Turns a record's fields into a ledger row: agents looked up once each, prices once a model."""

    store: Store
    prices: PriceBook

    def __post_init__(self) -> None:
        self.agents: dict[str, tuple[int, str] | None] = {}

    def agent(self, ref: str) -> tuple[int, str]:
        key = ref.strip().lower()
        if key not in self.agents:
            with self.store.read() as session:
                from agentik_cli.services.agents import find

                found = find(session, ref)
            self.agents[key] = (found.id, found.name) if found is not None and found.id is not None else None
        resolved = self.agents[key]
        if resolved is None:
            raise RowError(f"unknown agent '{ref}'")
        return resolved

    def row(self, record: dict[str, Any]) -> dict[str, Any]:
        missing = [name for name in REQUIRED if record.get(name) in (None, "")]
        if missing:
            raise RowError(f"missing {', '.join(missing)}")
        unknown = set(record) - set(FIELDS)
        if unknown:
            raise RowError(f"unknown field {', '.join(sorted(unknown))}")
        model, provider = str(record["model"]).strip(), str(record["provider"]).strip().lower()
        if not model or not provider:
            raise RowError("model and provider cannot be empty")
        counts = {
            name: _count(record.get(name), name) for name in REQUIRED[2:] + ("cache_read_tokens", "cache_write_tokens")
        }
        if counts["cache_read_tokens"] + counts["cache_write_tokens"] > counts["input_tokens"]:
            raise RowError("cache tokens are part of input_tokens, so cannot be more than it")
        usage = Usage(
            counts["input_tokens"], counts["output_tokens"], counts["cache_read_tokens"], counts["cache_write_tokens"]
        )
        at = record.get("at")
        timestamp = _time(at) if at not in (None, "") else now_utc()
        agent_id = agent_name = None
        if record.get("agent") not in (None, ""):
            agent_id, agent_name = self.agent(str(record["agent"]))
        entry = ledger.CostEntry(
            model=model,
            provider=provider,
            usage=usage,
            agent_id=agent_id,
            agent_name=agent_name,
            timestamp=timestamp,
            channel=_text(record.get("channel")),
            endpoint=_text(record.get("endpoint")),
        )
        cost = record.get("cost")
        if cost not in (None, ""):
            entry.total_nd = _money(cost)
            prices = self.prices.unit_prices(model, provider, usage.input_tokens)
            row = entry.row()
            if prices is not None:  # the prices of the day, for the record, even when the cost was given
                row.update(
                    price_input_nd=per_mtok_nd(prices.input),
                    price_output_nd=per_mtok_nd(prices.output),
                    price_cache_read_nd=per_mtok_nd(prices.cache_read),
                    price_cache_write_nd=per_mtok_nd(prices.cache_write),
                )
            return row
        entry.priced = self.prices.price(model, provider, usage)
        return entry.row()


def _count(value: Any, name: str) -> int:
    if value in (None, ""):
        return 0
    try:
        number = int(value) if not isinstance(value, float) or value.is_integer() else None
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool):
        raise RowError(f"{name} must be a whole number, not {value!r}")
    if number < 0:
        raise RowError(f"{name} cannot be negative ({number})")
    return number


def _money(value: Any) -> int:
    try:
        nd = to_nd(str(value).strip().lstrip("$"))
    except ArithmeticError:
        raise RowError(f"cost must be a number of dollars, not {value!r}") from None
    if nd < 0:
        raise RowError(f"cost cannot be negative ({value})")
    return nd


def _time(value: Any) -> datetime:
    text = str(value)
    try:
        return parse_when(text, option="at")
    except UsageError:
        raise RowError(f"cannot read the time {text!r}") from None


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def record(store: Store, fields: dict[str, Any]) -> dict[str, Any]:
    resolver = Resolver(store, PriceBook())
    try:
        row = resolver.row({k: v for k, v in fields.items() if v is not None})
    except RowError as exc:
        raise UsageError(exc.message) from None
    with store.write() as session:
        row["id"] = ledger.write_cost_row(session, row)
    return row


# ---- import ----


def _jsonl(handle: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            raise UsageError(f"line {number}: not valid JSON ({exc.msg})", hint="nothing was imported") from None
        if not isinstance(value, dict):
            raise UsageError(f"line {number}: a record must be a JSON object", hint="nothing was imported")
        yield number, value


def _csv(handle: IO[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(handle)
    if reader.fieldnames is None:
        return
    header = [name.strip() for name in reader.fieldnames]
    unknown = set(header) - set(FIELDS)
    if unknown:
        raise UsageError(f"line 1: unknown column {', '.join(sorted(unknown))}", hint=f"columns: {', '.join(FIELDS)}")
    reader.fieldnames = header
    for record in reader:
        if None in record:
            raise UsageError(f"line {reader.line_num}: more values than columns", hint="nothing was imported")
        yield reader.line_num, {k: v for k, v in record.items() if v not in (None, "")}


def detect_format(path: str, given: str | None) -> str:
    if given is not None:
        if given not in ("jsonl", "csv"):
            raise UsageError(f"unknown format '{given}'", hint="use jsonl or csv")
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"


def import_file(store: Store, path: str, fmt: str | None = None, progress: Callable[[int], None] | None = None) -> int:
    """All rows or none: rows are validated and inserted in batches inside one transaction, and the
    first bad row rolls everything back with an error naming its line. The file is streamed."""
    fmt = detect_format(path, fmt)
    if path == "-":
        handle: IO[str] = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", newline="")
    else:
        file = Path(path)
        if not file.exists():
            raise UsageError(f"{path}: no such file")
        if file.is_dir():
            raise UsageError(f"{path} is a folder, not a file")
        handle = file.open(encoding="utf-8", newline="")
    resolver = Resolver(store, PriceBook())
    reader = _csv(handle) if fmt == "csv" else _jsonl(handle)
    count = 0
    try:
        with store.write() as session:
            batch: list[dict[str, Any]] = []
            for number, record in reader:
                try:
                    batch.append(resolver.row(record))
                except RowError as exc:
                    raise UsageError(f"line {number}: {exc.message}", hint="nothing was imported") from None
                if len(batch) >= BATCH:
                    ledger.write_costs(session, batch)
                    count += len(batch)
                    batch = []
                    if progress is not None and path != "-":
                        progress(handle.buffer.tell() if hasattr(handle, "buffer") else 0)
            ledger.write_costs(session, batch)
            count += len(batch)
            if count == 0:
                raise UsageError(f"{path}: no rows to import", hint="the file is empty")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text", hint="nothing was imported") from None
    finally:
        if path != "-":
            handle.close()
    return count


# ---- cleanup ----


@dataclass
class Cleanup:
    rows: int
    cost_nd: int
    unpriced_calls: int
    before: datetime


def cleanup(store: Store, older_than_days: int, dry_run: bool = False) -> Cleanup:
    """Remove ledger rows older than N days (to the quarter hour), moving the maintained aggregates
    by the same amounts in the same transaction. Sessions and messages are not touched."""
    if older_than_days <= 0:
        raise UsageError("--older-than must be 1 day or more")
    cutoff = ledger.quarter_hour(now_utc() - timedelta(days=older_than_days))
    old = Cost.timestamp < cutoff  # type: ignore[operator]
    counted = select(
        func.count(),
        func.coalesce(func.sum(Cost.total_cost_nd), 0),
        func.count().filter(Cost.total_cost_nd.is_(None)),  # type: ignore[union-attr]
    ).where(old)
    if dry_run:
        with store.read() as session:
            rows, cost_nd, unpriced = session.execute(counted).one()
        return Cleanup(int(rows), int(cost_nd), int(unpriced), cutoff)
    with store.write() as session:
        rows, cost_nd, unpriced = session.execute(counted).one()
        if rows:
            ledger.subtract_from_aggregates(session, old)
            session.execute(delete(CostBucket).where(CostBucket.start < cutoff))  # type: ignore[arg-type]
            session.execute(delete(Cost).where(old))
    return Cleanup(int(rows), int(cost_nd), int(unpriced), cutoff)
