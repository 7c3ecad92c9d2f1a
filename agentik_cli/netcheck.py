"""Connections that someone else's input points at: which addresses they may reach, and for how long.

A URL a model asks `fetch` for, and a webhook a team member adds to a shared store, are hostile
input: either may point at this machine, the local network or a cloud's metadata service, and
whatever answers may take its time. An address is judged by the IANA special-purpose address
registries (SPECIAL, with the blocks inside them the registries list as globally reachable in
REACHABLE), not by `ipaddress.is_global`, whose answer differs between Python versions (3.11 counts
192.0.0.8 as global, issue 20). The name is resolved once, the addresses checked, and the connection
made to one of those addresses (`Pinned`), so a second lookup cannot lead elsewhere. One deadline
covers the whole exchange, lookup, connect, TLS, request, status line, headers and body: a server
that drips its answer a byte at a time is cut off at the deadline, not waited on read by read."""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import Any

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
_net = ipaddress.ip_network

# (block, what it is): refused. From https://www.iana.org/assignments/iana-ipv4-special-registry and
# iana-ipv6-special-registry (the blocks not globally reachable), the multicast blocks, and the IPv6
# space outside 2000::/3, which IANA has not allocated for global unicast.
SPECIAL: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = (
    (_net("0.0.0.0/8"), "a this-network address"),
    (_net("10.0.0.0/8"), "a private address"),
    (_net("100.64.0.0/10"), "a shared (carrier-grade NAT) address"),
    (_net("127.0.0.0/8"), "a loopback address"),
    (_net("169.254.0.0/16"), "a link-local address"),
    (_net("172.16.0.0/12"), "a private address"),
    (_net("192.0.0.0/24"), "an IETF protocol assignment"),
    (_net("192.0.2.0/24"), "a documentation address"),
    (_net("192.88.99.0/24"), "a deprecated 6to4 relay address"),
    (_net("192.168.0.0/16"), "a private address"),
    (_net("198.18.0.0/15"), "a benchmarking address"),
    (_net("198.51.100.0/24"), "a documentation address"),
    (_net("203.0.113.0/24"), "a documentation address"),
    (_net("224.0.0.0/4"), "a multicast address"),
    (_net("240.0.0.0/4"), "a reserved address"),  # 255.255.255.255/32, limited broadcast, included
    (_net("::/128"), "an unspecified address"),
    (_net("::1/128"), "a loopback address"),
    (_net("64:ff9b:1::/48"), "a local-use translation address"),
    (_net("100::/64"), "a discard-only address"),
    (_net("100:0:0:1::/64"), "a dummy address"),
    (_net("2001::/23"), "an IETF protocol assignment"),  # Teredo (2001::/32) among them
    (_net("2001:db8::/32"), "a documentation address"),
    (_net("3fff::/20"), "a documentation address"),
    (_net("5f00::/16"), "a segment-routing address"),
    (_net("fc00::/7"), "a unique-local (private) address"),
    (_net("fe80::/10"), "a link-local address"),
    (_net("fec0::/10"), "a site-local address"),
    (_net("ff00::/8"), "a multicast address"),
)
# blocks inside SPECIAL that the registries mark globally reachable (anycast services, AS112, AMT, ORCHIDv2)
REACHABLE = tuple(
    _net(block)
    for block in (
        "192.0.0.9/32",
        "192.0.0.10/32",
        "2001:1::1/128",
        "2001:1::2/128",
        "2001:1::3/128",
        "2001:3::/32",
        "2001:4:112::/48",
        "2001:20::/28",
        "2001:30::/28",
    )
)
GLOBAL_UNICAST = _net("2000::/3")
# an IPv4 address carried in an IPv6 one is judged as itself
NAT64 = _net("64:ff9b::/96")
METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
LOOPBACK_NAMES = ("localhost",)  # and every name under it (RFC 6761)


class Refused(Exception):
    pass


def _unwrapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in NAT64:  # 64:ff9b::/96 carries the IPv4 address in its last 32 bits
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if ip.sixtofour is not None:
            return ip.sixtofour
    return ip


def refusal(address: str | IPAddress) -> str | None:
    """Why an address may not be connected to on someone else's say-so, or None for a public one."""
    ip = _unwrapped(ipaddress.ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address)
    if ip in METADATA:
        return "a cloud metadata address"
    if any(ip in block for block in REACHABLE):
        return None
    for block, what in SPECIAL:
        if ip in block:
            return what
    if isinstance(ip, ipaddress.IPv6Address) and ip not in GLOBAL_UNICAST:
        return "a reserved address"
    return None


