"""What a failed call means, in one line: an SDK's exception (a timeout, no connection, an error
answer, anything else the SDK raises) as a ProviderError that says who answered what, and an error
answer's reason read from its own body, never printed whole."""

from __future__ import annotations

import html
import re
from typing import Any

MAX_RETRIES = 2  # the SDKs' default: 429, 408, 409 and 5xx are retried twice, with backoff


def translate(exc: Exception, sdk: Any, label: str, url: str) -> Exception:
    """An SDK exception as a ProviderError with one clear line (the key is removed by the caller:
    `provider_error`); any other exception as it is."""
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
        reason = _status_reason(exc)
        if status in (401, 403):
            return ProviderError(
                f"{label} refused the key ({status}): {reason}",
                hint="check the key: `agentik keys set` or the provider's environment variable",
            )
        retried = f" (after {MAX_RETRIES} retries)" if status in (408, 409, 429) or status >= 500 else ""
        return ProviderError(f"{label} at {_host(url)} answered {status}{retried}: {reason}")
    if isinstance(exc, sdk.APIError):
        return ProviderError(f"{label} failed: {_reason(getattr(exc, 'body', None), str(exc))}")
    return exc


def _status_reason(exc: Any) -> str:
    """An error answer's reason, read from the response itself (its body and content type), never
    from the SDK's message: how an SDK words a body it could not parse changes between releases
    (anthropic 2.17 puts the raw page in it)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        return _reason(body, "")
    response = getattr(exc, "response", None)
    try:
        text = response.text if response is not None else ""
        kind = response.headers.get("content-type", "") if response is not None else ""
    except Exception:  # a body that cannot be read (a stream already closed): the status alone
        text, kind = "", ""
    if not text.strip():
        return "no explanation in the answer"
    if "html" in kind.lower() or _HTML.match(text):
        return _html_reason(text)
    if isinstance(body, str) and body.strip():
        return _one_line(body)
    return _one_line(text)


def _host(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).netloc or url


def _reason(body: Any, fallback: str) -> str:
    """The provider's own words from an error body ({"error": {"message": ...}} for both APIs), on
    one line: a proxy's error page is named by its title, not printed."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return _one_line(str(error["message"]))
        if isinstance(error, str):
            return _one_line(error)
    return _one_line(fallback)


_HTML = re.compile(r"\s*<(!doctype|html|head|body)", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
REASON_LIMIT = 300


_TAG = re.compile(r"<(script|style)\b.*?</\1\s*>|<[^>]*>", re.IGNORECASE | re.DOTALL)
FIRST_WORDS = 12


def _html_reason(text: str) -> str:
    """A page, named by its title, else by its first words: never printed whole."""
    title = _TITLE.search(text)
    if title and title.group(1).strip():
        return f"an HTML page ({_one_line(html.unescape(title.group(1)))})"
    words = html.unescape(_TAG.sub(" ", text)).split()
    if not words:
        return "an HTML page"
    more = " …" if len(words) > FIRST_WORDS else ""
    return f"an HTML page ({' '.join(words[:FIRST_WORDS])}{more})"


def _one_line(text: str) -> str:
    if _HTML.match(text):
        return _html_reason(text)
    line = " ".join(text.split())
    return line if len(line) <= REASON_LIMIT else line[: REASON_LIMIT - 1] + "…"


_KEYLIKE = re.compile(r"\b(sk|rk|pk)-[A-Za-z0-9_\-*]{6,}")


def redact(text: str, key: str | None) -> str:
    """A provider's words, fit to print and to store: the key (or anything shaped like one) removed."""
    if key:
        text = text.replace(key, "[key]")
    return _KEYLIKE.sub(lambda m: m.group(1) + "-[redacted]", text)


def provider_error(exc: Exception, sdk: Any, label: str, url: str, key: str | None = None) -> Exception:
    """Turn an SDK exception into a ProviderError with one clear line (never the key)."""
    error = translate(exc, sdk, label, url)
    if hasattr(error, "message"):
        error.message = redact(error.message, key)  # type: ignore[attr-defined]
        error.args = (error.message,)  # type: ignore[attr-defined]
    return error
