"""The `fetch` skill: GET an http(s) URL as text, from the public internet only.

The host is resolved here and every address it resolves to is checked (by agentik_cli/netcheck.py:
loopback, private, link-local, reserved, multicast, shared, documentation, cloud metadata: refused
unless the agent allows that host by name); the connection then goes to an address that was
checked, so a second lookup cannot lead elsewhere. Redirects are followed by hand, each one checked
the same way. One deadline covers the whole fetch, redirects, status lines and headers included.
What comes back is capped in size and must be text; like every tool's result, it reaches the model
marked as untrusted content (skills/toolbox.py, `untrusted`), so the page is not marked here."""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

from agentik_cli import netcheck
from agentik_cli.netcheck import Deadline, Refused, system_resolver
from agentik_cli.skills.base import Builtin, Context, Outcome, Tool, one_text_tool

TIMEOUT = 10.0  # seconds for the whole fetch, redirects included; tests lower it
MAX_BODY = 2 * 1024 * 1024
MAX_REDIRECTS = 5
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/xhtml")
refused_address = netcheck.refusal


# tests replace it to make a name resolve to a private address
resolver: Callable[[str, int], list[str]] = system_resolver


def normalised(url: str) -> str:
    """The URL as it is fetched: urlsplit drops tabs and newlines anywhere in it (and the spaces and
    controls around it), and the fragment is never sent. The approval prompt shows this, not what
    the model wrote, so what is asked is what is fetched (issue 20)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed [ of an IPv6 address, say
        raise Refused(f"{url!r} is not a URL") from None
    return urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, ""))


def checked_addresses(url: str, allow_hosts: tuple[str, ...], deadline: Deadline) -> tuple[str, str, int, list[str]]:
    """(scheme, host, port, addresses to connect to) for a URL, or Refused."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Refused(f"only http and https URLs are fetched, not {parts.scheme or 'a URL without a scheme'}")
    host = (parts.hostname or "").lower()
    if not host:
        raise Refused("the URL has no host")
    if parts.username or parts.password:
        raise Refused("URLs with credentials are not fetched")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Refused("the URL's port is not a number") from None
    try:
        addresses = netcheck.resolve(host, port, deadline, resolver)
    except TimeoutError:
        raise
    except (OSError, UnicodeError) as exc:
        raise Refused(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    if host not in {h.lower() for h in allow_hosts}:
        for address in addresses:
            why = refused_address(address)
            if why:
                raise Refused(
                    f"{host} resolves to {address}, {why}: refused (an agent may allow it with --allow-host {host})"
                )
    return parts.scheme, host, port, addresses


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style", "noscript"):
            self.skip += 1
        elif tag in ("p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "pre"):
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "noscript") and self.skip:
            self.skip -= 1

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def html_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    lines = (" ".join(line.split()) for line in "".join(parser.out).splitlines())
    return "\n".join(line for line in lines if line)


def _read(response: http.client.HTTPResponse) -> bytes:
    """The body, at most MAX_BODY + 1 bytes; every read ends by the fetch's deadline (netcheck.Pinned)."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY:
        chunk = response.read1(min(65536, MAX_BODY + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def fetch(url: str, allow_hosts: tuple[str, ...] = ()) -> tuple[str, str, bool]:
    """(final URL, text, truncated), or Refused / OSError (TimeoutError at the deadline)."""
    deadline = Deadline(TIMEOUT)
    url = normalised(url)
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, addresses = checked_addresses(url, allow_hosts, deadline)
        connection = netcheck.Pinned(scheme, host, port, addresses, deadline)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", path, headers={"User-Agent": "agentik-fetch", "Accept": "text/*, */*;q=0.5"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("location")
                if not location:
                    raise Refused(f"{url} redirected without saying where")
                url = normalised(urljoin(url, location))
                continue
            body = _read(response)
            kind = (response.getheader("content-type") or "text/plain").split(";")[0].strip().lower()
            status = response.status
        finally:
            connection.close()
        if status >= 400:
            raise Refused(f"{url} answered {status}")
        if not kind.startswith(TEXT_TYPES):
            raise Refused(f"{url} is {kind}, not text")
        truncated = len(body) > MAX_BODY
        text = body[:MAX_BODY].decode("utf-8", "replace")
        if kind in ("text/html", "application/xhtml+xml"):
            text = html_text(text)
        return url, text, truncated
    raise Refused(f"more than {MAX_REDIRECTS} redirects")


class FetchSkill(Builtin, name="fetch", risk="network"):
    description = "Fetch a public web page or file as text (http/https GET; private addresses refused)."

    def tools(self) -> list[Tool]:
        description = "GET a URL and return it as text (HTML turned into text)."
        return [one_text_tool(self, description, "url", "An http or https URL")]

    def describe(self, tool: str, arguments: dict[str, Any]) -> str:
        url = arguments.get("url")
        try:
            return f"GET {normalised(url)}" if isinstance(url, str) else f"GET {url!r}"
        except Refused:
            return f"GET {url!r}"

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        try:
            final, text, truncated = fetch(arguments["url"], context.rules.allow_hosts)
        except Refused as exc:
            return Outcome("denied" if "refused" in str(exc) else "error", error=str(exc))
        except TimeoutError as exc:
            return Outcome("error", error=f"cannot fetch {normalised(arguments['url'])}: {exc}")
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            return Outcome("error", error=f"cannot fetch {arguments['url']}: {exc}")
        # where the text came from, after redirects: inside the marker, as a redirect's target is the server's word
        return Outcome("ok", f"Fetched from {final}\n\n{text}", truncated=truncated)
