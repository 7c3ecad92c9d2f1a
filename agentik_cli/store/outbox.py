"""The webhooks' tables: endpoints, the outbox of events, their deliveries and the log of attempts.

An event is written by the unit of work that makes the change it reports (Unit.emit, then
`write` as the unit ends), so neither exists without the other; an event no endpoint wants is not
written at all. Its body is made then, from the records as the transaction sees them, and sent as it
is on every attempt. What an event carries is read beside its records (`agent_data` in
store/agents.py, `session_data` and `message_data` in store/sessions.py, `cost_data` in
store/reports.py), so that this module imports none of them. A delivery is claimed before it is
sent (`claim`: one conditional UPDATE, which one process wins), so several processes delivering at
once send each event once to each endpoint."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import case, delete, func, or_, select, update
from sqlmodel import Session

from agentik_cli.store.models import Agent
from agentik_cli.store.outbox_models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, WebhookEvent
from agentik_cli.timeutil import iso

_ENDPOINTS: Any = cast(Any, WebhookEndpoint).__table__
_EVENTS: Any = cast(Any, WebhookEvent).__table__
_DELIVERIES: Any = cast(Any, WebhookDelivery).__table__
_ATTEMPTS: Any = cast(Any, WebhookAttempt).__table__
# the states of a delivery that may still be sent: pending, and given up on (`deliver` tries those too)
_OPEN = ("pending", "failed")


def _states(any_time: bool) -> tuple[str, ...]:
    return _OPEN if any_time else ("pending",)


def _unclaimed(now: datetime) -> Any:
    """Not held by a process (a claim that ran out was its process's, which died)."""
    return or_(_DELIVERIES.c.claimed_until.is_(None), _DELIVERIES.c.claimed_until < now)


@dataclass
class Pending:
    """An event a unit of work emitted: its data, or how to read it when an endpoint wants it."""

    type: str
    agent_id: int | None
    data: dict[str, Any] | Callable[[Session], dict[str, Any]]
    subject: str | None = None  # the record it carries, as "message:12"


@dataclass(frozen=True)
class Endpoint:
    id: int
    url: str
    agent_id: int | None
    agent: str | None
    events: list[str]
    status: str
    failures: int
    created_at: datetime
    allow_internal: bool = False

    def wants(self, event: Pending) -> bool:
        return (self.agent_id is None or self.agent_id == event.agent_id) and (
            not self.events or event.type in self.events
        )


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        row.id,
        row.url,
        row.agent_id,
        row.agent_name,
        list(row.events or []),
        row.status,
        row.failures,
        row.created_at,
        bool(row.allow_internal),
    )


def new_uid() -> str:
    return "msg_" + uuid.uuid4().hex


def body(event_type: str, timestamp: datetime, data: dict[str, Any]) -> str:
    return json.dumps({"type": event_type, "timestamp": iso(timestamp), "data": data}, ensure_ascii=False)


def write(session: Session, now: datetime, pending: list[Pending]) -> list[int]:
    """The events that some endpoint wants, each with one delivery per such endpoint, due now.
    Returns the deliveries' ids."""
    endpoints = [e for e in all_endpoints(session) if e.status != "disabled"]
    if not endpoints:
        return []
    ids: list[int] = []
    for event in pending:
        targets = [e for e in endpoints if e.wants(event)]
        if not targets:
            continue
        data = event.data(session) if callable(event.data) else event.data
        event_id = insert_event(session, event.type, body(event.type, now, data), now, event.subject)
        ids += add_deliveries(session, event_id, [e.id for e in targets], now)
    return ids


def insert_event(session: Session, event_type: str, text: str, now: datetime, subject: str | None = None) -> int:
    values = {"uid": new_uid(), "type": event_type, "subject": subject, "body": text, "created_at": now}
    return int(session.execute(_EVENTS.insert().values(**values).returning(_EVENTS.c.id)).scalar_one())


def add_deliveries(session: Session, event_id: int, endpoint_ids: list[int], now: datetime) -> list[int]:
    ids = []
    for endpoint_id in endpoint_ids:
        values = {"event_id": event_id, "endpoint_id": endpoint_id, "state": "pending", "attempts": 0, "next_at": now}
        ids.append(int(session.execute(_DELIVERIES.insert().values(**values).returning(_DELIVERIES.c.id)).scalar_one()))
    return ids


# ---- endpoints ----


