"""Prices: the bundled genai-prices list, overridden or extended by the prices set in the store
(`agentik prices set`; a `prices.toml` of an older agentik is moved into the store on first use).

A model's price of the day is kept in the data folder (price_cache.json), keyed by the genai-prices
version: the list's first lookup builds all of its data (about a tenth of a second of a one-shot
chat, issue 22), and a chat needs one model's price.

Costs are computed once, when a call is logged, and stored with the unit prices used: prices change,
history must not. A model with no known price gets no cost (null), never $0."""

from __future__ import annotations

import json
import os
from datetime import UTC, date, datetime, time
from decimal import Decimal
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from agentik_cli import limits, paths
from agentik_cli.errors import UsageError
from agentik_cli.services import price_overrides
from agentik_cli.values import Priced, UnitPrices, Usage

if TYPE_CHECKING:
    from agentik_cli.store.engine import Store


# ---- lookups ----


def _tier(value: Any, input_total: int) -> Decimal | None:
    """A genai-prices unit price: a Decimal, or tiered prices where a prompt that exceeds a tier's
    start prices all its tokens at that tier (as genai-prices and the providers count: a prompt of
    exactly 200,000 tokens is not yet a long one)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    price = value.base
    for tier in value.tiers:
        if input_total > tier.start:
            price = tier.price
    return Decimal(price)


# Long-context rates the bundled list does not give a model (Anthropic's pricing page: Claude Sonnet 4
# past 200,000 prompt tokens, which only its 1M-token context reaches, costs $6 in and $22.50 out, the
# cache at twice its rates): the tier's start and the factors of input, output, cache read and write
LONG_CONTEXT: dict[str, tuple[int, Decimal, Decimal, Decimal, Decimal]] = {
    "claude-sonnet-4-0": (200_000, Decimal(2), Decimal("1.5"), Decimal(2), Decimal(2)),
}


class PriceBook:
    """Prices as of now: the store's overrides, then genai-prices. Looks each model up once (an
    import of a million rows prices them all with a handful of lookups). With no store, the bundled
    prices only."""

    def __init__(self, store: Store | None, overrides: dict[str, UnitPrices] | None = None) -> None:
        if overrides is None:
            overrides = price_overrides.load_overrides(store) if store is not None else {}
        self.overrides = overrides
        self._models: dict[tuple[str, str, date | datetime | None], Any] = {}
        self._units: dict[tuple[str, str, int, date | datetime | None], UnitPrices] = {}
        self._by_hour: dict[tuple[str, str], bool] = {}

    def _moment(self, model: str, provider: str, at: datetime | None) -> date | datetime | None:
        """What a price depends on at a moment: its day, or its half hour for a model whose price
        changes with the time of day (off-peak rates). A price set in the store holds at every time."""
        if at is None:
            return None
        key = (provider, model)
        by_hour = self._by_hour.get(key)
        if by_hour is None:
            overridden = price_overrides.price_key(provider, model) in self.overrides
            by_hour = self._by_hour[key] = not overridden and _by_time_of_day(model, provider)
        if at.tzinfo is not UTC:
            at = at.astimezone(UTC)
        if by_hour:
            return at.replace(minute=at.minute // 30 * 30, second=0, microsecond=0)
        return at.date()

    def _model_price(self, model: str, provider: str, when: date | datetime | None = None) -> Any:
        """A model's prices now, or at a moment (the list's price of that day, or half hour: an
        imported call is priced as it was when it was made); a price set in the store holds always."""
        key = (provider, model, when)
        if key not in self._models:
            override = self.overrides.get(price_overrides.price_key(provider, model))
            if override is not None:
                self._models[key] = override
            elif when is None:
                self._models[key] = _price_of_today(model, provider)
            else:
                at = when if isinstance(when, datetime) else datetime.combine(when, time(12), UTC)
                self._models[key] = _listed_price(model, provider, at)[0]
        return self._models[key]

    def unit_prices(
        self, model: str, provider: str, input_total: int = 0, at: datetime | None = None
    ) -> UnitPrices | None:
        """The unit prices of a model for a prompt of this size (long prompts can cross a tier), now
        or at a given time."""
        day = self._moment(model, provider, at)
        found = self._model_price(model, provider, day)
        if found is None or isinstance(found, UnitPrices):
            return found
        price, model_id, starts = found
        key = (provider, model, sum(1 for start in starts if input_total > start) if starts else 0, day)
        cached = self._units.get(key)
        if cached is None:
            cached = self._units[key] = _genai_units(price, model_id, input_total)
        return cached

    def by_time_of_day(self, model: str, provider: str) -> bool:
        """Whether the model's price at a moment depends on its half hour, not only its day."""
        return isinstance(self._moment(model, provider, datetime(2000, 1, 1, tzinfo=UTC)), datetime)

    def tiers_at(self, model: str, provider: str, at: datetime) -> tuple[list[int], list[UnitPrices | None]]:
        """The model's unit prices at a moment for every prompt size: the sizes past which a tier
        starts, and the prices of each tier (one more than the starts). For an import, which looks
        them up once a day (or half hour) instead of once a row; a tier is unit_prices' own answer
        for a prompt just inside it."""
        found = self._model_price(model, provider, self._moment(model, provider, at))
        starts = list(found[2]) if found is not None and not isinstance(found, UnitPrices) else []
        sizes = [0, *(start + 1 for start in starts)]
        return starts, [self.unit_prices(model, provider, size, at) for size in sizes]

    def tiered(self, model: str, provider: str) -> bool:
        """Whether the model's unit prices depend on the prompt's size (an import looks them up
        once a model when they do not)."""
        found = self._model_price(model, provider)
        return found is not None and not isinstance(found, UnitPrices) and bool(found[2])

    def price(self, model: str, provider: str, usage: Usage) -> Priced | None:
        """The cost of one call at today's prices, or None when the model has no known price. Never
        raises: it runs after a paid reply arrived. Counts a server sent outside the bounds (negative,
        or more than any call can have) leave the call unpriced rather than priced wrongly."""
        counts = (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens)
        if not limits.within_tokens(*counts):
            return None
        prices = self.unit_prices(model, provider, usage.input_tokens)
        return None if prices is None else _cost_from_units(prices, usage)


