"""`agentik webhooks`: URLs that receive agentik's events as they happen, signed per Standard Webhooks."""

from __future__ import annotations

import signal
from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, render
from agentik_cli.cli.options import Csv, Json, Limit, Yes, confirm
from agentik_cli.cli.views import Column, View, output
from agentik_cli.errors import FAILED, INTERRUPTED, OK
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Webhooks: send events (messages, costs, sessions, agents, budgets) to a URL as they happen.\n\n"
    "Example: agentik webhooks add https://example.com/hooks/agentik --event cost.recorded",
    no_args_is_help=True,
)

IdArg = Annotated[
    int,
    typer.Argument(
        help="The webhook's id (`agentik webhooks list`).", show_default=False, autocompletion=complete.webhook_ids
    ),
]

# the keys of endpoint_json and attempt_json: the CSV columns
ENDPOINT_COLUMNS = ("id", "url", "agent", "events", "status", "created_at")
ATTEMPT_COLUMNS = ("event_id", "endpoint_id", "type", "attempt", "status_code", "error", "answer", "at", "delivered")


def _url(url: str) -> str:
    """A URL fit to print: a password in it masked (https://user:***@host/...)."""
    from agentik_cli.services.database import printable_url

    return printable_url(url)


def endpoint_json(e: Any) -> dict[str, Any]:
    from agentik_cli.timeutil import iso

    return {
        "id": e.id,
        "url": _url(e.url),
        "agent": e.agent,
        "events": e.events,
        "status": e.status,
        "created_at": iso(e.created_at),
    }


def attempt_json(a: Any) -> dict[str, Any]:
    from agentik_cli.timeutil import iso

    return {
        "event_id": a.event_id,
        "endpoint_id": a.endpoint_id,
        "type": a.type,
        "attempt": a.attempt,
        "status_code": a.status_code,
        "error": a.error,
        "answer": a.answer,
        "at": iso(a.at),
        "delivered": a.delivered,
    }


@app.command()
def add(
    url: Annotated[str, typer.Argument(help="Where to POST the events: https, or http to this machine.")],
    agent: Annotated[
        str | None,
        typer.Option("--agent", help="Only this agent's events.", autocompletion=complete.agent_names),
    ] = None,
    event: Annotated[
        list[str] | None,
        typer.Option(
            "--event", help="Only events of this type (repeat for more; none: all).", autocompletion=complete.events
        ),
    ] = None,
    secret: Annotated[
        str | None, typer.Option("--secret", help="The signing secret (whsec_...); none: one is made.")
    ] = None,
    allow_internal: Annotated[
        bool,
        typer.Option(
            "--allow-internal",
            help="On a shared (PostgreSQL) store, let it go to an internal address: loopback, private, "
            "link-local, reserved (refused otherwise, when added and at each send).",
        ),
    ] = False,
    as_json: Json = False,
) -> None:
    """Add a webhook. Prints its id and its signing secret, which is shown this once.

    Example: agentik webhooks add https://example.com/hook --agent helper --event message.created
    """
    from agentik_cli.services import webhooks

    added = webhooks.add(command_store(), url, agent, list(event or []), secret, allow_internal)
    if as_json:
        render.print_json({"id": added.id, "url": _url(added.url), "events": added.events, "secret": added.secret})
        return
    render.print_line(f"id: {added.id}")
    render.print_line(f"secret: {added.secret}")
    render.note("the secret is shown this once: give it to the receiver, which verifies the signatures with it")


@app.command("list")
def list_(as_json: Json = False, as_csv: Csv = False) -> None:
    """The webhooks, with their status (active, failing, disabled). Never the secrets.

    In the CSV, events is JSON text (`[]`: every event).

    Example: agentik webhooks list --json
    """
    from agentik_cli.services import webhooks

    fmt = output(as_json, as_csv)
    ENDPOINTS.show([endpoint_json(e) for e in webhooks.endpoints(command_store())], fmt)


ENDPOINTS = View(
    (
        Column.of("id", right=True),
        Column.of("url"),
        Column("agent", lambda r: r["agent"] or "all"),
        Column("events", lambda r: ", ".join(r["events"]) or "all"),
        Column.of("status"),
        Column.when("created_at", "created"),
    ),
    ENDPOINT_COLUMNS,
    empty="no webhooks: `agentik webhooks add URL` adds one",
    nested_json=True,
)


@app.command()
def remove(endpoint_id: IdArg, yes: Yes = False) -> None:
    """Remove a webhook, with the events still waiting for it and its log.

    Example: agentik webhooks remove 2 --yes
    """
    from agentik_cli.services import webhooks

    store = command_store()
    found = webhooks.get(store, endpoint_id)
    confirm(f"Remove webhook {found.id} ({_url(found.url)})?", yes)
    webhooks.remove(store, endpoint_id)
    render.note(f"removed webhook {endpoint_id}")


@app.command()
def test(endpoint_id: IdArg) -> None:
    """Send a webhook.test event to one webhook now: exit 0 when it answers 2xx, else 1.

    Example: agentik webhooks test 1
    """
    from agentik_cli.services import webhooks

    result = webhooks.test(command_store(), endpoint_id)
    if result.delivered:
        render.print_line(f"delivered: HTTP {result.status_code}")
        return
    render.print_line(f"not delivered: {result.error}")
    raise typer.Exit(FAILED)


def _outcome(row: dict[str, Any]) -> str:
    if row["delivered"]:
        return f"delivered (HTTP {row['status_code']})"
    return str(row["error"])


@app.command()
def log(
    failed: Annotated[bool, typer.Option("--failed", help="Only the attempts that failed.")] = False,
    limit: Limit = 50,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """Every delivery attempt, newest first: the answer's status (and, when it failed, the first
    200 bytes of the answer), or the error.

    Example: agentik webhooks log --failed
    """
    from agentik_cli.services import webhooks

    fmt = output(as_json, as_csv)
    ATTEMPTS.show([attempt_json(a) for a in webhooks.log(command_store(), failed, limit)], fmt)


ATTEMPTS = View(
    (
        Column.when("at"),
        Column.of("endpoint_id", "webhook", right=True),
        Column.of("event_id", "event"),
        Column.of("type"),
        Column.of("attempt", "try", right=True),
        Column("result", _outcome),
    ),
    ATTEMPT_COLUMNS,
    empty="no delivery attempts yet",
)


@app.command()
def deliver(
    loop: Annotated[
        bool, typer.Option("--loop", help="Keep delivering, retrying on the schedule, until stopped.")
    ] = False,
) -> None:
    """Send the events not delivered yet: once, or as a worker that retries (--loop).

    Once: every one now, whatever its schedule (exit 0 when all went out, else 1). With --loop: a
    worker that retries on the Standard Webhooks schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
    10 h) until stopped; several may run at once.

    Example: agentik webhooks deliver --loop
    """
    import threading

    from agentik_cli.services import delivery

    store = command_store()
    if not loop:
        if not delivery.deliver_all(store):
            render.note("some events are still not delivered: `agentik webhooks log --failed` says why")
            raise typer.Exit(FAILED)
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        delivery.run_loop(store, stop)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None
    raise typer.Exit(OK)