def add_endpoint(
    session: Session,
    *,
    url: str,
    agent_id: int | None,
    agent_name: str | None,
    events: list[str],
    secret: str,
    now: datetime,
    user: str,
    allow_internal: bool = False,
) -> int:
    values = {
        "url": url,
        "agent_id": agent_id,
        "agent_name": agent_name,
        "events": events,
        "secret": secret,
        "status": "active",
        "failures": 0,
        "created_at": now,
        "user_name": user,
        "allow_internal": allow_internal,
    }
    return int(session.execute(_ENDPOINTS.insert().values(**values).returning(_ENDPOINTS.c.id)).scalar_one())


def _with_agent_name() -> Any:
    """Endpoints with their agent's name now (renamed since), else the one it had when added."""
    agents: Any = cast(Any, Agent).__table__
    name = func.coalesce(agents.c.name, _ENDPOINTS.c.agent_name).label("agent_name")
    columns = [c for c in _ENDPOINTS.c if c.name != "agent_name"]
    return select(*columns, name).outerjoin(agents, agents.c.id == _ENDPOINTS.c.agent_id)


def all_endpoints(session: Session) -> list[Endpoint]:
    return [_endpoint(row) for row in session.execute(_with_agent_name().order_by(_ENDPOINTS.c.id)).all()]


def get_endpoint(session: Session, endpoint_id: int) -> Endpoint | None:
    row = session.execute(_with_agent_name().where(_ENDPOINTS.c.id == endpoint_id)).first()
    return _endpoint(row) if row is not None else None


def remove_endpoint(session: Session, endpoint_id: int) -> bool:
    """The endpoint, its deliveries and their log go; events no other endpoint waits for too."""
    result: Any = session.execute(delete(_ENDPOINTS).where(_ENDPOINTS.c.id == endpoint_id))
    if not result.rowcount:
        return False
    orphans = select(_DELIVERIES.c.id).where(_DELIVERIES.c.event_id == _EVENTS.c.id).exists()
    session.execute(delete(_EVENTS).where(~orphans))
    return True


# ---- deliveries ----


@dataclass(frozen=True)
class Job:
    """A claimed delivery: all it takes to send it and to record what came of it."""

    delivery_id: int
    attempt: int  # this attempt's number, from 1
    uid: str
    type: str
    body: str
    endpoint_id: int
    url: str
    secret: str
    failures: int  # the endpoint's failed attempts in a row, before this one
    allow_internal: bool = False  # added with --allow-internal


def due(session: Session, now: datetime, *, limit: int, any_time: bool = False, after: int = 0) -> list[int]:
    """Deliveries to try now, oldest first from id `after`: pending and due (`any_time`: whatever
    their schedule, and those given up on too), to an endpoint that is not disabled, and not held by
    a process."""
    d = _DELIVERIES
    query = (
        select(d.c.id)
        .join(_ENDPOINTS, _ENDPOINTS.c.id == d.c.endpoint_id)
        .where(d.c.state.in_(_states(any_time)), _ENDPOINTS.c.status != "disabled", _unclaimed(now))
        .where(d.c.id > after)
    )
    if not any_time:
        query = query.where(d.c.next_at <= now)
    return [int(i) for i in session.execute(query.order_by(d.c.id).limit(limit)).scalars()]


def next_due(session: Session) -> datetime | None:
    """When the next pending delivery falls due (to an endpoint that is not disabled): one that a
    process holds, not before its claim ends."""
    d = _DELIVERIES
    free_at = case((d.c.claimed_until > d.c.next_at, d.c.claimed_until), else_=d.c.next_at)
    return session.execute(
        select(func.min(free_at))
        .join(_ENDPOINTS, _ENDPOINTS.c.id == d.c.endpoint_id)
        .where(d.c.state == "pending", _ENDPOINTS.c.status != "disabled")
    ).scalar_one()


def claim(session: Session, delivery_id: int, now: datetime, until: datetime, any_time: bool = False) -> Job | None:
    """Hold a delivery until `until` for this process; None when another process holds it, or it
    went out or was dropped meanwhile. The UPDATE's condition is checked against the row as it is
    when the update takes it (SQLite: one writer at a time; PostgreSQL: the row's lock), so of
    several processes claiming at once exactly one wins."""
    d = _DELIVERIES
    result: Any = session.execute(
        update(d)
        .where(d.c.id == delivery_id, d.c.state.in_(_states(any_time)), _unclaimed(now))
        .values(claimed_until=until)
    )
    if not result.rowcount:
        return None
    row = session.execute(
        select(d.c.id, d.c.attempts, _EVENTS.c.uid, _EVENTS.c.type, _EVENTS.c.body, _ENDPOINTS.c.id.label("endpoint"))
        .add_columns(_ENDPOINTS.c.url, _ENDPOINTS.c.secret, _ENDPOINTS.c.status, _ENDPOINTS.c.failures)
        .add_columns(_ENDPOINTS.c.allow_internal)
        .join(_EVENTS, _EVENTS.c.id == d.c.event_id)
        .join(_ENDPOINTS, _ENDPOINTS.c.id == d.c.endpoint_id)
        .where(d.c.id == delivery_id)
    ).one()
    if row.status == "disabled":
        return None
    return Job(
        row.id,
        row.attempts + 1,
        row.uid,
        row.type,
        row.body,
        row.endpoint,
        row.url,
        row.secret,
        row.failures,
        bool(row.allow_internal),
    )


