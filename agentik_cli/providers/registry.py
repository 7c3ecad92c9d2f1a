"""The providers agentik speaks to, and everything the rest of the tree asks about them: which
names exist, whose key is where, which model belongs to whom, what an agent may ask of each. Each
provider declares all of it on its class (providers/base.py `Provider`); adding one is a subclass
and a line in PROVIDERS.

Light to import (`agentik --help` and completion do): the provider modules import their SDK only
when a call is made."""

from __future__ import annotations

from agentik_cli.errors import UsageError
from agentik_cli.providers.anthropic_provider import AnthropicProvider
from agentik_cli.providers.base import Provider
from agentik_cli.providers.openai_provider import OpenAIProvider

PROVIDERS: dict[str, type[Provider]] = {cls.name: cls for cls in (AnthropicProvider, OpenAIProvider)}


def names() -> tuple[str, ...]:
    return tuple(PROVIDERS)


def unknown(name: str, hint: str | None = None) -> UsageError:
    return UsageError(f"unknown provider '{name}'", hint=hint or f"use one of: {', '.join(names())}")


def check(name: str) -> str:
    """A provider name as given (any case), as the registry knows it; a usage error otherwise."""
    name = name.lower()
    if name not in PROVIDERS:
        raise unknown(name)
    return name


def get(name: str) -> type[Provider]:
    return PROVIDERS[check(name)]


def infer(model: str) -> str | None:
    """The provider a model name belongs to, when its name tells (`claude-...`, `gpt-...`)."""
    lowered = model.lower()
    for name, cls in PROVIDERS.items():
        if cls.model_prefixes and lowered.startswith(cls.model_prefixes):
            return name
    return None


def takes_temperature(name: str) -> bool:
    cls = PROVIDERS.get(name)
    return cls is None or cls.temperature_range is not None


def make(name: str, *, api_key: str | None, base_url: str | None, timeout: float | None = None) -> Provider:
    """A provider ready to call: its key as found (services/chat/opening.py `make_provider` looks it up), an
    agent's own server or None, a timeout in seconds or None (the SDK's own). Its SDK client is made,
    by the provider, on the first call."""
    return get(name)(api_key=api_key, base_url=base_url, timeout=timeout)
