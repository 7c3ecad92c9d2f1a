"""`agentik prices`: the bundled price list (genai-prices) and the overrides set in the store."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, render
from agentik_cli.cli.options import Csv, Json
from agentik_cli.cli.views import Column, View, output
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Model prices, USD per million tokens: the bundled list and your overrides.\n\n"
    "Example: agentik prices show claude-sonnet-4-0",
    no_args_is_help=True,
)

ModelArg = Annotated[str, typer.Argument(help="The model name.", show_default=False, autocompletion=complete.models)]
ProviderOpt = Annotated[
    str | None, typer.Option("--provider", help="anthropic or openai.", autocompletion=complete.providers)
]

# the keys of _price_dict: the CSV columns
COLUMNS = ("model", "provider", "input", "output", "cache_read", "cache_write", "source", "override")


def _per_mtok(value: Any) -> float | None:
    return None if value is None else float(value)


def _price_dict(provider: str, model: str, prices: Any) -> dict[str, Any]:
    return {
        "model": model,
        "provider": provider,
        "input": _per_mtok(prices.input),
        "output": _per_mtok(prices.output),
        "cache_read": _per_mtok(prices.cache_read),
        "cache_write": _per_mtok(prices.cache_write),
        "source": prices.source,
        "override": prices.source == "override",
    }


def _usd(value: Any) -> str:
    """A unit price for people, as a plain decimal (`$0.0000001`, never `$1e-07`)."""
    return "" if value is None else "$" + render.plain_number(Decimal(str(value)))


def _per_million(value: Any) -> str | None:
    return None if value is None else f"{_usd(value)} per million tokens"


@app.command()
def show(model: ModelArg, provider: ProviderOpt = None, as_json: Json = False) -> None:
    """The price of one model.

    Example: agentik prices show gpt-4o-mini --json
    """
    from agentik_cli.errors import NotFound
    from agentik_cli.services import pricing

    provider, prices = pricing.find_price(command_store(), model, provider)
    if prices is None:
        raise NotFound(
            f"no price known for {model} ({provider})",
            hint=f"agentik prices set {model} --provider {provider} --input USD --output USD",
        )
    data = _price_dict(provider, model, prices)
    if as_json:
        render.print_json(data)
        return
    render.print_fields(
        [
            ("model", f"{model} ({provider})" + (f", priced as {prices.model_id}" if prices.model_id != model else "")),
            ("input", _per_million(prices.input)),
            ("output", _per_million(prices.output)),
            ("cache read", _per_million(prices.cache_read)),
            ("cache write", _per_million(prices.cache_write)),
            ("from", "an override set in the store" if data["override"] else "genai-prices, bundled"),
        ]
    )


@app.command("set")
def set_(
    model: ModelArg,
    provider: Annotated[str, typer.Option("--provider", help="anthropic or openai.")],
    input: Annotated[float, typer.Option("--input", help="USD per million input tokens.")],
    output: Annotated[float, typer.Option("--output", help="USD per million output tokens.")],
    cache_read: Annotated[float | None, typer.Option("--cache-read", help="USD per million cache-read tokens.")] = None,
    cache_write: Annotated[
        float | None, typer.Option("--cache-write", help="USD per million cache-write tokens.")
    ] = None,
) -> None:
    """Set a price (overrides the bundled list; prices a model it does not know).

    Example: agentik prices set llama3.2 --provider openai --input 0 --output 0
    """
    from agentik_cli.services import price_overrides

    kept = price_overrides.set_override(command_store(), model, provider, input, output, cache_read, cache_write)
    shown = f"{_usd(kept.input)} in / {_usd(kept.output)} out"
    render.note(f"price set for {model} ({provider.lower()}): {shown} per million tokens")
    given = [input, output, cache_read, cache_write]
    as_kept = [kept.input, kept.output, kept.cache_read, kept.cache_write]
    if any(g is not None and Decimal(repr(g)) != k for g, k in zip(given, as_kept, strict=True)):
        render.warn("prices are kept to the nano-dollar per million tokens: what was given is rounded to that")


@app.command("list")
def list_(provider: ProviderOpt = None, as_json: Json = False, as_csv: Csv = False) -> None:
    """Every model with a known price; your overrides are marked.

    Example: agentik prices list --provider anthropic
    """
    from agentik_cli.services import pricing

    fmt = output(as_json, as_csv)
    PRICES.show([_price_dict(p, m, prices) for p, m, prices in pricing.known_models(provider, command_store())], fmt)


def _price_of(key: str, header: str) -> Column:
    return Column(header, lambda r: _usd(r[key]), right=True)


PRICES = View(
    (
        Column.of("provider"),
        Column.of("model"),
        _price_of("input", "input"),
        _price_of("output", "output"),
        _price_of("cache_read", "cache read"),
        _price_of("cache_write", "cache write"),
        Column("", lambda r: "override" if r["override"] else ""),
    ),
    COLUMNS,
    title="USD per million tokens",
)


@app.command()
def remove(model: ModelArg, provider: Annotated[str, typer.Option("--provider", help="anthropic or openai.")]) -> None:
    """Remove your price for a model (the bundled price, if any, applies again).

    Example: agentik prices remove llama3.2 --provider openai
    """
    from agentik_cli.errors import NotFound
    from agentik_cli.services import price_overrides

    if not price_overrides.remove_override(command_store(), model, provider):
        raise NotFound(f"no price of yours for {model} ({provider})")
    render.note(f"removed your price for {model} ({provider})")
