"""Anthropic's stream read from its raw events (AnthropicProvider.events: the JSON read with attribute
access, not made into the SDK's pydantic objects; issue 22's long reply) means exactly what the SDK's
own objects mean: every kind of reply, cut short or failing mid-stream, is stored and shown alike
either way."""

from __future__ import annotations

import re

import pytest

from agentik_cli.cli.app import app
from agentik_cli.providers import anthropic_provider, base
from tests.conftest import db_rows
from tests.fakeprovider import Reply

SCENES = {
    "text": Reply(text="one two three four five"),
    "thinking": Reply(text="The answer.", thinking="Let me think it over."),
    "tool calls": Reply(
        text="Looking.",
        tool_calls=[
            {"name": "nothing_here", "arguments": {"path": "a.txt", "n": 3}},
            {"name": "nothing_either", "arguments": "{not json"},
        ],
    ),
    "cache and extra usage": Reply(
        input_tokens=1_000,
        cache_read=200,
        cache_write=100,
        output_tokens=500,
        usage_extra={"server_tool_use": {"web_search_requests": 1}, "service_tier": "standard"},
    ),
    "dropped": Reply(text="one two three four five six", drop_after=3),
    "an error mid-stream": Reply(
        text="one two three four five six", error_after=2, error_type="overloaded_error", error_message="Overloaded"
    ),
}

MESSAGE = "SELECT role, content, input_tokens, output_tokens, cost_nd, interrupted, error FROM messages ORDER BY id"
COST = (
    "SELECT model, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_cost_nd, estimated "
    "FROM costs ORDER BY id"
)


def _run(cli, fake, agentik_home, reply: Reply, *, sdk_objects: bool, monkeypatch) -> tuple:
    with monkeypatch.context() as patch:
        if sdk_objects:  # the SDK's own iteration, as before
            patch.setattr(anthropic_provider.AnthropicProvider, "events", base.Provider.events)
        fake.add(reply)
        result = cli.runner.invoke(app, ["chat", "claude", "-m", "hello"])
    messages = db_rows(agentik_home, MESSAGE)[-2:]
    costs = db_rows(agentik_home, COST)[-1:]
    # each run is a session of its own, and takes its own time
    said = re.sub(r"session \d+", "session N", re.sub(r"\d+\.\d s", "T s", result.stderr))
    return result.exit_code, result.stdout, said, messages, costs


@pytest.mark.parametrize("scene", sorted(SCENES))
def test_raw_events_mean_what_the_sdks_objects_mean(cli, fake, agentik_home, monkeypatch, scene):
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    theirs = _run(cli, fake, agentik_home, SCENES[scene], sdk_objects=True, monkeypatch=monkeypatch)
    ours = _run(cli, fake, agentik_home, SCENES[scene], sdk_objects=False, monkeypatch=monkeypatch)
    assert ours == theirs
    assert theirs[3], "the scene stored nothing"


def test_an_error_event_mid_stream_is_a_provider_error_and_keeps_what_arrived(cli, fake, agentik_home):
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    fake.add(SCENES["an error mid-stream"])
    result = cli("chat", "claude", "-m", "hello", code=1)
    assert "Overloaded" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    role, content, *_ = db_rows(agentik_home, MESSAGE)[-1]
    assert role == "assistant" and content == "one two "  # the two pieces that arrived, stored


def test_an_sdk_without_raw_events_is_read_through_its_own_objects(cli, fake, agentik_home, monkeypatch):
    import anthropic

    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    expected = _run(cli, fake, agentik_home, SCENES["thinking"], sdk_objects=True, monkeypatch=monkeypatch)
    monkeypatch.delattr(anthropic.Stream, "raw_events")
    assert _run(cli, fake, agentik_home, SCENES["thinking"], sdk_objects=False, monkeypatch=monkeypatch) == expected
