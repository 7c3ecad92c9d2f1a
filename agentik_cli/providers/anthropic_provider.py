"""Anthropic through the `anthropic` SDK: the Messages API, streamed.

The API version the SDK sends (2026-10-21) accepts no sampling parameters, so temperature is never
sent. Newer models stream `thinking` blocks before the text; their tokens count as output."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from agentik_cli.providers.base import MIB, CallState, Provider
from agentik_cli.providers.tokens import field_count
from agentik_cli.values import ChatRequest, Chunk, Turn


def _content(turn: Turn) -> Any:
    images = [a for a in turn.attachments if a.is_image and a.data is not None]
    text = turn.text_with_files()
    if not images:
        return text
    blocks: list[dict[str, Any]] = [
        {"type": "image", "source": {"type": "base64", "media_type": a.mime, "data": a.b64()}} for a in images
    ]
    if text:
        blocks.append({"type": "text", "text": text})
    return blocks


def _assistant_blocks(turn: Turn) -> list[dict[str, Any]]:
    """An assistant turn as it came: reasoning with its signature (which must come back with a tool
    exchange), text, tool_use."""
    blocks: list[dict[str, Any]] = []
    for part in turn.parts:
        if part.kind == "thinking":
            if part.redacted is not None:
                blocks.append({"type": "redacted_thinking", "data": part.redacted})
            elif part.signature:  # reasoning without a signature (another provider's) is not sent
                blocks.append({"type": "thinking", "thinking": part.text, "signature": part.signature})
        elif part.kind == "text" and part.text:
            blocks.append({"type": "text", "text": part.text})
        elif part.kind == "tool_call" and part.call is not None:
            blocks.append(
                {"type": "tool_use", "id": part.call.id, "name": part.call.name, "input": part.call.arguments}
            )
    return blocks


def _messages(turns: list[Turn]) -> list[dict[str, Any]]:
    """The conversation in the Messages API's shape. Tool results go back in a user message of
    tool_result blocks; a user turn right after them joins that message (roles alternate)."""
    messages: list[dict[str, Any]] = []
    for turn in turns:
        if turn.role == "tool":
            blocks: Any = [
                {"type": "tool_result", "tool_use_id": r.call_id, "content": r.content, "is_error": r.is_error}
                for r in turn.results
            ]
            messages.append({"role": "user", "content": blocks})
        elif turn.role == "assistant" and any(p.kind != "text" for p in turn.parts):
            messages.append({"role": "assistant", "content": _assistant_blocks(turn) or turn.content})
        elif turn.role == "user" and messages and messages[-1]["role"] == "user":
            content = _content(turn)
            extra = [{"type": "text", "text": content}] if isinstance(content, str) else content
            messages[-1]["content"] = [*messages[-1]["content"], *extra]
        else:
            messages.append({"role": turn.role, "content": _content(turn)})
    return messages


def _next_event(sdk: Any, events: Iterator[Any], response: Any) -> Any:
    """The stream's next event, None at its end. `raw_events` reads the body as it is: a failure to
    read it is made the connection's, as the SDK's own reading makes it (a timeout, or the
    connection lost mid-reply), so that it is told and the reply so far kept as before."""
    import httpx2

    try:
        return next(events, None)
    except httpx2.TimeoutException as exc:
        raise sdk.APITimeoutError(response.request) from exc
    except (httpx2.TransportError, httpx2.StreamError) as exc:
        raise sdk.APIConnectionError(request=response.request) from exc


def _fields(data: dict[str, Any]) -> SimpleNamespace:
    """A JSON object of an event, its fields read as the SDK's objects' attributes are."""
    return SimpleNamespace(**data)


# the Messages API's stream events (`ping` is passed over, `error` raised: AnthropicProvider.events)
_EVENTS = frozenset(
    {
        "message_start",
        "message_delta",
        "message_stop",
        "content_block_start",
        "content_block_delta",
        "content_block_stop",
    }
)


class AnthropicProvider(Provider):
    name = "anthropic"
    display_name = "Anthropic"
    key_env = "ANTHROPIC_API_KEY"
    key_header = "X-Api-Key"  # as the SDK spells it, so that ours replaces the SDK's own
    default_model = "claude-sonnet-4-5"
    model_prefixes = ("claude-",)
    temperature_range = None  # the API version the SDK sends takes no sampling parameters
    image_limit = 5 * MIB  # an image through the API
    base_url_env = "ANTHROPIC_BASE_URL"
    custom_headers_env = "ANTHROPIC_CUSTOM_HEADERS"
    ambient_headers = ("X-Api-Key",)
    default_base_url = "https://api.anthropic.com"
    endpoint_path = "/v1/messages"

    def sdk(self) -> Any:
        import anthropic

        return anthropic

    def make_client(self) -> Any:
        # given no key, the SDK would take ANTHROPIC_API_KEY, ANTHROPIC_AUTH_TOKEN, a profile on disk
        # or workload identity (whose token exchange goes to the base URL)
        anthropic = self.sdk()
        return anthropic.Anthropic(**self.client_options(anthropic.Omit()))

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens,
            "messages": _messages(request.messages),
        }
        if request.system:
            params["system"] = request.system
        if request.tools:
            params["tools"] = [
                {"name": t.name, "description": t.description, "input_schema": t.parameters} for t in request.tools
            ]
        return params

    def create(self, client: Any, request: ChatRequest, *, stream: bool) -> Any:
        if stream:
            return client.messages.create(**self._params(request), stream=True)
        return client.messages.with_raw_response.create(**self._params(request))

    def reply_type(self) -> type[Any]:
        return self.sdk().types.Message

    def events(self, stream: Any) -> Iterator[Any]:
        """The events as they came, their JSON read with attribute access, rather than made into
        the SDK's pydantic objects: over a long reply's 20,000 events that was most of what reading
        the stream cost (0.65 s of CPU against 0.28 s). The SDK still makes the request (the key,
        retries, error answers) and decodes the event stream (`Stream.raw_events`); as its own
        iteration does, `ping` and unnamed events are passed over and an `error` event is raised."""
        sdk = self.sdk()
        raw_events = getattr(sdk.Stream, "raw_events", None)
        if raw_events is None:  # an SDK without it: its own objects
            yield from stream
            return
        events = raw_events(stream.response)
        while (sse := _next_event(sdk, events, stream.response)) is not None:
            if sse.event in (None, "ping"):
                continue
            if sse.event == "error":
                try:
                    body: Any = json.loads(sse.data)
                except ValueError:
                    body = sse.data
                raise sdk.APIStatusError(str(body) or "error", response=stream.response, body=body)
            if sse.data:
                yield json.loads(sse.data, object_hook=_fields)

    def is_event(self, event: Any) -> bool:
        return getattr(event, "type", None) in _EVENTS

    def take_event(self, event: Any, state: CallState) -> Iterator[Chunk]:
        kind = event.type
        if kind == "content_block_delta":
            delta = event.delta
            if delta.type == "text_delta":
                state.add(event.index, "text", delta.text)
                yield Chunk("text", delta.text)
            elif delta.type == "thinking_delta":
                state.add(event.index, "thinking", delta.thinking)
                yield Chunk("thinking", delta.thinking)
            elif delta.type == "signature_delta":
                state.block(event.index, "thinking")["signature"] = delta.signature
            elif delta.type == "input_json_delta":
                state.add(event.index, "tool_call", delta.partial_json)
        elif kind == "content_block_start":
            block = event.content_block
            if block.type == "tool_use":
                state.begin(event.index, "tool_call", id=block.id, name=block.name)
            elif block.type == "redacted_thinking":
                state.begin(event.index, "redacted", data=block.data)
            elif block.type in ("text", "thinking"):
                state.begin(event.index, block.type)
        elif kind == "content_block_stop":
            state.end(event.index)
        elif kind == "message_start":
            state.model = event.message.model
            self._take_usage(state, event.message.usage, final=False)
        elif kind == "message_delta":
            self._take_usage(state, event.usage, final=True)
            state.stop_reason = event.delta.stop_reason

    def reply(self, message: Any, state: CallState, content_type: str | None) -> Iterator[Chunk]:
        if not isinstance(message.content, list):
            raise self.not_a_reply(content_type)
        state.started = True
        state.model = message.model
        self._take_usage(state, message.usage, final=True)
        state.stop_reason = message.stop_reason
        for index, block in enumerate(message.content):
            if block.type == "thinking":
                state.thinking += block.thinking
                state.begin(index, "thinking", text=block.thinking, signature=getattr(block, "signature", None))
                yield Chunk("thinking", block.thinking)
            elif block.type == "redacted_thinking":
                state.begin(index, "redacted", data=block.data)
            elif block.type == "text":
                state.text += block.text
                state.begin(index, "text", text=block.text)
                yield Chunk("text", block.text)
            elif block.type == "tool_use":
                state.begin(index, "tool_call", id=block.id, name=block.name, arguments=block.input)
            state.end(index)

    @staticmethod
    def _take_usage(state: CallState, usage: Any, *, final: bool) -> None:
        """message_start carries the input side and a provisional output count; message_delta the
        final output count and, optionally, cumulative input fields that replace the earlier ones.
        Anthropic's input_tokens excludes cache tokens; agentik's input_tokens counts them all. A
        count that is not one (see token_count) is taken as never sent."""
        if usage is None:
            return
        uncached = state.input_tokens - state.cache_write_tokens - state.cache_read_tokens
        fresh = field_count(usage, "input_tokens")
        read = field_count(usage, "cache_read_input_tokens")
        write = field_count(usage, "cache_creation_input_tokens")
        # the same writes split by cache lifetime (5 minutes, 1 hour); the larger count wins
        by_ttl = getattr(usage, "cache_creation", None)
        split = (field_count(by_ttl, "ephemeral_5m_input_tokens") or 0) + (
            field_count(by_ttl, "ephemeral_1h_input_tokens") or 0
        )
        if split:
            write = max(write or 0, split)
        if write is not None:
            state.cache_write_tokens = write
        if read is not None:
            state.cache_read_tokens = read
        if fresh is not None:
            uncached = fresh
            state.input_reported = True
        state.input_tokens = uncached + state.cache_write_tokens + state.cache_read_tokens
        output = field_count(usage, "output_tokens")
        if output is not None:
            thinking = field_count(getattr(usage, "output_tokens_details", None), "thinking_tokens") or 0
            state.output_tokens = max(output, thinking)  # thinking is part of the output
            state.output_reported = state.output_reported or final
