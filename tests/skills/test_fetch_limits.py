"""Issue 20, fetch's half: one deadline over the whole exchange (a server dripping its status line
and headers is cut off), the approval prompt shows the URL as it is fetched, and addresses are
judged by the IANA special-purpose registries (netcheck.SPECIAL), whatever Python's `is_global` says."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from agentik_cli import netcheck
from agentik_cli.skills import fetch, registry
from agentik_cli.skills.base import Context, Rules

pytestmark = pytest.mark.sqlite_only("the skill's own checks: no store is involved")


def get(url: str, **rules: tuple[str, ...]):
    return registry.BUILTIN["fetch"]().run("fetch", {"url": url}, Context(1, "a", Rules(**rules)))


@pytest.fixture
def dripping_server():
    """A loopback server that answers every connection with its status line and headers a byte
    every half second (each read well within any per-read timeout), then a body."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nx-padding: " + b"p" * 40 + b"\r\n\r\n"
            try:
                for byte in head:
                    if stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(0.5)
                conn.sendall(b"too late")
            except OSError:
                pass

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    yield listener.getsockname()[1]
    stop.set()
    listener.close()


@pytest.mark.slow
def test_the_deadline_covers_a_status_line_and_headers_dripped_a_byte_at_a_time(dripping_server, monkeypatch):
    monkeypatch.setattr(fetch, "TIMEOUT", 2.0)
    started = time.monotonic()
    outcome = get(f"http://127.0.0.1:{dripping_server}/", allow_hosts=("127.0.0.1",))
    took = time.monotonic() - started
    assert outcome.status == "error" and "no complete answer within 2 s" in (outcome.error or "")
    assert 1.9 <= took < 3.0, took  # the head alone takes 40 s at this pace


def test_the_prompt_shows_the_url_as_it_is_fetched(monkeypatch):
    skill = registry.BUILTIN["fetch"]()
    asked = skill.describe("fetch", {"url": "https://exa\tmple.com/do\ncs/pa\rge?q=1#frag"})
    assert asked == "GET https://example.com/docs/page?q=1"
    # what is fetched is what was shown: the request goes to that host and path
    seen: list[str] = []
    monkeypatch.setattr(fetch, "resolver", lambda host, port: seen.append(host) or ["10.0.0.1"])
    outcome = get("http://inter\tnal.example/x")
    assert seen == ["internal.example"] and "internal.example" in (outcome.error or "")
    assert fetch.normalised(fetch.normalised("http://a.example/\tb\n")) == "http://a.example/b"


# one address in each special-purpose block (and the blocks' ends), refused whatever is_global says
REFUSED = [
    "0.0.0.0",
    "0.1.2.3",
    "10.1.2.3",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "169.254.169.254",
    "169.254.1.1",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.1",
    "192.0.0.8",  # 3.11's is_global says True
    "192.0.0.170",
    "192.0.0.255",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::ffff:127.0.0.1",  # IPv4-mapped: judged as the IPv4 address
    "::ffff:10.0.0.1",
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",
    "64:ff9b:1::1",
    "100::1",
    "100:0:0:1::1",
    "2001::1",  # Teredo
    "2001:2::1",
    "2001:10::1",
    "2001:1ff::1",
    "2001:db8::1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",
    "3fff::1",
    "5f00::1",
    "fc00::1",
    "fd00:ec2::254",
    "fe80::1",
    "fe80::1%eth0",
    "fec0::1",
    "ff02::1",
    "::a00:1",  # deprecated IPv4-compatible, outside 2000::/3
    "4000::1",
]
# the globally reachable: ordinary public addresses, and the blocks inside special ones that the
# registries list as globally reachable
ALLOWED = [
    "1.1.1.1",
    "8.8.8.8",
    "93.184.216.34",
    "100.63.255.255",
    "100.128.0.0",
    "172.32.0.1",
    "192.0.0.9",
    "192.0.0.10",
    "192.0.3.1",
    "192.31.196.1",
    "192.52.193.1",
    "192.175.48.1",
    "198.20.0.1",
    "223.255.255.255",
    "2606:4700::1111",
    "2001:4860:4860::8888",
    "2001:1::1",
    "2001:1::2",
    "2001:1::3",
    "2001:3::1",
    "2001:4:112::1",
    "2001:20::1",
    "2001:30::1",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8
    "::ffff:8.8.8.8",
    "2620:4f:8000::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_a_special_purpose_address_is_refused(address):
    assert netcheck.refusal(address) is not None, address


@pytest.mark.parametrize("address", ALLOWED)
def test_a_globally_reachable_address_is_not(address):
    assert netcheck.refusal(address) is None, address


def test_every_refused_block_is_tested():
    """Each row of the table has an address above in it, so a row cannot go untested."""
    import ipaddress

    for block, _ in netcheck.SPECIAL:
        assert any(ipaddress.ip_address(a.split("%")[0]) in block for a in REFUSED), block
    for block in netcheck.REACHABLE:
        assert any(ipaddress.ip_address(a) in block for a in ALLOWED), block


def test_fetch_does_not_connect_to_192_0_0_8(monkeypatch):
    connected: list[object] = []
    monkeypatch.setattr(fetch, "resolver", lambda host, port: ["192.0.0.8"])
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: connected.append(a) or 1 / 0)
    outcome = get("https://dummy.example/")
    assert outcome.status == "denied" and "192.0.0.8" in (outcome.error or "") and connected == []


@pytest.mark.parametrize(
    "host", ["localhost", "evil.localhost", "EVIL.LOCALHOST.", "127.0.0.1", "::1", "2130706433", "127.1", "0x7f.1"]
)
def test_a_host_as_written_is_judged_without_a_lookup(host, monkeypatch):
    monkeypatch.setattr(netcheck, "resolver", lambda *a: pytest.fail("looked up"))
    assert netcheck.host_refusal(host) is not None


@pytest.mark.slow
def test_a_slow_lookup_is_given_up_at_the_deadline(monkeypatch):
    monkeypatch.setattr(fetch, "TIMEOUT", 1.0)
    monkeypatch.setattr(fetch, "resolver", lambda host, port: time.sleep(5) or ["93.184.216.34"])
    started = time.monotonic()
    outcome = get("https://slow.example/")
    assert outcome.status == "error" and time.monotonic() - started < 2


def test_a_url_that_cannot_be_split_is_shown_quoted_and_not_fetched():
    skill = registry.BUILTIN["fetch"]()
    assert skill.describe("fetch", {"url": "http://[::1\t/x"}) == "GET 'http://[::1\\t/x'"
    assert get("http://[::1/x").status == "error"
