"""Hostile review 29: price_cache.json (services/pricing.py `_price_of_today`). A damaged file is
meant to be looked past (the list looked up again), and `PriceBook.price` "never raises: it runs
after a paid reply arrived". A kept unit price that is not a number (a damaged or hand-edited file)
raises decimal.InvalidOperation, an ArithmeticError, which the read's `except (OSError, ValueError,
KeyError, TypeError, AttributeError)` does not catch."""

from __future__ import annotations

import json
import os

import pytest

from agentik_cli import paths
from agentik_cli.cli.app import app
from agentik_cli.services import pricing
from agentik_cli.values import Usage


def _cache() -> str:
    return os.path.join(paths.data_dir_text(), "price_cache.json")


@pytest.mark.parametrize("damage", ["", "1.5.0", "three dollars", "NaN", "-Infinity", "-3"])
def test_a_damaged_price_in_the_file_is_looked_past_not_raised(damage):
    paths.ensure_data_dir()
    book = pricing.PriceBook(None, {})
    usage = Usage(1_000, 900, 300, 200)
    expected = book.price("gpt-4o", "openai", usage)
    assert expected is not None
    with open(_cache(), encoding="utf-8") as file:
        kept = json.load(file)
    kept["prices"]["openai/gpt-4o"]["units"]["input_mtok"] = damage
    with open(_cache(), "w", encoding="utf-8") as file:
        json.dump(kept, file)
    assert pricing.PriceBook(None, {}).price("gpt-4o", "openai", usage) == expected


def test_a_chat_with_a_damaged_price_file_is_recorded_and_priced(cli, fake, agentik_home):
    """The same at the command line: the reply arrives, is paid for, and the command ends."""
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    cli("chat", "claude", "-m", "hello")  # the price of the day kept
    with open(_cache(), encoding="utf-8") as file:
        kept = json.load(file)
    for entry in kept["prices"].values():
        if entry:
            entry["units"]["output_mtok"] = "n/a"
    with open(_cache(), "w", encoding="utf-8") as file:
        json.dump(kept, file)
    result = cli.runner.invoke(app, ["chat", "claude", "-m", "again"])
    assert result.exit_code == 0, (result.stderr, repr(result.exception))
