"""A usage record made a ledger row (`costs record`, `costs import`): its fields checked, its agent
and user resolved, priced at its own time. Kept apart from the import's reading so that a forked
parser (services/costs.py) runs only this: it touches the store only to look an agent up, through a
connection of its own (`parser_started`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from agentik_cli import environment, limits
from agentik_cli.errors import UsageError
from agentik_cli.limits import EARLIEST, LATEST, MAX_TOKENS
from agentik_cli.records import TOKEN_KEYS
from agentik_cli.services import workers
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import bulk
from agentik_cli.store.engine import Store
from agentik_cli.timeutil import now_utc, parse_when
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
STAMP = COLUMNS.index("timestamp")
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
        # tiered, whether they change with the time of day, else their prices (None: unknown) and
        # those prices as a row keeps them
        self.models: dict[tuple[Any, Any], tuple[str, str, bool, bool, UnitPrices | None, tuple[int | None, ...]]] = {}
        # a model's prices on a day, or half hour (off-peak rates), as PriceBook.tiers_at gives them
        # and as a row keeps them: an import prices each row at its own time with a lookup a day
        self.days: dict[tuple[Any, ...], tuple[list[int], list[Any], list[tuple[int | None, ...]]]] = {}
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
        model, provider, tiered, by_hour, prices, stored = known
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
            half_hour = moment.hour * 2 + moment.minute // 30 if by_hour else 0
            day = self.days.get((model, provider, moment.date(), half_hour))
            if day is None:
                day = self.days[(model, provider, moment.date(), half_hour)] = self._day(model, provider, moment)
            starts, tiers, stored_tiers = day
            tier = sum(1 for start in starts if input_tokens > start) if starts else 0
            prices, stored = tiers[tier], stored_tiers[tier]
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

    def _model(self, given_model: Any, given_provider: Any) -> tuple[str, str, bool, bool, UnitPrices | None, Any]:
        model, provider = str(given_model).strip(), str(given_provider).strip().lower()
        if not model or not provider:
            raise RowError("model and provider cannot be empty")
        tiered = self.prices.tiered(model, provider)
        by_hour = self.prices.by_time_of_day(model, provider)
        prices = None if tiered else self.prices.unit_prices(model, provider)
        stored = NO_PRICES if prices is None else self._stored(prices)
        known = self.models[(given_model, given_provider)] = (model, provider, tiered, by_hour, prices, stored)
        return known

    def _day(self, model: str, provider: str, moment: datetime) -> tuple[list[int], list[Any], list[Any]]:
        """A model's prices at a moment, for every prompt size, and as a row keeps them."""
        starts, tiers = self.prices.tiers_at(model, provider, moment)
        found = (starts, tiers, [NO_PRICES if prices is None else self._stored(prices) for prices in tiers])
        return found

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


# ---- a block of JSONL lines ----

# (ledger rows, or the first bad line's error as its message and hint)
Parsed = tuple[list[list[Any]], tuple[str, str | None] | None]


def parse_block(resolver: Resolver, for_sqlite: bool, first: int, text: str) -> Parsed:
    """The ledger rows of a block of JSONL lines, its first line number `first` (lines end with
    `\\n`: the reader translated the other line ends), CHUNK lines at a time; the first bad line
    ends it. On SQLite their times are already the text the store writes (bulk.sqlite_times), work
    a parser takes off the writer."""
    lines = text.split("\n")
    if lines and not lines[-1]:
        lines.pop()
    rows: list[list[Any]] = []
    values = resolver.values
    for offset in range(0, len(lines), CHUNK):
        numbers: list[int] = []
        chunk: list[str] = []
        for number, line in enumerate(lines[offset : offset + CHUNK], start=first + offset):
            if line and not line.isspace():
                numbers.append(number)
                chunk.append(line)
        try:
            records = _parse_chunk(numbers, chunk)
        except UsageError as exc:
            return rows, (exc.message, exc.hint)
        try:
            rows += [values(record) for record in records]
        except UsageError:
            return rows, bad_line(numbers, records, values)
    if for_sqlite:
        bulk.sqlite_times(rows, STAMP)
    return rows, None


def bad_line(numbers: list[int], records: list[Any], values: Any) -> tuple[str, str | None]:
    """The error of the first record of a chunk that fails, naming its line."""
    for number, record in zip(numbers, records, strict=True):
        try:
            values(record)
        except UsageError as exc:
            return f"line {number}: {exc.message}", "nothing was imported"
    raise AssertionError("a chunk that failed has a record that fails")


# the resolver and store of a forked parser (parser_started): the parent's, as the fork copied them
_forked: tuple[Resolver, bool] | None = None


def parser_started(resolver: Resolver, for_sqlite: bool) -> None:
    """A forked parser (services/workers.py: Ctrl-C left to the importer, and gone with it). The
    connections it was forked with are the importer's (one of them in its write transaction), so
    they are forgotten, never used or closed, and an agent is looked up through a new one
    (SQLAlchemy's advice for a forked child: dispose(close=False))."""
    global _forked
    workers.started()
    resolver.store.engine.dispose(close=False)
    _forked = (resolver, for_sqlite)


def parse_forked(first: int, text: str) -> Parsed:
    assert _forked is not None, "parser_started runs first"
    return parse_block(*_forked, first, text)
