"""What is known about providers without importing any SDK."""

from __future__ import annotations

PROVIDERS = ("anthropic", "openai")

KEY_ENV = {"anthropic": "ANTHROPIC_API_KEY", "openai": "OPENAI_API_KEY"}

_OPENAI_PREFIXES = ("gpt-", "o1", "o3", "o4", "chatgpt-")


def infer_provider(model: str) -> str | None:
    name = model.lower()
    if name.startswith("claude-"):
        return "anthropic"
    if name.startswith(_OPENAI_PREFIXES):
        return "openai"
    return None


def takes_temperature(provider: str) -> bool:
    # The Anthropic API version the SDK sends (2026-10-21) accepts no sampling parameters.
    return provider != "anthropic"
