"""`agentik keys` and `agentik prices`."""

from __future__ import annotations

import json
import stat

import pytest


def test_keys_set_list_remove(cli, agentik_home):
    cli("keys", "set", "anthropic", input="sk-ant-secret-value-1234\n")
    path = agentik_home / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {"anthropic": "sk-ant-secret-value-1234"}
    listing = cli("keys", "list", "--json")
    assert "secret-value" not in listing.stdout
    rows = json.loads(listing.stdout)
    assert rows[0]["provider"] == "anthropic" and rows[0]["key"] == "sk-…1234"
    assert rows[1] == {"provider": "openai", "source": None, "key": None}
    cli("keys", "remove", "anthropic")
    assert json.loads(path.read_text()) == {}
    cli("keys", "remove", "anthropic", code=1)


def test_environment_wins_and_is_masked(cli, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-environment-abcdef")
    row = cli.json("keys", "list")[1]
    assert row == {"provider": "openai", "source": "$OPENAI_API_KEY", "key": "sk-…cdef"}


@pytest.mark.parametrize(
    ("provider", "text", "message"), [("mystery", "k", "unknown provider"), ("openai", "\n", "the key is empty")]
)
def test_keys_bad_input(cli, agentik_home, provider, text, message):
    assert message in cli("keys", "set", provider, input=text, code=2).stderr
    assert not (agentik_home / "keys.json").exists()


def test_prices_show_bundled(cli):
    data = cli.json("prices", "show", "claude-sonnet-4-0")
    assert (data["input"], data["output"], data["cache_read"], data["cache_write"]) == (3.0, 15.0, 0.3, 3.75)
    assert data["override"] is False
    mini = cli.json("prices", "show", "gpt-4o-mini")
    assert (mini["input"], mini["output"], mini["cache_read"]) == (0.15, 0.6, 0.075)


def test_prices_set_list_remove(cli, agentik_home):
    cli(
        "prices", "set", "llama3.2", "--provider", "openai", "--input", "0.5", "--output", "1.5", "--cache-read", "0.05"
    )
    assert not (agentik_home / "prices.toml").exists()  # the price is in the store, not a file
    data = cli.json("prices", "show", "llama3.2", "--provider", "openai")
    assert (data["input"], data["output"], data["cache_read"], data["override"]) == (0.5, 1.5, 0.05, True)
    # a model known only by its price: the price tells the provider
    assert cli.json("prices", "show", "LLAMA3.2")["provider"] == "openai"
    listed = cli.json("prices", "list", "--provider", "openai")
    assert {"llama3.2", "gpt-4o-mini"} <= {r["model"] for r in listed}
    assert all(r["provider"] == "openai" for r in listed)
    assert [r["override"] for r in listed if r["model"] == "llama3.2"] == [True]
    cli("prices", "set", "gpt-4o-mini", "--provider", "openai", "--input", "9", "--output", "9")
    assert cli.json("prices", "show", "gpt-4o-mini")["input"] == 9.0
    cli("prices", "remove", "gpt-4o-mini", "--provider", "openai")
    assert cli.json("prices", "show", "gpt-4o-mini")["input"] == 0.15
    cli("prices", "remove", "gpt-4o-mini", "--provider", "openai", code=1)


def test_prices_unknown_and_bad_input(cli):
    result = cli("prices", "show", "llama3.2", "--provider", "openai", code=1)
    assert "no price known" in result.stderr and "prices set" in result.stderr
    assert "--provider" in cli("prices", "show", "mystery", code=2).stderr
    assert (
        "price of 0 or more"
        in cli("prices", "set", "m", "--provider", "openai", "--input", "-1", "--output", "1", code=2).stderr
    )
    assert (
        "unknown provider"
        in cli("prices", "set", "m", "--provider", "x", "--input", "1", "--output", "1", code=2).stderr
    )
