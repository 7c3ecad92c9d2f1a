"""The provider interface: class attributes plus one streaming method.

A provider turns a ChatRequest into a stream of text (and, where the model streams it, reasoning),
updating a CallState as it goes so that a call cut short still knows its tokens so far."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from agentik_cli.services.pricing import Usage

DEFAULT_MAX_TOKENS = 8192
MAX_RETRIES = 2  # the SDKs' default: 429, 408, 409 and 5xx are retried twice, with backoff


@dataclass
class Attachment:
    name: str
    mime: str
    size: int
    sha256: str
    data: bytes | None = None  # images, for this call only
    text: str | None = None  # text files: kept, so the history can send them again

    @property
    def is_image(self) -> bool:
        return self.mime.startswith("image/")

    def b64(self) -> str:
        assert self.data is not None
        return base64.b64encode(self.data).decode("ascii")

    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"name": self.name, "type": self.mime, "size": self.size, "sha256": self.sha256}
        if self.text is not None:
            meta["text"] = self.text
        return meta


@dataclass
class Turn:
    role: Literal["user", "assistant"]
    content: str
    attachments: list[Attachment] = field(default_factory=list)

    def text_with_files(self) -> str:
        """The message text with text attachments inlined, and a note for images no longer at hand."""
        parts = [self.content] if self.content else []
        for a in self.attachments:
            if a.text is not None:
                parts.append(f"<file name={a.name!r}>\n{a.text}\n</file>")
            elif a.data is None:
                parts.append(f"[image {a.name} was attached here]")
        return "\n\n".join(parts)


@dataclass
class ChatRequest:
    model: str
    messages: list[Turn]
    system: str | None = None
    max_tokens: int = DEFAULT_MAX_TOKENS
    temperature: float | None = None
    stream: bool = True


@dataclass
class CallState:
    """What is known of a call so far: filled in while the reply streams."""

    text: str = ""
    thinking: str = ""
    input_tokens: int = 0  # every prompt token, cache reads and writes included
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    model: str | None = None  # as the provider reports it
    stop_reason: str | None = None
    estimated: bool = False  # the token counts are agentik's own count, not the provider's

    def usage(self) -> Usage:
        return Usage(
            self.input_tokens, self.output_tokens, self.cache_read_tokens, self.cache_write_tokens, self.estimated
        )


@dataclass
class Chunk:
    kind: Literal["text", "thinking"]
    text: str


class Provider:
    """One per SDK. `name` is the provider id used in prices and the ledger; `endpoint` names the
    API path called, for the ledger."""

    name: ClassVar[str]
    base_url_env: ClassVar[str]  # the SDK's own base-URL variable
    default_base_url: ClassVar[str]
    endpoint_path: ClassVar[str]

    def __init__(self, *, api_key: str | None, base_url: str | None, timeout: float | None = None) -> None:
        self.api_key = api_key
        self.base_url = base_url
        self.timeout = timeout
        self._client: Any = None

    def connect(self) -> Any:
        """The SDK client, made once (importing the SDK: over a second for anthropic)."""
        if self._client is None:
            self._client = self.make_client()
        return self._client

    def make_client(self) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def endpoint(self) -> str:
        """The URL called, without credentials: kept on the cost row and named in errors."""
        import os

        base = self.base_url or os.environ.get(self.base_url_env) or self.default_base_url
        return strip_credentials(base).rstrip("/") + self.endpoint_path

    def stream(self, request: ChatRequest, state: CallState) -> Iterator[Chunk]:
        """Yield the reply as it arrives, keeping `state` current. Raises ProviderError."""
        raise NotImplementedError


def _reason(body: Any, fallback: str) -> str:
    """The provider's own words from an error body ({"error": {"message": ...}} for both APIs)."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    return fallback


_KEYLIKE = re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, key: str | None) -> str:
    """A provider's words, fit to print and to store: the key (or anything shaped like one) removed."""
    if key:
        text = text.replace(key, "[key]")
    return _KEYLIKE.sub(lambda m: m.group(1) + "-[redacted]", text)


def provider_error(exc: Exception, sdk: Any, label: str, url: str, key: str | None = None) -> Exception:
    """Turn an SDK exception into a ProviderError with one clear line (never the key)."""
    error = _provider_error(exc, sdk, label, url)
    if hasattr(error, "message"):
        error.message = redact(error.message, key)  # type: ignore[attr-defined]
        error.args = (error.message,)  # type: ignore[attr-defined]
    return error


def _provider_error(exc: Exception, sdk: Any, label: str, url: str) -> Exception:
    from agentik_cli.errors import ProviderError

    if isinstance(exc, sdk.APITimeoutError):
        return ProviderError(f"{label} at {url} did not answer in time", hint="check the server, or try again")
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = str(cause) if cause else str(exc)
        if "refused" in detail.lower():
            detail = "connection refused"
        return ProviderError(f"cannot reach {label} at {url}: {detail}")
    if isinstance(exc, sdk.APIStatusError):
        status = exc.status_code
        reason = _reason(getattr(exc, "body", None), getattr(exc, "message", "") or str(exc))
        if status in (401, 403):
            return ProviderError(
                f"{label} refused the key ({status}): {reason}",
                hint="check the key: `agentik keys set` or the provider's environment variable",
            )
        retried = f" (after {MAX_RETRIES} retries)" if status in (408, 409, 429) or status >= 500 else ""
        return ProviderError(f"{label} answered {status}{retried}: {reason}")
    if isinstance(exc, sdk.APIError):
        return ProviderError(f"{label} failed: {_reason(getattr(exc, 'body', None), str(exc))}")
    return exc


def strip_credentials(url: str) -> str:
    """A URL fit for the ledger and for error messages: no user:password@, no query string."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if "@" in parts.netloc:
        parts = parts._replace(netloc=parts.netloc.rsplit("@", 1)[1])
    return urlunsplit(parts._replace(query=""))


def incomplete(label: str, url: str) -> Exception:
    """A stream that ended without its closing event: the SDKs treat that as a normal end."""
    from agentik_cli.errors import ProviderError

    return ProviderError(f"{label} at {url} closed the connection before the reply was complete")
