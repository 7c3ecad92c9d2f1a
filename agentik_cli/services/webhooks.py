"""Webhooks: endpoints that receive agentik's events, signed per Standard Webhooks
(https://www.standardwebhooks.com), delivered from the outbox (store/outbox.py).

Each event is written in the transaction of the change it reports. Once that commits, the command
that made it sends it at once, from a thread of its own, so the command's output never waits for a
receiver; what did not go out is left in the outbox. `agentik webhooks deliver --loop` retries on
the Standard Webhooks schedule; several may run at once, each delivery being claimed before it is
sent, and each send ending (one deadline over the whole exchange) well before its claim does. The
sending is services/delivery.py's; this module says what an endpoint is.

On a store several users share (PostgreSQL), a webhook is a request any of them can make this
machine send: one to an internal address (loopback, private, link-local, cloud metadata, ...) is
refused, when added and again at each send against what the name resolves to then, unless added
with --allow-internal (issue 20). On SQLite, one user's own store, any address goes."""

from __future__ import annotations

import base64
import ipaddress
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from agentik_cli.errors import NotFound, UsageError
from agentik_cli.records import EVENTS
from agentik_cli.services import delivery
from agentik_cli.store import outbox
from agentik_cli.store.engine import Store, mask_url
from agentik_cli.store.outbox import Endpoint

TEST_EVENT = "webhook.test"
# ---- endpoints ----


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _check_secret(secret: str) -> str:
    from standardwebhooks.webhooks import Webhook

    try:
        Webhook(secret)
    except Exception:
        raise UsageError(
            "--secret takes a Standard Webhooks secret: whsec_ followed by base64 (at least 16 bytes)",
            hint="leave --secret out and agentik makes one",
        ) from None
    raw = base64.b64decode(secret.removeprefix("whsec_") + "==")
    if len(raw) < 16:
        raise UsageError("--secret is too short: it takes at least 16 bytes (24 base64 characters)")
    return secret


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, shared: bool = False, allow_internal: bool = False) -> str:
    """HTTPS, or plain HTTP to this machine (a receiver under test, a local relay). On a shared
    store, not to an internal address unless allowed (the name is looked up at each send)."""
    from agentik_cli import netcheck

    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"'{url}' is not an http(s) URL")
    try:
        parts.port  # noqa: B018 - reading it checks it
    except ValueError:
        raise UsageError(f"'{url}' has a port that is not a number") from None
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise UsageError(
            f"a webhook to {parts.hostname} must use https: events would cross the network in the clear",
            hint="plain http is allowed to this machine only (localhost, 127.0.0.1, ::1)",
        )
    why = netcheck.host_refusal(parts.hostname) if shared and not allow_internal else None
    if why:
        raise UsageError(
            f"a webhook to {parts.hostname}, {why}, is refused on a shared store: any user of it could "
            "make agentik send requests inside this network",
            hint="if this receiver is meant, add it with --allow-internal",
        )
    return url


def check_events(events: list[str]) -> list[str]:
    unknown = [e for e in events if e not in EVENTS]
    if unknown:
        raise UsageError(f"no event '{unknown[0]}'", hint="events: " + ", ".join(EVENTS))
    return sorted(set(events), key=EVENTS.index)


@dataclass(frozen=True)
class Added:
    id: int
    url: str
    events: list[str]
    secret: str


def add(
    store: Store, url: str, agent: str | None, events: list[str], secret: str | None, allow_internal: bool = False
) -> Added:
    url, events = check_url(url, not store.is_sqlite, allow_internal), check_events(events)
    secret = _check_secret(secret) if secret is not None else new_secret()
    agent_id, agent_name = None, None
    if agent is not None:
        from agentik_cli.services import agents

        found = agents.get(store, agent)
        agent_id, agent_name = found.id, found.name
    with store.write() as unit:
        endpoint_id = outbox.add_endpoint(
            unit.session,
            url=url,
            agent_id=agent_id,
            agent_name=agent_name,
            events=events,
            secret=secret,
            now=unit.now,
            user=unit.user,
            allow_internal=allow_internal,
        )
    return Added(endpoint_id, url, events, secret)


def endpoints(store: Store) -> list[Endpoint]:
    with store.read() as session:
        return outbox.all_endpoints(session)


def get(store: Store, endpoint_id: int) -> Endpoint:
    with store.read() as session:
        found = outbox.get_endpoint(session, endpoint_id)
    if found is None:
        raise NotFound(f"no webhook {endpoint_id}", hint="`agentik webhooks list` shows them")
    return found


def remove(store: Store, endpoint_id: int) -> None:
    with store.write() as unit:
        if not outbox.remove_endpoint(unit.session, endpoint_id):
            raise NotFound(f"no webhook {endpoint_id}", hint="`agentik webhooks list` shows them")


def log(store: Store, failed: bool, limit: int | None) -> list[outbox.Attempt]:
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    with store.read() as session:
        return outbox.attempts(session, failed=failed, limit=limit)


def test(store: Store, endpoint_id: int) -> outbox.Attempt:
    """Send a webhook.test event to one endpoint at once (once: it is not retried), logged like
    every attempt."""
    endpoint = get(store, endpoint_id)
    with store.write() as unit:
        data = {"endpoint_id": endpoint.id, "url": mask_url(endpoint.url), "message": "a test event from agentik"}
        event_id = outbox.insert_event(unit.session, TEST_EVENT, outbox.body(TEST_EVENT, unit.now, data), unit.now)
        (delivery_id,) = outbox.add_deliveries(unit.session, event_id, [endpoint.id], unit.now)
    delivery.attempt(store, delivery_id, any_time=True, retries=False)
    with store.read() as session:
        return outbox.attempts(session, failed=False, limit=1)[0]