def _listed_price(model: str, provider: str, at: datetime | None) -> tuple[Any, bool]:
    """The list's prices of a model at a moment (None: now), as (ModelPrice, model id, the prompt
    sizes where a tier starts), or None when it has none; and whether they change with the time of day."""
    try:
        result = _genai_calc(model, provider, Usage(), at)
    except LookupError:
        return None, False
    price = result.model_price
    starts = sorted({tier.start for value in vars(price).values() for tier in getattr(value, "tiers", None) or ()})
    if not starts and result.model.id in LONG_CONTEXT:
        starts = [LONG_CONTEXT[result.model.id][0]]
    return (price, result.model.id, starts), _varies_by_time(result.model)


def _price_of_today(model: str, provider: str) -> Any:
    """`_listed_price` now, kept for the day (UTC, as the list's dates are) in price_cache.json.
    A price that changes with the time of day is never kept."""
    path = os.path.join(paths.data_dir_text(), "price_cache.json")
    today = datetime.now(UTC).date().isoformat()  # the clock genai-prices prices "now" by
    try:
        version = _genai_version()
    except Exception:  # no version to key the price by: looked up every time
        return _listed_price(model, provider, None)[0]
    try:
        with open(path, encoding="utf-8") as file:
            kept = json.load(file)
        if kept["genai_prices"] != version or kept["day"] != today:
            kept = None
        elif f"{provider}/{model}" in kept["prices"]:
            return _from_json(kept["prices"][f"{provider}/{model}"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError):  # a damaged file: a miss
        kept = None
    found, varies = _listed_price(model, provider, None)
    if varies:
        return found
    try:
        entry = _to_json(found)
        kept = kept or {"genai_prices": version, "day": today, "prices": {}}
        kept["prices"][f"{provider}/{model}"] = entry
        if os.path.isdir(os.path.dirname(path)):
            temporary = f"{path}.{os.getpid()}.tmp"
            with open(temporary, "w", encoding="utf-8") as file:
                json.dump(kept, file)
            os.replace(temporary, path)  # whole or not at all, whoever reads it meanwhile
    except (OSError, TypeError, ValueError):
        pass
    return found


def _genai_version() -> str:
    """What the kept prices were made by: the list's version, and agentik's (whose own rates, as
    LONG_CONTEXT, go into them)."""
    from importlib.metadata import version

    from agentik_cli import __version__

    return f"{version('genai-prices')} agentik {__version__}"


def _to_json(found: Any) -> Any:
    """A `_listed_price` as JSON: each unit price a decimal string, or its base and tiers."""
    if found is None:
        return None
    price, model_id, starts = found
    units: dict[str, Any] = {}
    for name, value in vars(price).items():
        if isinstance(value, Decimal):
            units[name] = str(value)
        elif value is not None:
            units[name] = {"base": str(value.base), "tiers": [[t.start, str(t.price)] for t in value.tiers]}
    return {"model_id": model_id, "starts": starts, "units": units}


def _from_json(entry: Any) -> Any:
    """A `_listed_price` back from `_to_json`: the unit prices as attributes, as on a ModelPrice."""
    if entry is None:
        return None
    units = {
        name: _price(value)
        if isinstance(value, str)
        else SimpleNamespace(
            base=_price(value["base"]),
            tiers=[SimpleNamespace(start=int(start), price=_price(price)) for start, price in value["tiers"]],
        )
        for name, value in entry["units"].items()
    }
    return SimpleNamespace(**units), str(entry["model_id"]), [int(start) for start in entry["starts"]]


def _price(text: str) -> Decimal:
    """A kept unit price: a number, finite and not below zero, or ValueError (a damaged file)."""
    value = Decimal(text)
    if not value.is_finite() or value < 0:
        raise ValueError(f"not a price: {text!r}")
    return value


def _genai_units(price: Any, model_id: str, input_total: int) -> UnitPrices:
    """Unit prices from a genai-prices ModelPrice, at the tier a prompt of this size falls in."""
    units = [
        _tier(getattr(price, name, None), input_total)
        for name in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
    ]
    long = LONG_CONTEXT.get(model_id)
    if long is not None and not _has_tiers(price) and input_total > long[0]:
        units = [None if unit is None else unit * factor for unit, factor in zip(units, long[1:], strict=True)]
    return UnitPrices(
        input=units[0] or Decimal(0),
        output=units[1] or Decimal(0),
        cache_read=units[2],
        cache_write=units[3],
        source="genai-prices",
        model_id=model_id,
    )


def _has_tiers(price: Any) -> bool:
    return any(getattr(value, "tiers", None) for value in vars(price).values())


def lookup(store: Store | None, model: str, provider: str) -> UnitPrices | None:
    """The unit prices of a model (for a small prompt), or None when it has no known price."""
    return PriceBook(store).unit_prices(model, provider)


def find_price(store: Store, model: str, provider: str | None) -> tuple[str, UnitPrices | None]:
    """The provider and price `prices show` gives for a model. Without a provider: every provider
    that has a price for it, the one its name implies (the bundled list's, or an override) and those
    of the overrides set for it (a model priced only under another provider than its name implies,
    issue 21); one is the answer, several are a usage error asking which. (provider, None) when the
    implied provider has no price; a UsageError when no provider can be told at all."""
    if provider is not None:
        return provider, lookup(store, model, provider)
    from agentik_cli.providers.registry import infer

    book = PriceBook(store)
    implied = infer(model)
    candidates = ([implied] if implied is not None else []) + price_overrides.override_providers(store, model)
    found = {name: prices for name in candidates if (prices := book.unit_prices(model, name)) is not None}
    if len(found) > 1:
        names = sorted(found)
        raise UsageError(
            f"model '{model}' has a price under several providers ({', '.join(names)})",
            hint=f"add --provider: agentik prices show {model} --provider {names[0]}",
        )
    if found:
        return next(iter(found.items()))
    if implied is None:
        raise UsageError(f"cannot tell the provider of model '{model}'", hint="add --provider")
    return implied, None


def _by_time_of_day(model: str, provider: str) -> bool:
    """Whether the price list gives the model prices that change with the time of day."""
    try:
        info = _genai_calc(model, provider, Usage()).model
    except LookupError:
        return False
    return _varies_by_time(info)


def _varies_by_time(info: Any) -> bool:
    prices = info.prices if isinstance(info.prices, list) else []
    return any(type(getattr(p, "constraint", None)).__name__ == "TimeOfDateConstraint" for p in prices)


def _genai_calc(model: str, provider: str, usage: Usage, at: datetime | None = None) -> Any:
    from genai_prices import Usage as GenaiUsage
    from genai_prices import calc_price

    return calc_price(
        GenaiUsage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
        model,
        provider_id=provider,
        genai_request_timestamp=at,
    )


def _cost_from_units(prices: UnitPrices, usage: Usage) -> Priced:
    input_nd, output_nd = prices.cost_nd(
        usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens
    )
    return Priced(input_nd, output_nd, prices)


def price_call(model: str, provider: str, usage: Usage, store: Store | None = None) -> Priced | None:
    return PriceBook(store).price(model, provider, usage)


def known_models(provider: str | None = None, store: Store | None = None) -> list[tuple[str, str, UnitPrices]]:
    """Every model with a known price: (provider, model, prices), the store's overrides included and
    first (with no store, the bundled prices only)."""
    from agentik_cli.providers.registry import PROVIDERS

    rows: dict[tuple[str, str], UnitPrices] = {}
    for key, override in (price_overrides.load_overrides(store) if store is not None else {}).items():
        rows[(key.split("/", 1)[0], override.model_id or key.split("/", 1)[1])] = override
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    for p in snapshot.providers:
        if p.id not in PROVIDERS or (provider and p.id != provider):
            continue
        for model in p.models:
            if (p.id, model.id) in rows:
                continue
            prices = model.prices
            if isinstance(prices, list):  # conditional prices: the last that applies now
                if not prices:
                    continue
                prices = prices[-1].prices
            rows[(p.id, model.id)] = _genai_units(prices, model.id, 0)
    return sorted(
        ((prov, model, prices) for (prov, model), prices in rows.items() if not provider or prov == provider),
        key=lambda row: (row[0], row[1]),
    )
