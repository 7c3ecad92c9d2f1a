"""Prices set in the store (`agentik prices set`), which override or extend the bundled list; a
`prices.toml` of an older agentik is moved into the store on first use."""

from __future__ import annotations

import json
import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentik_cli import limits, paths
from agentik_cli.errors import UsageError
from agentik_cli.money import NANO, to_nd
from agentik_cli.values import UnitPrices

if TYPE_CHECKING:
    from agentik_cli.store.engine import Store
    from agentik_cli.store.prices import Override


def price_key(provider: str, model: str) -> str:
    return f"{provider.lower()}/{model.lower()}"


OVERRIDE_FIELDS = ("model", "provider", "input", "output", "cache_read", "cache_write")


def _read_file(path: Path) -> dict[str, Any]:
    """prices.toml as written, unchecked."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}", hint="fix it or remove it") from None


def _checked_entry(path: Any, key: str, entry: Any) -> Override:
    from agentik_cli.store.prices import Override

    where = f"{path}: entry [{json.dumps(key)}]"
    hint = (
        "fix or remove that entry (`agentik prices set` and `agentik prices remove` replace it); "
        "agentik then moves the file's prices into the store"
    )
    if not isinstance(entry, dict):
        raise UsageError(f"{where} is not a table of prices", hint=hint)
    unknown = sorted(set(entry) - set(OVERRIDE_FIELDS))
    if unknown:
        raise UsageError(f"{where}: unknown field {', '.join(unknown)}", hint=f"fields: {', '.join(OVERRIDE_FIELDS)}")
    model, provider = entry.get("model"), entry.get("provider")
    if not isinstance(model, str) or not model.strip() or not isinstance(provider, str) or not provider.strip():
        raise UsageError(f"{where}: needs a model and a provider", hint=hint)
    if price_key(provider, model) != key.lower():
        raise UsageError(f"{where}: the entry's name is not {json.dumps(price_key(provider, model))}", hint=hint)
    nd: dict[str, int | None] = {}
    for field_name in ("input", "output", "cache_read", "cache_write"):
        value = entry.get(field_name)
        if value is None:
            if field_name in ("input", "output"):
                raise UsageError(f"{where}: no {field_name} price", hint=hint)
            nd[field_name] = None
            continue
        try:
            nd[field_name] = to_nd(limits.price(value, field_name))
        except UsageError as exc:
            raise UsageError(f"{where}: {exc.message}", hint=hint) from None
    input_nd, output_nd = nd["input"], nd["output"]
    assert input_nd is not None and output_nd is not None
    return Override(provider.lower(), model, input_nd, output_nd, nd["cache_read"], nd["cache_write"])


def move_price_file(store: Store, replacing: str | None = None) -> bool:
    """Move the prices of a prices.toml left by an older agentik into the store, once: every entry
    is checked first (a bad hand-edited one is refused here, before a call is sent, never after the
    reply arrived), a price the store already holds stays (set since, or by someone else on a team
    store), and the file is renamed to prices.toml.moved. `replacing` is the key of a price the
    running command sets or removes: its entry is not checked nor moved. Returns whether the file
    held that key."""
    path = paths.prices_path()
    if not path.exists():
        return False
    from agentik_cli.store import prices as price_store
    from agentik_cli.store.engine import notify

    entries = _read_file(path)
    held = replacing is not None and any(key.lower() == replacing for key in entries)
    found = [_checked_entry(path, key, entry) for key, entry in entries.items() if key.lower() != replacing]
    with store.write() as unit:
        added = price_store.add_missing(unit, found)
    moved = _moved_name(path)
    try:
        os.replace(path, moved)
    except FileNotFoundError:  # another agentik moved it at the same moment, and said so
        return held
    kept = len(found) - added
    notify(
        f"moved {added} price{'s' if added != 1 else ''} from {path} into the store"
        + (f" ({kept} the store already had stayed as they were)" if kept else "")
        + f"; the file is now {moved.name}"
    )
    return held


def _moved_name(path: Path) -> Path:
    """prices.toml.moved, or .moved-2, ...: an earlier moved file is never overwritten."""
    moved = path.with_name(path.name + ".moved")
    number = 1
    while moved.exists():
        number += 1
        moved = path.with_name(f"{path.name}.moved-{number}")
    return moved


def load_overrides(store: Store) -> dict[str, UnitPrices]:
    """Every price set in the store, by provider/model key (any case)."""
    from agentik_cli.store import prices as price_store

    move_price_file(store)
    with store.read() as session:
        found = price_store.all_overrides(session)
    return {price_key(o.provider, o.model): from_override(o) for o in found}


def override_providers(store: Store, model: str) -> list[str]:
    """The providers that have a price set in the store for this model (any case)."""
    wanted = model.lower()
    return sorted({key.split("/", 1)[0] for key in load_overrides(store) if key.split("/", 1)[1] == wanted})


def set_override(
    store: Store,
    model: str,
    provider: str,
    input: float,
    output: float,
    cache_read: float | None = None,
    cache_write: float | None = None,
) -> UnitPrices:
    """Set a model's price in the store; returns the price as kept (nano-dollars per million
    tokens: a price given finer than that is rounded to it)."""
    from agentik_cli.providers.registry import PROVIDERS
    from agentik_cli.store import prices as price_store
    from agentik_cli.store.prices import Override

    provider = provider.lower()
    if provider not in PROVIDERS:
        raise UsageError(f"unknown provider '{provider}'", hint=f"use one of: {', '.join(PROVIDERS)}")
    model = model.strip()
    if not model:
        raise UsageError("the model cannot be empty")
    nd: dict[str, int | None] = {}
    for name, value in (("input", input), ("output", output), ("cache_read", cache_read), ("cache_write", cache_write)):
        nd[name] = None if value is None else to_nd(limits.price(value, "--" + name.replace("_", "-")))
    input_nd, output_nd = nd["input"], nd["output"]
    assert input_nd is not None and output_nd is not None
    price = Override(provider, model, input_nd, output_nd, nd["cache_read"], nd["cache_write"])
    move_price_file(store, replacing=price_key(provider, model))
    with store.write() as unit:
        price_store.put(unit, price)
    return from_override(price)


def remove_override(store: Store, model: str, provider: str) -> bool:
    from agentik_cli.store import prices as price_store

    key = price_key(provider, model)
    in_file = move_price_file(store, replacing=key)
    with store.write() as unit:
        removed = price_store.remove(unit, provider.lower(), model.strip())
    return removed or in_file


def _usd(nd: int | None) -> Decimal | None:
    return None if nd is None else Decimal(nd) / NANO


def from_override(price: Override) -> UnitPrices:
    usd_input, usd_output = _usd(price.input_nd), _usd(price.output_nd)
    assert usd_input is not None and usd_output is not None
    return UnitPrices(
        input=usd_input,
        output=usd_output,
        cache_read=_usd(price.cache_read_nd),
        cache_write=_usd(price.cache_write_nd),
        source="override",
        model_id=price.model,
    )
