"""A model's price of the day kept in the data folder (services/pricing.py `_price_of_today`, issue
22): the next process reads it instead of building the whole price list, and the cost is the same."""

from __future__ import annotations

import json
import os

import pytest

from agentik_cli import paths
from agentik_cli.services import pricing
from agentik_cli.values import Usage

# a prompt past the long-context tier of each, and a small one
MODELS = [
    ("claude-sonnet-4-0", "anthropic", 250_000),  # long context from agentik's own table
    ("gemini-2.5-pro", "google", 250_000),  # tiers in the list itself
    ("gpt-4o", "openai", 1_000),
    ("claude-haiku-4-5", "anthropic", 1_000),
]


def _cache() -> str:
    return os.path.join(paths.data_dir_text(), "price_cache.json")


def _prices(model: str, provider: str, prompt: int) -> list[object]:
    book = pricing.PriceBook(None, {})
    usage = Usage(prompt, 900, 300, 200)
    return [book.price(model, provider, usage), book.price(model, provider, Usage(10, 5)), book.tiered(model, provider)]


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The models looked up in the list itself."""
    looked: list[str] = []
    real = pricing._genai_calc

    def calc(model, provider, usage, at=None):
        looked.append(model)
        return real(model, provider, usage, at)

    monkeypatch.setattr(pricing, "_genai_calc", calc)
    return looked


@pytest.mark.parametrize(("model", "provider", "prompt"), MODELS)
def test_a_kept_price_prices_a_call_as_the_list_does(model, provider, prompt, counted):
    paths.ensure_data_dir()
    first = _prices(model, provider, prompt)
    assert counted == [model]
    assert os.path.exists(_cache())
    again = _prices(model, provider, prompt)
    assert counted == [model]  # the second process's lookup read the file
    assert again == first
    assert first[0] is not None and first[0].prices.model_id


def test_an_unknown_model_is_kept_unpriced(counted):
    paths.ensure_data_dir()
    assert _prices("no-such-model-xyz", "anthropic", 10) == [None, None, False]
    assert _prices("no-such-model-xyz", "anthropic", 10) == [None, None, False]
    assert counted == ["no-such-model-xyz"]


def test_another_version_or_day_or_a_broken_file_looks_the_list_up_again(counted, monkeypatch):
    paths.ensure_data_dir()
    first = _prices("gpt-4o", "openai", 10)
    kept = json.loads(open(_cache(), encoding="utf-8").read())
    for changed in ({**kept, "genai_prices": "0.0.0"}, {**kept, "day": "2001-01-01"}, "{not json"):
        with open(_cache(), "w", encoding="utf-8") as file:
            file.write(changed if isinstance(changed, str) else json.dumps(changed))
        counted.clear()
        assert _prices("gpt-4o", "openai", 10) == first
        assert counted == ["gpt-4o"]


def test_a_price_that_changes_with_the_time_of_day_is_never_kept(counted):
    paths.ensure_data_dir()
    _prices("deepseek-chat", "deepseek", 10)
    _prices("deepseek-chat", "deepseek", 10)
    assert counted.count("deepseek-chat") == 2


def test_a_price_at_another_moment_is_not_taken_from_the_file(counted):
    """An imported call is priced as of its own time: the list, never today's kept price."""
    from datetime import UTC, datetime

    paths.ensure_data_dir()
    _prices("gpt-4o", "openai", 10)
    counted.clear()
    pricing.PriceBook(None, {}).unit_prices("gpt-4o", "openai", at=datetime(2025, 1, 1, tzinfo=UTC))
    assert counted
