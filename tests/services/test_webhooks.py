"""Webhooks: every event reaches a receiver, signed per Standard Webhooks (verified with the
standardwebhooks library), its body the record as `--json` gives it; a receiver that is down, then
up, gets every event, once, under the same webhook-id; two workers at once send each event once; a
410 disables the endpoint; the retry schedule and Retry-After; the outbox is written with the change
or not at all. On both stores."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks.webhooks import Webhook

from tests.conftest import base_env, db_rows
from tests.webhook_receiver import Answer, Receiver

RECORD = ("costs", "record", "--provider", "anthropic", "--model", "claude-sonnet-4-0")


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def hook(cli, receiver):
    """A webhook to the receiver for every event; returns its secret."""
    return cli.json("webhooks", "add", receiver.url, "--allow-internal")["secret"]


def record(cli, tokens: int = 1000, *extra: str) -> None:
    cli(*RECORD, "--input-tokens", str(tokens), "--output-tokens", "10", *extra)


def verified(secret: str, got) -> dict:  # noqa: ANN001 - a Received
    return Webhook(secret).verify(got.body, got.headers)


def test_every_event_arrives_signed_with_the_record_as_json_gives_it(cli, fake, receiver, hook):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("chat", "helper", "-m", "hello there")
    record(cli, 1000, "--agent", "helper")
    cli("agents", "update", "helper", "--description", "says hello")
    got = receiver.wait_for(7)
    # in the order they happened: one sender a process, each command's events in order
    assert receiver.types() == [
        "agent.created",
        "session.created",
        "message.created",
        "message.created",
        "cost.recorded",
        "cost.recorded",
        "agent.updated",
    ]
    events = [verified(hook, r) for r in got]
    by_type: dict[str, list[dict]] = {}
    for event in events:
        assert set(event) == {"type", "timestamp", "data"}
        assert datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).tzinfo is not None
        by_type.setdefault(event["type"], []).append(event["data"])
    shown = cli.json("sessions", "show", str(by_type["session.created"][0]["id"]))
    messages = {m["id"]: m for m in shown["messages"]}
    for data in by_type["message.created"]:
        assert data["session_id"] == shown["id"] and data["agent"] == "helper"
        stored = messages[data["id"]]
        assert {k: v for k, v in data.items() if k not in ("session_id", "agent")} == stored
    assert [m["role"] for m in by_type["message.created"]] == ["user", "assistant"]
    ledger = {row["id"]: row for row in cli.json("costs", "list")}
    for data in by_type["cost.recorded"]:
        assert data == ledger[data["id"]]
    agent = cli.json("agents", "show", "helper")
    assert by_type["agent.updated"][-1]["description"] == "says hello" == agent["description"]
    # every attempt is in the log, delivered
    log = cli.json("webhooks", "log")
    assert len(log) == len(got) and all(a["delivered"] and a["status_code"] == 200 for a in log)
    assert {a["event_id"] for a in log} == {r.id for r in got}


def test_a_webhook_takes_only_its_agent_and_its_events(cli, receiver):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("agents", "create", "other", "--model", "claude-sonnet-4-0")
    cli(
        "webhooks",
        "add",
        receiver.url,
        "--allow-internal",
        "--agent",
        "helper",
        "--event",
        "cost.recorded",
        "--event",
        "agent.removed",
    )
    record(cli, 100, "--agent", "other")
    record(cli, 200, "--agent", "helper")
    record(cli, 300)
    cli("agents", "update", "helper", "--name", "helper2")
    assert cli.json("webhooks", "list")[0]["agent"] == "helper2"  # its name now
    cli("agents", "remove", "other", "--yes")
    cli("agents", "remove", "helper2", "--yes")
    got = receiver.wait_for(2)
    time.sleep(0.3)
    assert [r.json["type"] for r in receiver.received] == ["cost.recorded", "agent.removed"]
    assert got[0].json["data"]["input_tokens"] == 200
    assert got[1].json["data"]["name"] == "helper2"
    # events no endpoint wants are not written at all
    assert db_rows(cli_home(), "SELECT count(*) FROM webhook_events")[0][0] == 2


def cli_home():  # noqa: ANN201
    import os
    from pathlib import Path

    return Path(os.environ["AGENTIK_HOME"])


def test_a_receiver_down_then_up_gets_every_event_once_under_the_same_id(cli, receiver, hook):
    receiver.stop()
    started = time.monotonic()
    for n in range(3):
        record(cli, 100 + n)
    # each command tried at once, failed fast, and did not wait for the receiver
    assert time.monotonic() - started < 30
    failed = cli.json("webhooks", "log", "--failed")
    assert len(failed) == 3 and all(a["error"] == "connection refused" and a["attempt"] == 1 for a in failed)
    cli("webhooks", "deliver", code=1)  # still down
    assert [a["attempt"] for a in cli.json("webhooks", "log", "--failed")][:3] == [2, 2, 2]
    receiver.start()
    cli("webhooks", "deliver")
    got = receiver.wait_for(3)
    assert sorted(r.id for r in got) == sorted({a["event_id"] for a in failed})
    assert sorted(verified(hook, r)["data"]["input_tokens"] for r in got) == [100, 101, 102]
    cli("webhooks", "deliver")  # nothing left: nothing sent twice
    assert len(receiver.received) == 3
    assert [e["status"] for e in cli.json("webhooks", "list")] == ["active"]


@pytest.mark.slow
@pytest.mark.both_stores
def test_two_workers_at_once_send_each_event_once(cli, receiver, hook, agentik_home):
    receiver.stop()
    for n in range(12):
        record(cli, 100 + n)
    receiver.default = Answer(delay=0.05)
    receiver.start()
    env = base_env(agentik_home)
    workers = [
        subprocess.Popen([sys.executable, "-m", "agentik_cli", "webhooks", "deliver"], env=env, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    for worker in workers:
        worker.wait(timeout=120)
    cli("webhooks", "deliver")  # anything one worker skipped while the other held it
    ids = [r.id for r in receiver.received]
    assert len(ids) == 12 and len(set(ids)) == 12


def test_a_410_disables_the_endpoint(cli, receiver, hook):
    receiver.script.append(Answer(status=410, body="gone"))
    record(cli)
    receiver.wait_for(1)
    time.sleep(0.2)
    cli("webhooks", "deliver")
    (endpoint,) = cli.json("webhooks", "list")
    assert endpoint["status"] == "disabled"
    (attempt,) = cli.json("webhooks", "log")
    assert attempt["status_code"] == 410 and attempt["answer"] == "gone" and not attempt["delivered"]
    record(cli)  # a disabled endpoint takes no more events
    cli("webhooks", "deliver")
    assert len(receiver.received) == 1


def test_repeated_failures_mark_an_endpoint_failing_until_it_answers(cli, receiver, hook):
    receiver.default = Answer(status=500, body="x" * 5000)
    record(cli)
    cli("webhooks", "deliver", code=1)
    cli("webhooks", "deliver", code=1)
    assert cli.json("webhooks", "list")[0]["status"] == "failing"
    attempts = cli.json("webhooks", "log", "--failed")
    assert [a["attempt"] for a in attempts] == [3, 2, 1]
    assert attempts[0]["error"] == "HTTP 500" and len(attempts[0]["answer"]) == 200
    receiver.default = Answer()
    cli("webhooks", "deliver")
    assert cli.json("webhooks", "list")[0]["status"] == "active"


def test_the_retry_schedule_and_retry_after():
    from agentik_cli.services.delivery import SCHEDULE, Answer, judge
    from agentik_cli.store.outbox import Job

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def job(attempt: int) -> Job:
        return Job(1, attempt, "msg_x", "cost.recorded", "{}", 1, "http://127.0.0.1/", "whsec_x", 0)

    down = Answer(None, None, None, "connection refused")
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000]
    for attempt, seconds in enumerate(expected, start=1):
        wait = (judge(job(attempt), down, now).retry_at - now).total_seconds()
        assert seconds * 0.9 <= wait <= seconds * 1.1
    assert [s.total_seconds() for s in SCHEDULE] == expected
    assert judge(job(8), down, now).retry_at is None  # given up after the last
    busy = Answer(503, "", "120", None)
    assert judge(job(1), busy, now).retry_at == now + timedelta(seconds=120)
    dated = Answer(429, "", "Sun, 29 Nov 2026 12:10:00 GMT", None)
    assert judge(job(1), dated, now).retry_at == now + timedelta(minutes=10)
    redirect = judge(job(1), Answer(301, "", None, None), now)
    assert not redirect.delivered and "redirects are not followed" in (redirect.error or "")


def test_a_redirect_is_not_followed(cli, receiver, hook):
    receiver.script.append(Answer(status=307, headers={"location": receiver.url + "/elsewhere"}))
    record(cli)
    receiver.wait_for(1)
    time.sleep(0.2)
    (attempt,) = cli.json("webhooks", "log")
    assert attempt["status_code"] == 307 and not attempt["delivered"]
    assert [r.path for r in receiver.received] == ["/hook"]


@pytest.mark.slow
def test_the_worker_retries_on_schedule_honours_retry_after_and_stops_on_sigterm(cli, receiver, hook, agentik_home):
    receiver.script.append(Answer(status=503, headers={"retry-after": "1"}))
    record(cli)
    receiver.wait_for(1)
    worker = subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", "webhooks", "deliver", "--loop"],
        env=base_env(agentik_home),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        got = receiver.wait_for(2, timeout=60)
        assert got[0].id == got[1].id  # the retry is the same event, for the receiver to drop twice
        assert int(got[1].headers["webhook-timestamp"]) >= int(got[0].headers["webhook-timestamp"])
        verified(hook, got[1])
        # a new event reaches the worker's receiver too (sent by the command itself, or by the worker)
        record(cli)
        receiver.wait_for(3, timeout=30)
    finally:
        worker.send_signal(signal.SIGTERM)
        code = worker.wait(timeout=60)
    assert code == 0, worker.stderr.read()
    assert len({r.id for r in receiver.received}) == 2


@pytest.mark.slow
def test_a_slow_receiver_does_not_hold_the_command_up(cli, receiver, hook, agentik_home):
    receiver.default = Answer(delay=8)
    env = base_env(agentik_home)
    cmd = [sys.executable, "-m", "agentik_cli", *RECORD, "--input-tokens", "5", "--output-tokens", "5"]
    subprocess.run(cmd, env=env, check=True, capture_output=True)  # warm
    started = time.monotonic()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    slow = time.monotonic() - started
    cli("webhooks", "remove", "1", "--yes")
    started = time.monotonic()
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    plain = time.monotonic() - started
    assert slow < plain + 3, (slow, plain)  # about a second of waiting, not the receiver's 8


def test_adding_checks_the_url_events_and_secret(cli, receiver):
    cli("webhooks", "add", "http://example.com/hook", code=2)
    cli("webhooks", "add", "ftp://127.0.0.1/hook", code=2)
    cli("webhooks", "add", receiver.url, "--allow-internal", "--event", "message.deleted", code=2)
    cli("webhooks", "add", receiver.url, "--allow-internal", "--secret", "not base64!", code=2)
    cli("webhooks", "add", receiver.url, "--allow-internal", "--agent", "ghost", code=1)
    added = cli.json("webhooks", "add", "https://hooks.example.com/x", "--event", "cost.recorded")
    assert added["secret"].startswith("whsec_") and added["events"] == ["cost.recorded"]
    mine = cli.json(
        "webhooks", "add", receiver.url, "--allow-internal", "--secret", "whsec_" + "QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    )
    assert mine["secret"] == "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY"
    with_password = cli.json("webhooks", "add", "https://bot:hunter2@hooks.example.com/x")
    assert with_password["url"] == "https://bot:***@hooks.example.com/x"
    assert "hunter2" not in cli("webhooks", "list").stdout + cli("webhooks", "list", "--json").stdout
    cli("webhooks", "remove", str(with_password["id"]), "--yes")
    listed = cli.json("webhooks", "list")
    assert [e["id"] for e in listed] == [added["id"], mine["id"]]
    assert all("secret" not in e for e in listed)
    assert "whsec_" not in cli("webhooks", "list").stdout
    cli("webhooks", "remove", str(mine["id"]), code=2)  # not on a terminal: --yes
    cli("webhooks", "remove", str(mine["id"]), "--yes")
    cli("webhooks", "remove", str(mine["id"]), "--yes", code=1)
    cli("webhooks", "test", "99", code=1)


def test_a_user_and_password_in_the_url_go_as_basic_authentication(cli, receiver):
    import base64

    url = receiver.url.replace("http://", "http://bot:s%40cret@")
    cli("webhooks", "add", url, "--allow-internal")
    cli("webhooks", "test", "1")
    (got,) = receiver.wait_for(1)
    assert got.headers["authorization"] == "Basic " + base64.b64encode(b"bot:s@cret").decode()


def test_test_sends_a_signed_test_event_once(cli, receiver, hook):
    result = cli("webhooks", "test", "1")
    assert "delivered" in result.stdout
    event = verified(hook, receiver.wait_for(1)[0])
    assert event["type"] == "webhook.test"
    receiver.default = Answer(status=500)
    cli("webhooks", "test", "1", code=1)
    cli("webhooks", "deliver")  # a test event is not retried
    assert len(receiver.received) == 2


def test_budget_events_and_one_event_for_an_import(cli, receiver, hook, tmp_path):
    cli("budgets", "set", "--daily", "0.01", "--warn", "50")
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    rows = [
        {"model": "claude-sonnet-4-0", "provider": "anthropic", "input_tokens": 10, "output_tokens": 10}
        for _ in range(5)
    ]
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    cli("costs", "import", str(path))
    got = receiver.wait_for(2)
    imported = [verified(hook, r) for r in got if r.json["type"] == "costs.imported"]
    assert [e["data"] for e in imported] == [{"imported": 5}]
    assert "cost.recorded" not in receiver.types()


def test_budget_warning_and_exceeded_events(cli, fake, receiver, hook):
    from tests.fakeprovider import Reply

    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--max-tokens", "100")
    cli("budgets", "set", "--daily", "0.02", "--warn", "50", "--allow-unpriced")
    fake.default = Reply(text="ok", input_tokens=3000, output_tokens=100)  # $0.0105 a call
    cli("chat", "helper", "-m", "one")
    cli("chat", "helper", "-m", "two")
    receiver.wait_for(9)
    time.sleep(0.3)
    kinds = [t for t in receiver.types() if t.startswith("budget.")]
    assert kinds == ["budget.warning", "budget.exceeded"]
    warning = next(r.json["data"] for r in receiver.received if r.json["type"] == "budget.warning")
    assert warning["scope"] == "all" and warning["period"] == "day" and warning["limit"] == 0.02


def test_an_event_is_written_with_its_change_or_not_at_all(cli, receiver, hook, agentik_home):
    from agentik_cli.errors import AgentikError
    from agentik_cli.services import opening
    from agentik_cli.store import ledger as store_ledger

    store = opening.command_store()
    with pytest.raises(AgentikError):
        with store.write() as unit:
            store_ledger.open_session(unit, 1, "never", "cli")  # agent 1 does not exist: the unit fails
    assert db_rows(agentik_home, "SELECT count(*) FROM webhook_events")[0][0] == 0
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    counts = db_rows(agentik_home, "SELECT (SELECT count(*) FROM agents), (SELECT count(*) FROM webhook_events)")
    assert tuple(counts[0]) == (1, 1)


@pytest.mark.both_stores
def test_a_delivery_another_process_holds_is_not_due_until_its_claim_ends(cli, receiver, hook):
    """Else `deliver --loop` would wake at once, find it held, and spin until the claim ended."""
    from agentik_cli.services import opening
    from agentik_cli.store import outbox

    receiver.stop()
    record(cli)
    store = opening.command_store()
    with store.read() as session:
        (delivery_id,) = outbox.due(session, datetime.now(UTC) + timedelta(minutes=1), limit=10)
    held_until = datetime.now(UTC) + timedelta(minutes=10)
    with store.write() as unit:
        assert outbox.claim(unit.session, delivery_id, unit.now + timedelta(minutes=1), held_until) is not None
    with store.read() as session:
        due_at = outbox.next_due(session)
        assert outbox.due(session, datetime.now(UTC) + timedelta(minutes=1), limit=10) == []
    assert abs((due_at.replace(tzinfo=due_at.tzinfo or UTC) - held_until).total_seconds()) < 1
    with store.write() as unit:  # a second claim while it is held: not ours
        assert outbox.claim(unit.session, delivery_id, unit.now + timedelta(minutes=1), held_until) is None


def test_a_delivered_event_keeps_no_copy_of_what_it_carried(cli, receiver, hook, agentik_home):
    """The outbox holds a message's text only while a delivery of it may still be sent."""
    receiver.stop()
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli(*RECORD, "--agent", "helper", "--input-tokens", "10", "--output-tokens", "10")
    waiting = db_rows(agentik_home, "SELECT count(*) FROM webhook_events WHERE body != ''")[0][0]
    assert waiting == 2
    receiver.start()
    cli("webhooks", "deliver")
    assert db_rows(agentik_home, "SELECT count(*) FROM webhook_events WHERE body != ''")[0][0] == 0
    assert len(cli.json("webhooks", "log")) == 4  # the log stays: two failed attempts, two delivered


def test_deliver_tries_every_undelivered_event_past_a_batch(cli, receiver, hook, monkeypatch):
    """More events than one batch, every one failing: each is tried once, none left out. (A batch
    of 4 rather than the 100 of agentik's own: what is tested is the step from one batch to the
    next, and 105 refused connections took five seconds.)"""
    from agentik_cli.services import delivery, opening
    from agentik_cli.store import outbox

    monkeypatch.setattr(delivery, "BATCH", 4)
    batch = delivery.BATCH
    receiver.stop()
    with opening.command_store().write() as unit:
        for n in range(batch + 5):
            event_id = outbox.insert_event(
                unit.session, "costs.imported", outbox.body("costs.imported", unit.now, {"imported": n}), unit.now
            )
            outbox.add_deliveries(unit.session, event_id, [1], unit.now)
    cli("webhooks", "deliver", code=1)
    assert len(cli.json("webhooks", "log", "--limit", "1000")) == batch + 5
