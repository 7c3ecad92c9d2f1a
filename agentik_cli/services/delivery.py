"""Delivering webhook events from the outbox (store/outbox.py), signed per Standard Webhooks: one
send (`attempt`), every due one (`deliver_all`), the retrying worker (`run_loop`), and the sends a
command makes at once, from a thread of its own (`send_soon`), waited for at most `EXIT_WAIT_S` as
the command ends. services/webhooks.py says what an endpoint is and which addresses it may reach."""

from __future__ import annotations

import base64
import queue
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote, urlsplit

from agentik_cli import __version__
from agentik_cli.store import outbox
from agentik_cli.store.engine import MEMORY_URL, Store
from agentik_cli.store.outbox import Job, Result
from agentik_cli.timeutil import now_utc

# The Standard Webhooks schedule: the waits after the first attempt, the second, ... (each with
# up to a tenth more or less, so that a receiver coming back is not hit by every retry at once);
# after the last, the delivery is given up (`webhooks deliver` still tries it).
SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
)
JITTER = 0.1
# one send, the whole exchange (lookup, connect, TLS, request, status line, headers, answer): a
# receiver dripping its headers a byte at a time held a send 68 s, past its claim (issue 20)
TIMEOUT_S = 10.0
# a claimed delivery is held this long: well past the send's deadline (the margin covers the
# writes around it), so two processes never send it at once; a process that dies holding it only
# delays it by this much
LEASE = timedelta(seconds=TIMEOUT_S + 20)
# what the log keeps of an answer that was not a 2xx (of a 2xx, nothing): enough to say why, too
# little to make the log a way to read what an internal address serves
ANSWER_BYTES = 200
# failed attempts in a row after which an endpoint is marked failing (it still receives events)
FAILING_AFTER = 3
# how long a command waits, as it ends, for the events it made to go out
EXIT_WAIT_S = 1.0
# a Retry-After longer than this is taken as this
MAX_RETRY_AFTER = timedelta(hours=10)
BATCH = 100


# ---- sending ----


@dataclass(frozen=True)
class Answer:
    status: int | None
    text: str | None
    retry_after: str | None
    error: str | None