def host_refusal(host: str) -> str | None:
    """Why a host, as a URL gives it, is internal without looking it up: a loopback name, or an
    address (also in the old forms that the resolver reads as IPv4, such as 2130706433 or 127.1)."""
    name = host.lower().rstrip(".")
    if name in LOOPBACK_NAMES or name.endswith(tuple("." + n for n in LOOPBACK_NAMES)):
        return "a loopback name"
    try:
        return refusal(name)
    except ValueError:
        pass
    try:
        return refusal(ipaddress.IPv4Address(socket.inet_aton(name)))
    except OSError:
        return None


def system_resolver(host: str, port: int) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)})


# tests replace it to make a name resolve to a given address
resolver: Callable[[str, int], list[str]] = system_resolver


class Deadline:
    """The moment an exchange must be over by."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        """The seconds left, or TimeoutError when there are none."""
        left = self.at - time.monotonic()
        if left <= 0:
            raise self.expired()
        return left

    def expired(self) -> TimeoutError:
        return TimeoutError(f"no complete answer within {self.seconds:g} s")


def resolve(
    host: str, port: int, deadline: Deadline, lookup: Callable[[str, int], list[str]] | None = None
) -> list[str]:
    """The addresses of a host, looked up within the deadline: getaddrinfo cannot be interrupted
    and may wait on several slow name servers in turn, so it runs in a thread left behind if late."""
    found: dict[str, Any] = {}
    lookup = lookup or resolver

    def run() -> None:
        try:
            found["addresses"] = lookup(host, port)
        except Exception as exc:
            found["error"] = exc

    thread = threading.Thread(target=run, name="agentik-resolve", daemon=True)
    thread.start()
    thread.join(deadline.left())
    if thread.is_alive():
        raise TimeoutError(f"cannot resolve {host} within {deadline.seconds:g} s")
    if "error" in found:
        raise found["error"]
    return list(found["addresses"])


class _Reader(io.RawIOBase):
    """The answer as http.client reads it, line by line for the head: every read waits at most
    the time left, so a drip of bytes cannot stretch the exchange past its deadline."""

    def __init__(self, owner: _Bounded) -> None:
        super().__init__()
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.owner.sock.settimeout(self.owner.deadline.left())
        try:
            return self.owner.sock.recv_into(buffer)
        except TimeoutError:  # the socket's own "timed out": say which limit it was
            raise self.owner.deadline.expired() from None

    def close(self) -> None:
        if not self.closed:
            super().close()
            self.owner.release()


class _Bounded:
    """A connected socket whose every send and read ends by the deadline (what http.client uses
    of a socket: sendall, makefile, close). As with socket.makefile, the socket stays open until
    its readers are closed too: http.client closes the connection before the body is read."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self.refs = 1
        self.closed = False

    def sendall(self, data: Any) -> None:
        self.sock.settimeout(self.deadline.left())  # since 3.5 the whole sendall, not each send
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise self.deadline.expired() from None

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self.refs += 1
        return io.BufferedReader(_Reader(self))

    def release(self) -> None:
        self.refs -= 1
        if self.refs == 0:
            self.sock.close()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.release()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.sock, name)


class Pinned(http.client.HTTPSConnection):
    """A connection to addresses already checked (tried in turn), speaking to the host by name
    (Host header, TLS SNI and certificate check), within one deadline."""

    def __init__(self, scheme: str, host: str, port: int, addresses: list[str], deadline: Deadline) -> None:
        super().__init__(host, port, timeout=deadline.seconds, context=ssl.create_default_context())
        self.scheme = scheme
        self.addresses = addresses
        self.deadline = deadline
        self.default_port = 443 if scheme == "https" else 80  # the Host header leaves it out

    def connect(self) -> None:
        error: OSError = OSError(f"{self.host} has no address")
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), self.deadline.left())
            except TimeoutError:
                raise self.deadline.expired() from None
            except OSError as exc:
                error = exc
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if self.scheme == "https":
                    sock.settimeout(self.deadline.left())  # CPython's handshake keeps one deadline
                    sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]
            except TimeoutError:
                sock.close()
                raise self.deadline.expired() from None
            except BaseException:
                sock.close()
                raise
            self.sock = _Bounded(sock, self.deadline)  # type: ignore[assignment]
            return
        raise error