@dataclass(frozen=True)
class Result:
    """What an attempt came to, and what follows from it (decided by services/webhooks.py)."""

    delivered: bool
    status_code: int | None
    error: str | None
    answer: str | None
    # not delivered: when to try again (None: give up on it)
    retry_at: datetime | None = None
    # the endpoint's status from now on (None: as it is)
    endpoint_status: str | None = None
    # not delivered, and never to be tried again, not even by `webhooks deliver` (a test event)
    dropped: bool = False


def record(session: Session, job: Job, result: Result, now: datetime) -> None:
    """Log the attempt, move the delivery on (delivered, due again, or given up on) and keep the
    endpoint's count of failures in a row; a disabled endpoint's other deliveries are dropped."""
    session.execute(
        _ATTEMPTS.insert().values(
            delivery_id=job.delivery_id,
            attempt=job.attempt,
            status_code=result.status_code,
            error=result.error,
            answer=result.answer,
            delivered=result.delivered,
            at=now,
        )
    )
    d = _DELIVERIES
    if result.delivered:
        state, next_at = "delivered", now
    elif result.dropped:
        state, next_at = "dropped", now
    elif result.retry_at is not None:
        state, next_at = "pending", result.retry_at
    else:
        state, next_at = "failed", now
    session.execute(
        update(d)
        .where(d.c.id == job.delivery_id)
        .values(
            state=state,
            attempts=job.attempt,
            next_at=next_at,
            claimed_until=None,
            delivered_at=now if result.delivered else None,
        )
    )
    e = _ENDPOINTS
    values: dict[str, Any] = {"failures": 0} if result.delivered else {"failures": e.c.failures + 1}
    if result.endpoint_status is not None:
        values["status"] = result.endpoint_status
    session.execute(update(e).where(e.c.id == job.endpoint_id, e.c.status != "disabled").values(**values))
    if result.endpoint_status == "disabled":
        session.execute(
            update(d).where(d.c.endpoint_id == job.endpoint_id, d.c.state == "pending").values(state="dropped")
        )
    _drop_sent_body(session, job.uid)


def _drop_sent_body(session: Session, uid: str) -> None:
    """An event's body (a copy of a message, say) is kept only while some delivery of it may still
    be sent: once each went out or was dropped, the body goes; the log keeps the event's id and type."""
    d = _DELIVERIES
    waiting = select(d.c.id).where(d.c.event_id == _EVENTS.c.id, d.c.state.in_(_OPEN)).exists()
    session.execute(update(_EVENTS).where(_EVENTS.c.uid == uid, ~waiting).values(body=""))


def undelivered(session: Session) -> int:
    """Deliveries not (yet) made to endpoints that are not disabled."""
    d = _DELIVERIES
    query = (
        select(func.count())
        .select_from(d)
        .join(_ENDPOINTS, _ENDPOINTS.c.id == d.c.endpoint_id)
        .where(d.c.state.in_(_OPEN), _ENDPOINTS.c.status != "disabled")
    )
    return int(session.execute(query).scalar_one())


@dataclass(frozen=True)
class Attempt:
    event_id: str
    endpoint_id: int
    type: str
    attempt: int
    status_code: int | None
    error: str | None
    answer: str | None
    at: datetime
    delivered: bool


def attempts(session: Session, *, failed: bool, limit: int | None) -> list[Attempt]:
    """The log, newest first."""
    a, d = _ATTEMPTS, _DELIVERIES
    query = (
        select(_EVENTS.c.uid, d.c.endpoint_id, _EVENTS.c.type, a.c.attempt)
        .add_columns(a.c.status_code, a.c.error, a.c.answer, a.c.at, a.c.delivered)
        .join(d, d.c.id == a.c.delivery_id)
        .join(_EVENTS, _EVENTS.c.id == d.c.event_id)
        .order_by(a.c.id.desc())
    )
    if failed:
        query = query.where(a.c.delivered.is_(False))
    if limit:
        query = query.limit(limit)
    return [Attempt(*row) for row in session.execute(query).all()]
