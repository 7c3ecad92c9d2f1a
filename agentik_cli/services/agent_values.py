"""What one of an agent's values may be: its name (never read as an id), the URL of a server of its
own, and the provider its model is served by."""

from __future__ import annotations

import re
import unicodedata

from agentik_cli.errors import UsageError
from agentik_cli.providers import registry
from agentik_cli.providers.registry import infer as infer_provider


def check_name(name: str) -> None:
    """What `validate` leaves open about a name (it strips it and refuses an empty one): a name must
    never read as an id, in any script (`12`, `0012`, `١٢`, `²`), nor hold control characters (a
    newline or tab in a name breaks every listing and cannot be typed back)."""
    if name.isdigit():
        raise UsageError(
            f"an agent's name cannot be only digits ('{name}'): a number refers to an agent by its id",
            hint="add a letter, e.g. agent-" + name,
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UsageError("an agent's name cannot hold control characters (newlines, tabs, ...)")


ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def base_url(text: str) -> str:
    """An http or https URL with a host. Credentials in it are refused: the URL is stored and shown,
    and a key belongs in the variable named by --api-key-env."""
    from urllib.parse import urlsplit

    url = text.strip()
    hint = "give the server's URL, e.g. http://localhost:11434/v1"
    try:
        split = urlsplit(url)
    except ValueError:
        split = None
    if split is not None and ("@" in split.netloc or split.query):
        # said without echoing the URL: what is in it may be a key
        raise UsageError(
            "--base-url cannot hold a user name, password or query string (it is stored and shown)",
            hint="put the key in an environment variable and name it with --api-key-env",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--base-url must be an http or https URL with a host, not '{text}'", hint=hint)
    if any(char.isspace() or not char.isprintable() for char in url):
        raise UsageError(f"--base-url cannot hold spaces or control characters: '{text}'", hint=hint)
    return url


def provider_for(model: str, provider: str | None, base_url: str | None) -> str:
    if provider:
        return provider
    inferred = infer_provider(model)
    if inferred:
        return inferred
    if base_url:
        # a server of its own behind --base-url speaks the OpenAI wire format
        return "openai"
    raise UsageError(
        f"cannot tell the provider of model '{model}'",
        hint=f"add --provider {' or --provider '.join(registry.names())} "
        "(openai with --base-url for an OpenAI-compatible server)",
    )
