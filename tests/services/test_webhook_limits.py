"""Issue 20, the webhooks' half: one deadline over a send's whole exchange (a receiver dripping its
headers is cut off, well within the delivery's claim, so two `deliver` runs never have one event in
flight twice); on a shared store internal addresses are refused, when added and at each send,
unless added with --allow-internal; the log keeps at most 200 bytes of a failed answer, nothing of
a delivered one."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from agentik_cli import netcheck
from agentik_cli.services import delivery
from tests.webhook_receiver import Answer, Receiver

# a status line and headers of about 80 bytes, a byte every DRIP seconds
PADDING = {"x-padding": "p" * 40}


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.mark.slow
def test_a_send_ends_by_its_deadline_against_a_receiver_dripping_its_headers(cli, receiver, monkeypatch):
    monkeypatch.setattr(delivery, "TIMEOUT_S", 1.5)
    cli("webhooks", "add", receiver.url, "--allow-internal")
    receiver.default = Answer(drip=0.25, headers=PADDING)
    started = time.monotonic()
    cli("webhooks", "test", "1", code=1)
    took = time.monotonic() - started
    assert 1.4 <= took < 3.5, took  # the head alone takes 20 s at this pace
    (attempt,) = cli.json("webhooks", "log", "--failed")
    assert attempt["error"] == "no complete answer within 1.5 s" and attempt["attempt"] == 1
    assert attempt["status_code"] is None and not attempt["delivered"]


def test_the_send_deadline_is_well_within_the_claim():
    assert delivery.LEASE.total_seconds() >= delivery.TIMEOUT_S + 10


@pytest.mark.slow
def test_two_deliver_runs_at_once_never_send_one_event_twice_at_once(cli, receiver, monkeypatch):
    """The second run starts after the first run's claim has run out: without a deadline over the
    whole send, the first is still sending, and the second sends the same event again (both
    logged as try 1)."""
    from agentik_cli.services import opening
    from agentik_cli.store import outbox

    monkeypatch.setattr(delivery, "TIMEOUT_S", 1.0)
    monkeypatch.setattr(delivery, "LEASE", timedelta(seconds=2.5))
    cli("webhooks", "add", receiver.url, "--allow-internal")
    store = opening.command_store()
    with store.write() as unit:  # an event waiting in the outbox, not sent by the command that made it
        event_id = outbox.insert_event(
            unit.session, "costs.imported", outbox.body("costs.imported", unit.now, {"imported": 1}), unit.now
        )
        outbox.add_deliveries(unit.session, event_id, [1], unit.now)
    receiver.default = Answer(drip=0.25, headers=PADDING)
    runs = [threading.Thread(target=delivery.deliver_all, args=(store,)) for _ in range(2)]
    runs[0].start()
    time.sleep(3.0)
    runs[1].start()
    for run in runs:
        run.join(timeout=60)
    got = sorted(receiver.wait_for(2), key=lambda r: r.started)
    assert got[0].id == got[1].id
    for earlier, later in zip(got, got[1:], strict=False):
        assert earlier.ended is not None and earlier.ended <= later.started, "one event in flight twice"
    log = cli.json("webhooks", "log")
    assert sorted(a["attempt"] for a in log) == [1, 2]
    assert all(a["error"] == "no complete answer within 1 s" for a in log)


INTERNAL = [
    "https://169.254.169.254/x",
    "https://10.1.2.3/hook",
    "https://[::1]/hook",
    "http://evil.localhost/",
    "https://192.0.0.8/hook",
    "https://[fd00::1]/hook",
    "https://2130706433/hook",  # 127.0.0.1 in the old decimal form the resolver reads
    "https://[::ffff:192.168.1.1]/hook",
]


@pytest.mark.parametrize("url", INTERNAL)
def test_an_internal_address_is_refused_on_a_shared_store_unless_allowed(cli, on_postgres, url):
    if on_postgres:
        result = cli("webhooks", "add", url, code=2)
        assert "--allow-internal" in result.stderr
        assert cli.json("webhooks", "list") == []
    else:  # one user's own store: as before
        cli("webhooks", "add", url)
    cli("webhooks", "add", url, "--allow-internal")


def test_a_name_that_resolves_inside_is_refused_at_each_send(cli, receiver, on_postgres, monkeypatch):
    """Accepted when added (a name is not looked up then), refused when it is sent: what matters
    is what the name resolves to at the time of the send."""
    names = {"hooks.example": ["93.184.216.34"]}
    monkeypatch.setattr(netcheck, "resolver", lambda host, port: names[host])
    cli("webhooks", "add", f"https://hooks.example:{receiver.port}/hook")
    names["hooks.example"] = ["127.0.0.1"]
    cli("webhooks", "test", "1", code=1)
    (attempt,) = cli.json("webhooks", "log")
    if on_postgres:
        assert attempt["error"].startswith("refused: hooks.example resolves to 127.0.0.1, a loopback address")
    else:  # SQLite: any address goes (to a plain-http receiver, where TLS then fails)
        assert not attempt["error"].startswith("refused")
    assert receiver.received == []


def test_a_webhook_added_with_allow_internal_is_sent_on_a_shared_store(cli, receiver, on_postgres):
    cli("webhooks", "add", receiver.url, "--allow-internal")
    cli("webhooks", "test", "1")
    assert len(receiver.wait_for(1)) == 1


def test_the_log_keeps_200_bytes_of_a_failed_answer_and_nothing_of_a_delivered_one(cli, receiver):
    cli("webhooks", "add", receiver.url, "--allow-internal")
    receiver.default = Answer(body="internal page " * 100)
    cli("webhooks", "test", "1")
    receiver.default = Answer(status=500, body="é" * 1000)
    cli("webhooks", "test", "1", code=1)
    failed, delivered = cli.json("webhooks", "log")
    assert delivered["delivered"] and delivered["answer"] is None
    assert failed["status_code"] == 500 and len(failed["answer"].encode()) <= 200 and failed["answer"].startswith("éé")