def headers(job: Job, sent_at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers: webhook-id is the event's, the same on every retry, so a
    receiver can drop a duplicate; the timestamp is this attempt's, and signed with the body."""
    from standardwebhooks.webhooks import Webhook

    return {
        "content-type": "application/json",
        "user-agent": f"agentik/{__version__}",
        "webhook-id": job.uid,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": Webhook(job.secret).sign(job.uid, sent_at, job.body),
    }


def post(url: str, body: bytes, head: dict[str, str], timeout: float | None = None, guard: bool = False) -> Answer:
    """One POST with the standard library: redirects are not followed (a 3xx is an answer like any
    other), the whole exchange ends by one deadline (`timeout`, else TIMEOUT_S as it is now), and
    the first ANSWER_BYTES of an answer that is not a 2xx are kept. A user and password in the URL
    go as basic authentication. `guard`: every address the host resolves to must be a public one
    (netcheck), and the connection goes to one of those, so a second lookup cannot lead inside."""
    import http.client
    import ssl

    from agentik_cli import netcheck

    deadline = netcheck.Deadline(TIMEOUT_S if timeout is None else timeout)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.hostname or ""
    if parts.username is not None:  # https://user:password@host/: basic authentication, as curl does
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        head = {**head, "authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    conn: http.client.HTTPConnection | None = None
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = netcheck.resolve(host, port, deadline)
        for address in addresses if guard else ():
            why = netcheck.refusal(address)
            if why:
                return Answer(
                    None,
                    None,
                    None,
                    f"refused: {host} resolves to {address}, {why} (on a shared store, only a webhook "
                    "added with --allow-internal goes to one)",
                )
        conn = netcheck.Pinned(parts.scheme, host, port, addresses, deadline)
        conn.request("POST", path, body=body, headers=head)
        response = conn.getresponse()
        text = None
        if not 200 <= response.status < 300:  # a delivered event's answer is not kept
            text = response.read(ANSWER_BYTES).decode("utf-8", errors="replace")
        return Answer(response.status, text, response.getheader("retry-after"), None)
    except TimeoutError as exc:
        return Answer(None, None, None, str(exc))  # netcheck's: which limit, the lookup's or the exchange's
    except ssl.SSLError as exc:
        return Answer(None, None, None, f"TLS failed: {exc.reason or exc}")
    except (OSError, http.client.HTTPException, UnicodeError, ValueError) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc) or type(exc).__name__
        return Answer(None, None, None, reason[:1].lower() + reason[1:])
    finally:
        if conn is not None:
            conn.close()


def retry_after(value: str | None, now: datetime) -> timedelta | None:
    """A Retry-After header: seconds, or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(timedelta(seconds=int(value)), MAX_RETRY_AFTER)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(when - now, timedelta(0)), MAX_RETRY_AFTER)


def judge(job: Job, answer: Answer, now: datetime, retries: bool = True) -> Result:
    """What an answer means: a 2xx is delivered; a 410 disables the endpoint; anything else is
    tried again on the schedule (or after the receiver's Retry-After), until the schedule ends."""
    delivered = answer.status is not None and 200 <= answer.status < 300
    error = answer.error
    if answer.status is not None and not delivered:
        error = f"HTTP {answer.status}" + (" (redirects are not followed)" if 300 <= answer.status < 400 else "")
    if delivered:  # what a receiver answers to a delivered event is not kept (issue 20)
        return Result(True, answer.status, None, None, endpoint_status="active")
    if answer.status == 410:
        return Result(False, 410, "HTTP 410: the endpoint is gone; disabled", answer.text, endpoint_status="disabled")
    retry_at = None
    if retries and job.attempt <= len(SCHEDULE):
        wait = retry_after(answer.retry_after, now)
        if wait is None:
            wait = SCHEDULE[job.attempt - 1] * random.uniform(1 - JITTER, 1 + JITTER)
        retry_at = now + wait
    status = "failing" if job.failures + 1 >= FAILING_AFTER else None
    return Result(
        False, answer.status, error, answer.text, retry_at=retry_at, endpoint_status=status, dropped=not retries
    )


def attempt(store: Store, delivery_id: int, *, any_time: bool = False, retries: bool = True) -> None:
    """Claim a delivery, send it, record what came of it; nothing when it is not ours to send
    (another process holds it, or it went out meanwhile)."""
    with store.write() as unit:
        job = outbox.claim(unit.session, delivery_id, unit.now, unit.now + LEASE, any_time=any_time)
    if job is None:
        return
    sent_at = datetime.now(UTC)  # the receiver checks it against its own clock, not agentik's
    guard = not store.is_sqlite and not job.allow_internal  # a shared store: internal addresses refused
    answer = post(job.url, job.body.encode("utf-8"), headers(job, sent_at), guard=guard)
    with store.write() as unit:
        outbox.record(unit.session, job, judge(job, answer, unit.now, retries), unit.now)


def _each_due(store: Store, *, any_time: bool, stop: threading.Event | None = None) -> None:
    """One pass over the deliveries due now (`any_time`: every undelivered one), oldest first, a
    batch at a time after the last one tried: one that failed again is not tried twice."""
    last = 0
    while stop is None or not stop.is_set():
        with store.read() as session:
            ids = outbox.due(session, now_utc(), limit=BATCH, any_time=any_time, after=last)
        if not ids:
            return
        for delivery_id in ids:
            if stop is not None and stop.is_set():
                return
            attempt(store, delivery_id, any_time=any_time)
        last = ids[-1]


def deliver_all(store: Store) -> bool:
    """Try every undelivered event now, whatever its schedule (and those given up on). True when
    nothing is left undelivered."""
    _each_due(store, any_time=True)
    with store.read() as session:
        return outbox.undelivered(session) == 0


IDLE_WAIT = timedelta(seconds=30)
# never less between two looks at the outbox (a clock that moves back cannot make the worker spin)
MIN_WAIT = timedelta(milliseconds=200)


def run_loop(store: Store, stop: threading.Event) -> None:
    """`deliver --loop`: send what is due, then sleep until the next delivery falls due or the store
    changes (a new event), until `stop` is set."""
    from agentik_cli.store.changes import Watcher

    with Watcher(store.url) as watcher:
        while not stop.is_set():
            _each_due(store, any_time=False, stop=stop)
            with store.read() as session:
                next_at = outbox.next_due(session)
            wait = IDLE_WAIT if next_at is None else min(max(_aware(next_at) - now_utc(), MIN_WAIT), IDLE_WAIT)
            watcher.wait(wait.total_seconds(), stop)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# ---- sending at once, from the command that made the events ----


class _Sender:
    """One thread per process sends the deliveries its commands made, in order."""

    def __init__(self) -> None:
        self.queue: queue.Queue[tuple[Store, list[int]]] = queue.Queue()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def add(self, store: Store, ids: list[int]) -> None:
        self.queue.put((store, ids))
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="agentik-webhooks", daemon=True)
                self.thread.start()

    def _run(self) -> None:
        while True:
            store, ids = self.queue.get()
            try:
                for delivery_id in ids:
                    attempt(store, delivery_id)
            except Exception:  # noqa: S110 - whatever went wrong, the outbox still has them
                pass
            finally:
                self.queue.task_done()

    def wait(self, seconds: float) -> bool:
        deadline = time.monotonic() + seconds
        while self.queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self.queue.unfinished_tasks


_sender = _Sender()


def send_soon(store: Store, ids: list[int]) -> None:
    """Send these deliveries now, beside the command (an in-memory store is this process's alone:
    nothing else could deliver from it, nor could a thread read it)."""
    if store.url != MEMORY_URL:
        _sender.add(store, ids)


def wait_for_sends(seconds: float = EXIT_WAIT_S) -> bool:
    """As a command ends: let the events it made go out, for at most `seconds`."""
    return _sender.wait(seconds)
