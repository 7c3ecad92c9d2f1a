"""Prices: the bundled genai-prices list, overridden or extended by `prices.toml` in the data folder.

Costs are computed once, when a call is logged, and stored with the unit prices used: prices change,
history must not. A model with no known price gets no cost (null), never $0."""

from __future__ import annotations

import json
import os
import tomllib
from decimal import Decimal
from typing import Any

from agentik_cli import limits, paths
from agentik_cli.errors import UsageError
from agentik_cli.values import Priced, UnitPrices, Usage

# ---- overrides (prices.toml) ----


def _key(provider: str, model: str) -> str:
    return f"{provider.lower()}/{model.lower()}"


OVERRIDE_FIELDS = ("model", "provider", "input", "output", "cache_read", "cache_write")


def _read_file() -> dict[str, Any]:
    """prices.toml as written, unchecked: `prices set` and `prices remove` must be able to mend a file
    that a hand edit broke."""
    path = paths.prices_path()
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", hint="fix it or remove it") from None


def load_overrides() -> dict[str, dict[str, Any]]:
    """The overrides, every entry checked: a bad hand-edited entry is refused here, when the prices are
    read before a call is sent, never when the call's cost is computed after the reply arrived."""
    path = paths.prices_path()
    return {key: _checked_entry(path, key, entry) for key, entry in _read_file().items()}


