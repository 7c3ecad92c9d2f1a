"""OpenAI, and any OpenAI-compatible server (Ollama, vLLM, LM Studio, llama.cpp, OpenRouter), through
the `openai` SDK's Chat Completions, streamed with usage in the last chunk."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from agentik_cli.providers.base import (
    CallState,
    ChatRequest,
    Chunk,
    Provider,
    Turn,
    incomplete,
    provider_error,
)

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


class OpenAIProvider(Provider):
    name = "openai"
    base_url_env = "OPENAI_BASE_URL"
    default_base_url = "https://api.openai.com/v1"
    endpoint_path = "/chat/completions"

    @property
    def label(self) -> str:
        return "the server" if self.base_url else "OpenAI"

    @property
    def compatible(self) -> bool:
        """A server of the agent's own (--base-url), not OpenAI."""
        return self.base_url is not None

    def make_client(self) -> Any:
        import openai

        kwargs: dict[str, Any] = {"max_retries": 2}
        if self.base_url:
            kwargs["base_url"] = self.base_url
        # a server of its own with no key gets no Authorization header at all (see _params); the SDK
        # insists on some key, and must not fall back to OPENAI_API_KEY
        kwargs["api_key"] = self.api_key or "unused"
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        return openai.OpenAI(**kwargs)

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [{"role": t.role, "content": _content(t)} for t in request.messages]
        params: dict[str, Any] = {"model": request.model, "messages": messages}
        if not self.api_key:
            import openai

            params["extra_headers"] = {"Authorization": openai.Omit()}
        reasoning = not self.compatible and bool(_REASONING.match(request.model.lower()))
        if self.compatible:
            params["max_tokens"] = request.max_tokens  # what every compatible server understands
        else:
            params["max_completion_tokens"] = request.max_tokens
        if request.temperature is not None and not reasoning:
            params["temperature"] = request.temperature
        return params

    def stream(self, request: ChatRequest, state: CallState) -> Iterator[Chunk]:
        import openai

        client = self.connect()
        try:
            if not request.stream:
                completion = client.chat.completions.create(**self._params(request))
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
                        yield Chunk("text", choice.message.content)
                return
            stream = client.chat.completions.create(
                **self._params(request), stream=True, stream_options={"include_usage": True}
            )
            with stream:
                for chunk in stream:
                    if chunk.model:
                        state.model = chunk.model
                    if chunk.usage is not None:
                        self._take_usage(state, chunk.usage)
                    # the usage chunk has an empty choices list
                    for choice in chunk.choices or ():
                        if choice.finish_reason:
                            state.stop_reason = choice.finish_reason
                        delta = choice.delta
                        if delta is None:
                            continue
                        reasoning = _reasoning_text(delta)
                        if reasoning:
                            state.thinking += reasoning
                            yield Chunk("thinking", reasoning)
                        if delta.content:
                            state.text += delta.content
                            yield Chunk("text", delta.content)
            if state.stop_reason is None:
                raise incomplete(self.label, self.endpoint)
        except openai.APIError as exc:
            raise provider_error(exc, openai, self.label, self.endpoint, self.api_key) from exc

    @staticmethod
    def _take_usage(state: CallState, usage: Any) -> None:
        if usage is None:
            return
        # prompt_tokens already includes the cached tokens
        state.input_tokens = usage.prompt_tokens or 0
        state.output_tokens = usage.completion_tokens or 0
        details = getattr(usage, "prompt_tokens_details", None)
        state.cache_read_tokens = (getattr(details, "cached_tokens", None) or 0) if details else 0


def _reasoning_text(message: Any) -> str:
    """Reasoning that compatible servers stream beside the reply (vLLM, DeepSeek: reasoning_content;
    Ollama, OpenRouter: reasoning). Not part of the reply."""
    extra = getattr(message, "model_extra", None) or {}
    value = extra.get("reasoning_content") or extra.get("reasoning")
    return value if isinstance(value, str) else ""
