"""OpenAI, and any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp, OpenRouter), through
the `openai` SDK's Chat Completions, streamed with usage in the last chunk."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from agentik_cli.providers.base import MIB, CallState, Provider
from agentik_cli.providers.failures import MAX_RETRIES
from agentik_cli.providers.tokens import field_count
from agentik_cli.values import ChatRequest, Chunk, Turn

# OpenAI's reasoning models reject a non-default temperature and want max_completion_tokens.
_REASONING = re.compile(r"^(o\d|gpt-5|gpt-[6-9])")


def _content(turn: Turn) -> Any:
    images = [a for a in turn.attachments if a.is_image and a.data is not None]
    text = turn.text_with_files()
    if not images or turn.role != "user":
        return text
    parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    parts += [{"type": "image_url", "image_url": {"url": f"data:{a.mime};base64,{a.b64()}"}} for a in images]
    return parts


def _message(turn: Turn) -> list[dict[str, Any]]:
    """One turn as Chat Completions messages: a tool turn is one "tool" message per result; an
    assistant turn that called tools carries them (reasoning is never sent back: compatible servers
    refuse their own reasoning_content in a request)."""
    if turn.role == "tool":
        return [{"role": "tool", "tool_call_id": r.call_id, "content": r.content} for r in turn.results]
    if turn.role == "assistant" and turn.tool_calls:
        calls = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments, ensure_ascii=False)},
            }
            for c in turn.tool_calls
        ]
        return [{"role": "assistant", "content": turn.content or None, "tool_calls": calls}]
    return [{"role": turn.role, "content": _content(turn)}]


class OpenAIProvider(Provider):
    name = "openai"
    display_name = "OpenAI"
    key_env = "OPENAI_API_KEY"
    key_header = "Authorization"
    key_scheme = "Bearer "
    default_model = "gpt-4o-mini"
    model_prefixes = ("gpt-", "o1", "o3", "o4", "chatgpt-")
    image_limit = 20 * MIB
    base_url_env = "OPENAI_BASE_URL"
    custom_headers_env = "OPENAI_CUSTOM_HEADERS"
    # from OPENAI_ORG_ID and OPENAI_PROJECT_ID
    ambient_headers = ("OpenAI-Organization", "OpenAI-Project", "X-Api-Key")
    default_base_url = "https://api.openai.com/v1"
    endpoint_path = "/chat/completions"

    def sdk(self) -> Any:
        import openai

        return openai

    def make_client(self) -> Any:
        # given no key, the SDK would take OPENAI_API_KEY (and refuses to start with none at all)
        openai = self.sdk()
        return openai.OpenAI(max_retries=MAX_RETRIES, **self.client_options(openai.Omit()))

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        import openai

        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        for turn in request.messages:
            messages += _message(turn)
        params: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
                }
                for t in request.tools
            ]
        if self.own_server and not self.api_key:
            # the SDK refuses to send no Authorization unless each request says so
            params["extra_headers"] = {"Authorization": openai.Omit()}
        reasoning = not self.own_server and bool(_REASONING.match(request.model.lower()))
        if self.own_server:
            params["max_tokens"] = request.max_tokens  # what every compatible server understands
        else:
            params["max_completion_tokens"] = request.max_tokens
        if request.temperature is not None and not reasoning:
            params["temperature"] = request.temperature
        return params

    def create(self, client: Any, request: ChatRequest, *, stream: bool) -> Any:
        if stream:
            return client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True}
            )
        return client.chat.completions.with_raw_response.create(**self._params(request))

    def reply_type(self) -> type[Any]:
        from openai.types.chat import ChatCompletion

        return ChatCompletion

    def is_event(self, event: Any) -> bool:
        """A chat completion chunk: choices, or (the last chunk) usage alone."""
        return isinstance(event.choices, list) or event.usage is not None

    def take_event(self, event: Any, state: CallState) -> Iterator[Chunk]:
        if event.model:
            state.model = event.model
        if event.usage is not None:
            self._take_usage(state, event.usage)
        # the usage chunk has an empty choices list
        for choice in event.choices or ():
            if choice.finish_reason:
                state.stop_reason = choice.finish_reason
            delta = choice.delta
            if delta is None:
                continue
            reasoning = _reasoning_text(delta)
            if reasoning:
                state.add(None, "thinking", reasoning)
                yield Chunk("thinking", reasoning)
            if delta.content:
                state.add(-1, "text", delta.content)
                yield Chunk("text", delta.content)
            for call in delta.tool_calls or ():
                _take_call_delta(state, call)
            if choice.finish_reason:
                state.end_all(complete=True)

    def reply(self, completion: Any, state: CallState, content_type: str | None) -> Iterator[Chunk]:
        if not isinstance(completion.choices, list):
            raise self.not_a_reply(content_type)
        state.started = True
        state.model = completion.model
        self._take_usage(state, completion.usage)
        if completion.choices:
            choice = completion.choices[0]
            state.stop_reason = choice.finish_reason
            reasoning = _reasoning_text(choice.message)
            if reasoning:
                state.thinking += reasoning
                yield Chunk("thinking", reasoning)
            if choice.message.content:
                state.text += choice.message.content
                state.begin(-1, "text", text=choice.message.content)
                yield Chunk("text", choice.message.content)
            for index, call in enumerate(choice.message.tool_calls or ()):
                function = getattr(call, "function", None)
                state.begin(
                    index,
                    "tool_call",
                    id=call.id or f"call_{index}",
                    name=getattr(function, "name", None) or "",
                    arguments=getattr(function, "arguments", None) or "",
                )
            state.end_all(complete=True)

    @staticmethod
    def _take_usage(state: CallState, usage: Any) -> None:
        """prompt_tokens counts every prompt token, cache reads and writes included; completion_tokens
        counts reasoning too. Each part is at most its whole: a server that says otherwise gets the
        larger count. A count that is not one (see token_count) is taken as never sent."""
        if usage is None:
            return
        prompt = getattr(usage, "prompt_tokens_details", None)
        state.cache_read_tokens = field_count(prompt, "cached_tokens") or 0
        state.cache_write_tokens = field_count(prompt, "cache_write_tokens") or 0
        total = field_count(usage, "prompt_tokens")
        parts = [field_count(prompt, name) or 0 for name in ("audio_tokens", "image_tokens", "text_tokens")]
        state.input_tokens = max(total or 0, state.cache_read_tokens + state.cache_write_tokens, *parts)
        state.input_reported = total is not None
        completion = getattr(usage, "completion_tokens_details", None)
        total = field_count(usage, "completion_tokens")
        parts = [field_count(completion, name) or 0 for name in _OUTPUT_PARTS]
        state.output_tokens = max(total or 0, *parts)
        state.output_reported = total is not None


def _take_call_delta(state: CallState, call: Any) -> None:
    """A piece of a streamed tool call, keyed by its index. Compatible servers differ: some repeat the
    id (and name) in every piece, some send no id, some the arguments in one piece."""
    index = call.index if isinstance(call.index, int) else len(state.open)
    block = state.block(index, "tool_call")
    if call.id and not block.get("id"):
        block["id"] = call.id
    function = call.function
    if function is not None:
        if function.name and not block.get("name"):
            block["name"] = function.name
        if function.arguments:
            state.add(index, "tool_call", function.arguments)


_OUTPUT_PARTS = (
    "reasoning_tokens",
    "audio_tokens",
    "text_tokens",
    "accepted_prediction_tokens",
    "rejected_prediction_tokens",
)


def _reasoning_text(message: Any) -> str:
    """Reasoning that compatible servers stream beside the reply (vLLM, DeepSeek: reasoning_content;
    Ollama, OpenRouter: reasoning). Not part of the reply."""
    extra = getattr(message, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else ""
