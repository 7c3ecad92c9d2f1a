"""Counting tokens: a count as a server sent it (or none, when it is nonsense), agentik's own
estimate of what a request and a reply hold when the server sent none, and the most a request can
hold, which is what a budget reserves."""

from __future__ import annotations

import json
import math
from typing import Any

from agentik_cli import limits
from agentik_cli.values import ChatRequest

MAX_TOKENS_PER_CALL = limits.MAX_SERVER_TOKENS


def token_count(value: Any) -> int | None:
    """A token count as a server sent it, or None when it is not one (negative, fractional, not a
    number, absurd): the caller then treats it as never sent, and counts for itself. 12.0 and "12"
    are 12, as the SDKs read them when they validate (their streams do, their plain replies not)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    elif isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS_PER_CALL:
        return value
    return None


def field_count(obj: Any, name: str) -> int | None:
    """`token_count` of one field of an SDK usage object (or of its details, which may be None)."""
    return token_count(getattr(obj, name, None)) if obj is not None else None


# Estimates err high, so that a budget never believes a call cheaper than it was. English runs near
# four UTF-8 bytes a token and code near three; CJK text takes three bytes a character and about a
# token each. An image costs at most about 1,600 tokens with either provider (both scale it down
# first: Anthropic to about 1.15 megapixels at 750 pixels a token, OpenAI to 768 px tiles).
BYTES_PER_TOKEN = 3
TOKENS_PER_IMAGE = 1_600
TOKENS_PER_MESSAGE = 8  # role and framing around each message


def estimate_tokens(text: str) -> int:
    return math.ceil(len(text.encode("utf-8", "surrogatepass")) / BYTES_PER_TOKEN)


def _sent(request: ChatRequest) -> tuple[list[str], int, int]:
    """What a request sends, for counting: its texts (system, history with text files, reasoning,
    tool calls and results, tool definitions), its messages (each framed) and its images."""
    texts = [request.system] if request.system else []
    messages = len(texts)
    images = 0
    for turn in request.messages:
        texts.append(turn.text_with_files())
        messages += 1
        images += sum(1 for a in turn.attachments if a.is_image and a.data is not None)
        for part in turn.parts:  # reasoning and tool calls re-sent, beside the text counted above
            if part.kind == "tool_call" and part.call is not None:
                texts.append(part.call.id + part.call.name + json.dumps(part.call.arguments))
                messages += 1
            elif part.kind == "thinking":
                texts.append(part.text + (part.signature or "") + (part.redacted or ""))
        for result in turn.results:
            texts.append(result.call_id + result.content)
            messages += 1
    for tool in request.tools:  # the tool definitions are part of the prompt
        texts.append(tool.name + tool.description + json.dumps(tool.parameters))
        messages += 1
    return texts, messages, images


def estimate_prompt(request: ChatRequest) -> int:
    """The prompt tokens of a request, counted from what was sent: system, history, attachments."""
    texts, messages, images = _sent(request)
    return sum(map(estimate_tokens, texts)) + TOKENS_PER_MESSAGE * messages + TOKENS_PER_IMAGE * images


# The most tokens anything sent can be, for a budget's worst case: every token of a tokenizer covers
# at least one byte of UTF-8, so a text has at most as many tokens as bytes; each message adds its
# role and framing; an image costs at most about 1,600 tokens with Anthropic and 48,169 with OpenAI's
# gpt-4o-mini (2,833 + 5,667 per 512-px tile, 8 tiles at most).
CEILING_PER_MESSAGE = 16
CEILING_PER_IMAGE = 50_000
# A request with tools carries a system prompt of the provider's own that explains them: 346 tokens
# at most with Anthropic's models (its tool-use pricing table), less with OpenAI's. Counted with
# room to spare, so that a tool call's prompt is never reported beyond its ceiling.
CEILING_FOR_TOOLS = 1_000


def ceiling_prompt(request: ChatRequest) -> int:
    """A number of prompt tokens the request cannot exceed (see above): what a budget reserves."""
    texts, messages, images = _sent(request)
    total_bytes = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
    tools = CEILING_FOR_TOOLS if request.tools else 0
    return total_bytes + CEILING_PER_MESSAGE * (messages + 1) + CEILING_PER_IMAGE * images + tools