def _checked_entry(path: Any, key: str, entry: Any) -> dict[str, Any]:
    where = f"{path}: entry [{json.dumps(key)}]"
    hint = "fix or remove that entry (`agentik prices set` and `agentik prices remove` rewrite it)"
    if not isinstance(entry, dict):
        raise UsageError(f"{where} is not a table of prices", hint=hint)
    unknown = sorted(set(entry) - set(OVERRIDE_FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown field {', '.join(unknown)}", hint=f"fields: {', '.join(OVERRIDE_FIELDS)}")
    model, provider = entry.get("model"), entry.get("provider")
    if not isinstance(model, str) or not model.strip() or not isinstance(provider, str) or not provider.strip():
        raise UsageError(f"{where}: needs a model and a provider", hint=hint)
    if _key(provider, model) != key.lower():
        raise UsageError(f"{where}: the entry's name is not {json.dumps(_key(provider, model))}", hint=hint)
    checked: dict[str, Any] = {"model": model, "provider": provider.lower()}
    for field_name in ("input", "output", "cache_read", "cache_write"):
        value = entry.get(field_name)
        if value is None:
            if field_name in ("input", "output"):
                raise UsageError(f"{where}: no {field_name} price", hint=hint)
            continue
        try:
            checked[field_name] = limits.price(value, field_name)
        except UsageError as exc:
            raise UsageError(f"{where}: {exc.message}", hint=hint) from None
    return checked


def _toml_value(value: Any) -> str:
    """A value as TOML, so that rewriting a hand-edited file (even a wrong one) keeps it readable."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if value == value else "nan"  # repr gives inf and 1e+30, which TOML reads
    return json.dumps(value if isinstance(value, str) else str(value))


def _tables() -> dict[str, dict[str, Any]]:
    """The price tables of prices.toml, unchecked; anything else in the file is not agentik's and is
    not written back."""
    return {key: value for key, value in _read_file().items() if isinstance(value, dict)}


def _save_overrides(overrides: dict[str, dict[str, Any]]) -> None:
    path = paths.prices_path()
    paths.ensure_data_dir()
    lines = ["# agentik price overrides: USD per million tokens. Written by `agentik prices set`.", ""]
    for key in sorted(overrides):
        lines.append(f"[{json.dumps(key)}]")
        for field_name, value in overrides[key].items():
            lines.append(f"{field_name} = {_toml_value(value)}")
        lines.append("")
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines), encoding="utf-8")
    os.replace(tmp, path)


def set_override(
    model: str,
    provider: str,
    input: float,
    output: float,
    cache_read: float | None = None,
    cache_write: float | None = None,
) -> UnitPrices:
    from agentik_cli.providers.registry import PROVIDERS

    provider = provider.lower()
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider '{provider}'", hint=f"use one of: {', '.join(PROVIDERS)}")
    model = model.strip()
    if not model:
        raise UsageError("the model cannot be empty")
    entry: dict[str, Any] = {"model": model, "provider": provider}
    for name, value in (("input", input), ("output", output), ("cache_read", cache_read), ("cache_write", cache_write)):
        if value is not None:
            limits.price(value, "--" + name.replace("_", "-"))
            entry[name] = value
    overrides = _tables()
    overrides[_key(provider, model)] = entry
    _save_overrides(overrides)
    return _from_override(entry)


def remove_override(model: str, provider: str) -> bool:
    overrides = _tables()
    if overrides.pop(_key(provider, model), None) is None:
        return False
    _save_overrides(overrides)
    return True


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def _from_override(entry: dict[str, Any]) -> UnitPrices:
    return UnitPrices(
        input=Decimal(str(entry["input"])),
        output=Decimal(str(entry["output"])),
        cache_read=_dec(entry.get("cache_read")),
        cache_write=_dec(entry.get("cache_write")),
        source="override",
        model_id=entry.get("model"),
    )


# ---- lookups ----


def _tier(value: Any, input_total: int) -> Decimal | None:
    """A genai-prices unit price: a Decimal, or tiered prices where crossing a tier prices all tokens."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    price = value.base
    for tier in value.tiers:
        if input_total >= tier.start:
            price = tier.price
    return Decimal(price)


class PriceBook:
    """Prices as of now: your overrides, then genai-prices. Looks each model up once (an import of a
    million rows prices them all with a handful of lookups)."""

    def __init__(self, overrides: dict[str, dict[str, Any]] | None = None) -> None:
        self.overrides = load_overrides() if overrides is None else overrides
        self._models: dict[tuple[str, str], Any] = {}
        self._units: dict[tuple[str, str, int], UnitPrices] = {}

    def _model_price(self, model: str, provider: str) -> Any:
        key = (provider, model)
        if key not in self._models:
            entry = self.overrides.get(_key(provider, model))
            if entry is not None:
                self._models[key] = _from_override(entry)
            else:
                try:
                    result = _genai_calc(model, provider, Usage())
                    price = result.model_price
                    starts = sorted(
                        {tier.start for value in vars(price).values() for tier in getattr(value, "tiers", None) or ()}
                    )
                    self._models[key] = (price, result.model.id, starts)
                except LookupError:
                    self._models[key] = None
        return self._models[key]

    def unit_prices(self, model: str, provider: str, input_total: int = 0) -> UnitPrices | None:
        """The unit prices of a model for a prompt of this size (long prompts can cross a tier)."""
        found = self._model_price(model, provider)
        if found is None or isinstance(found, UnitPrices):
            return found
        price, model_id, starts = found
        key = (provider, model, sum(1 for start in starts if input_total >= start) if starts else 0)
        cached = self._units.get(key)
        if cached is None:
            cached = self._units[key] = _genai_units(price, model_id, input_total)
        return cached

    def price(self, model: str, provider: str, usage: Usage) -> Priced | None:
        """The cost of one call at today's prices, or None when the model has no known price. Never
        raises: it runs after a paid reply arrived. Counts a server sent outside the bounds (negative,
        or more than any call can have) leave the call unpriced rather than priced wrongly."""
        counts = (usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens)
        if not limits.within_tokens(*counts):
            return None
        prices = self.unit_prices(model, provider, usage.input_tokens)
        return None if prices is None else _cost_from_units(prices, usage)


def _genai_units(price: Any, model_id: str, input_total: int) -> UnitPrices:
    """Unit prices from a genai-prices ModelPrice, at the tier a prompt of this size falls in."""
    return UnitPrices(
        input=_tier(getattr(price, "input_mtok", None), input_total) or Decimal(0),
        output=_tier(getattr(price, "output_mtok", None), input_total) or Decimal(0),
        cache_read=_tier(getattr(price, "cache_read_mtok", None), input_total),
        cache_write=_tier(getattr(price, "cache_write_mtok", None), input_total),
        source="genai-prices",
        model_id=model_id,
    )


def lookup(model: str, provider: str) -> UnitPrices | None:
    """The unit prices of a model (for a small prompt), or None when it has no known price."""
    return PriceBook().unit_prices(model, provider)


def _genai_calc(model: str, provider: str, usage: Usage) -> Any:
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
    )


def _cost_from_units(prices: UnitPrices, usage: Usage) -> Priced:
    input_nd, output_nd = prices.cost_nd(
        usage.input_tokens, usage.output_tokens, usage.cache_read_tokens, usage.cache_write_tokens
    )
    return Priced(input_nd, output_nd, prices)


def price_call(model: str, provider: str, usage: Usage) -> Priced | None:
    return PriceBook().price(model, provider, usage)


def known_models(provider: str | None = None) -> list[tuple[str, str, UnitPrices]]:
    """Every model with a known price: (provider, model, prices), overrides included and first."""
    from agentik_cli.providers.registry import PROVIDERS

    overrides = load_overrides()
    rows: dict[tuple[str, str], UnitPrices] = {}
    for entry in overrides.values():
        rows[(entry["provider"], entry["model"])] = _from_override(entry)
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
