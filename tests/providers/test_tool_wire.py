"""Tool calls in each provider's wire format, through the real SDKs against the local test server:
streamed and not, parallel calls, the habits of OpenAI-compatible servers, and a history holding a
tool exchange sent back exactly as each API requires."""

from __future__ import annotations

import pytest

from agentik_cli.providers import registry
from agentik_cli.providers.base import CallState
from agentik_cli.providers.tokens import estimate_prompt
from agentik_cli.values import ChatRequest, Part, ToolCall, ToolResult, ToolSpec, Turn
from tests.fakeprovider import Reply

pytestmark = pytest.mark.sqlite_only("the wire formats: no store is involved")

CALC = ToolSpec("calc", "Evaluate arithmetic", {"type": "object", "properties": {"expression": {"type": "string"}}})
MODELS = {"anthropic": "claude-sonnet-4-0", "openai": "gpt-4o-mini"}


def call(fake, provider: str, stream: bool, turns: list[Turn] | None = None) -> CallState:
    client = registry.make(provider, api_key="sk-test-0123456789", base_url=None)
    request = ChatRequest(
        model=MODELS[provider], messages=turns or [Turn("user", "what is 6*7 and 2+2?")], tools=[CALC], stream=stream
    )
    state = CallState()
    list(client.stream(request, state))
    state.end_all(complete=True)
    client.close()
    return state


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_parallel_tool_calls_are_read(fake, provider, stream):
    fake.add(
        Reply(
            text="Let me compute.",
            tool_calls=[
                {"id": "c1", "name": "calc", "arguments": {"expression": "6*7"}},
                {"id": "c2", "name": "calc", "arguments": {"expression": "2+2"}},
            ],
        )
    )
    state = call(fake, provider, stream)
    assert [(c.id, c.name, c.arguments) for c in state.tool_calls] == [
        ("c1", "calc", {"expression": "6*7"}),
        ("c2", "calc", {"expression": "2+2"}),
    ]
    assert state.stop_reason in ("tool_use", "tool_calls")
    assert [p.kind for p in state.parts] == ["text", "tool_call", "tool_call"]
    assert state.parts[0].text == "Let me compute."
    sent = fake.requests[-1].body
    if provider == "anthropic":
        assert sent["tools"] == [{"name": "calc", "description": CALC.description, "input_schema": CALC.parameters}]
    else:
        assert sent["tools"] == [
            {
                "type": "function",
                "function": {"name": "calc", "description": CALC.description, "parameters": CALC.parameters},
            }
        ]


@pytest.mark.parametrize(
    "habit", [{"repeat_ids": True}, {"whole_arguments": True}, {"no_ids": True}], ids=["repeat", "whole", "no-ids"]
)
def test_openai_compatible_servers_habits(fake, habit):
    fake.add(
        Reply(
            text="",
            tool_calls=[
                {"id": "a", "name": "calc", "arguments": {"expression": "1+1"}},
                {"id": "b", "name": "calc", "arguments": ""},
            ],
            **habit,
        )
    )
    state = call(fake, "openai", True)
    calls = state.tool_calls
    assert [(c.name, c.arguments, c.arguments_error) for c in calls] == [
        ("calc", {"expression": "1+1"}, None),
        ("calc", {}, None),
    ]
    if habit.get("no_ids"):
        assert len({c.id for c in calls}) == 2  # ids made up, one per call
    else:
        assert [c.id for c in calls] == ["a", "b"]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_arguments_that_are_not_an_object_are_an_error_not_a_crash(fake, provider):
    fake.add(Reply(text="", tool_calls=[{"id": "x", "name": "calc", "arguments": "[1, 2"}]))
    (only,) = call(fake, provider, True).tool_calls
    assert only.arguments == {} and only.arguments_error


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
def test_anthropic_reasoning_keeps_its_signature(fake, stream):
    fake.add(Reply(text="", thinking="6 times 7", tool_calls=[{"id": "t", "name": "calc", "arguments": {}}]))
    state = call(fake, "anthropic", stream)
    assert state.parts[0].kind == "thinking" and state.parts[0].signature == "c2ln"
    assert state.parts[0].text == "6 times 7"


def history() -> list[Turn]:
    asked = Turn(
        "assistant",
        "Computing.",
        parts=[
            Part("thinking", "hmm", signature="c2ln"),
            Part("text", "Computing."),
            Part("tool_call", call=ToolCall("c1", "calc", {"expression": "6*7"})),
            Part("tool_call", call=ToolCall("c2", "calc", {"expression": "1/0"})),
        ],
    )
    results = Turn("tool", results=[ToolResult("c1", "42"), ToolResult("c2", "division by zero", is_error=True)])
    return [Turn("user", "6*7 and 1/0?"), asked, results, Turn("user", "thanks; and 2+2?")]


def test_anthropic_history_with_a_tool_exchange(fake):
    fake.add(Reply(text="4"))
    call(fake, "anthropic", True, history())
    messages = fake.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == [
        {"type": "thinking", "thinking": "hmm", "signature": "c2ln"},
        {"type": "text", "text": "Computing."},
        {"type": "tool_use", "id": "c1", "name": "calc", "input": {"expression": "6*7"}},
        {"type": "tool_use", "id": "c2", "name": "calc", "input": {"expression": "1/0"}},
    ]
    # the results, then the next question, in one user message: roles alternate
    assert messages[2]["content"] == [
        {"type": "tool_result", "tool_use_id": "c1", "content": "42", "is_error": False},
        {"type": "tool_result", "tool_use_id": "c2", "content": "division by zero", "is_error": True},
        {"type": "text", "text": "thanks; and 2+2?"},
    ]


def test_openai_history_with_a_tool_exchange(fake):
    fake.add(Reply(text="4"))
    call(fake, "openai", False, history())
    messages = fake.requests[-1].body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert messages[1] == {
        "role": "assistant",
        "content": "Computing.",
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "calc", "arguments": '{"expression": "6*7"}'}},
            {"id": "c2", "type": "function", "function": {"name": "calc", "arguments": '{"expression": "1/0"}'}},
        ],
    }
    assert "reasoning_content" not in messages[1]  # reasoning is never sent back to these servers
    assert messages[2:4] == [
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "tool", "tool_call_id": "c2", "content": "division by zero"},
    ]


def test_a_tool_call_cut_short_is_dropped_and_the_text_kept():
    state = CallState()
    state.begin(0, "text", text="Let me")
    state.begin(1, "tool_call", id="c", name="calc", arguments='{"expre')
    state.end_all(complete=False)
    assert [p.kind for p in state.parts] == ["text"] and state.tool_calls == []


def test_the_prompt_estimate_counts_tools_and_results():
    plain = ChatRequest(model="m", messages=[Turn("user", "hi")])
    with_tools = ChatRequest(model="m", messages=[Turn("user", "hi"), *history()[1:3]], tools=[CALC])
    assert estimate_prompt(with_tools) > estimate_prompt(plain) + 20
