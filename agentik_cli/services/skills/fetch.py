"""The `fetch` skill: GET an http(s) URL as text, from the public internet only.

The host is resolved here and every address it resolves to is checked (loopback, private,
link-local, reserved, multicast, shared, cloud metadata: refused unless the agent allows that host
by name); the connection then goes to the address that was checked, so a second lookup cannot
lead elsewhere. Redirects are followed by hand, each one checked the same way. What comes back is
capped in time and size and must be text; like every tool's result, it reaches the model marked as
untrusted content (services/skills/toolbox.py, `untrusted`), so the page is not marked here."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urljoin, urlsplit

from agentik_cli.services.skills.base import Context, Outcome, Skill, Tool

TIMEOUT = 10.0  # seconds for the whole fetch, redirects included
MAX_BODY = 2 * 1024 * 1024
MAX_REDIRECTS = 5
TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript", "application/xhtml")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}


class Refused(Exception):
    pass


def system_resolver(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


# tests replace it to make a name resolve to a private address
resolver: Callable[[str, int], list[str]] = system_resolver


def refused_address(text: str) -> str | None:
    """Why an address may not be fetched from, or None when it is a public one."""
    ip: Any = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):  # an IPv4 address wrapped in IPv6 is judged as itself
        wrapped = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if ip in NAT64:  # 64:ff9b::/96 carries the IPv4 address in its last 32 bits
            wrapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if wrapped is not None:
            ip = wrapped
    if ip in METADATA:
        return "a cloud metadata address"
    for name in ("loopback", "private", "link_local", "multicast", "unspecified", "reserved"):
        if getattr(ip, f"is_{name}"):
            return f"a {name.replace('_', '-')} address"
    if not ip.is_global:
        return "not a public address"
    return None


def checked_address(url: str, allow_hosts: tuple[str, ...]) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for a URL, or Refused."""
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
        addresses = resolver(host, port)
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
    return parts.scheme, host, port, addresses[0]


class _Pinned(http.client.HTTPSConnection):
    """A connection to a checked address, speaking to the host by name (Host header, TLS SNI and
    certificate check)."""

    def __init__(self, scheme: str, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.scheme = scheme
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        if self.scheme == "https":
            sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
        self.sock = sock


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


def _read(connection: http.client.HTTPConnection, response: http.client.HTTPResponse, deadline: float) -> bytes:
    """The body, at most MAX_BODY + 1 bytes, within the fetch's time: a server dripping a byte at a
    time is cut off at the deadline, not waited on one read at a time."""
    chunks: list[bytes] = []
    size = 0
    while size <= MAX_BODY:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Refused(f"no complete answer within {TIMEOUT:g} s")
        if connection.sock is not None:
            connection.sock.settimeout(left)
        chunk = response.read1(min(65536, MAX_BODY + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def fetch(url: str, allow_hosts: tuple[str, ...] = ()) -> tuple[str, str, bool]:
    """(final URL, text, truncated), or Refused / OSError."""
    deadline = time.monotonic() + TIMEOUT
    for _ in range(MAX_REDIRECTS + 1):
        scheme, host, port, address = checked_address(url, allow_hosts)
        left = deadline - time.monotonic()
        if left <= 0:
            raise Refused(f"no answer within {TIMEOUT:g} s")
        connection = _Pinned(scheme, host, port, address, timeout=left)
        parts = urlsplit(url)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request("GET", path, headers={"User-Agent": "agentik-fetch", "Accept": "text/*, */*;q=0.5"})
            response = connection.getresponse()
            if response.status in (301, 302, 303, 307, 308):
                location = response.getheader("location")
                if not location:
                    raise Refused(f"{url} redirected without saying where")
                url = urljoin(url, location)
                continue
            body = _read(connection, response, deadline)
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


class FetchSkill(Skill):
    name = "fetch"
    kind = "builtin"
    risk = "network"
    description = "Fetch a public web page or file as text (http/https GET; private addresses refused)."

    def tools(self) -> list[Tool]:
        schema = {
            "type": "object",
            "properties": {"url": {"type": "string", "description": "An http or https URL"}},
            "required": ["url"],
            "additionalProperties": False,
        }
        return [Tool("fetch", self.name, "GET a URL and return it as text (HTML turned into text).", schema, self.risk)]

    def describe(self, tool: str, arguments: dict[str, Any]) -> str:
        return f"GET {arguments.get('url')}"

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        try:
            final, text, truncated = fetch(arguments["url"], context.rules.allow_hosts)
        except Refused as exc:
            return Outcome("denied" if "refused" in str(exc) else "error", error=str(exc))
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            return Outcome("error", error=f"cannot fetch {arguments['url']}: {exc}")
        # where the text came from, after redirects: inside the marker, as a redirect's target is the server's word
        return Outcome("ok", f"Fetched from {final}\n\n{text}", truncated=truncated)
