"""Opening a store is opening it: the store sends no webhook and replays no journal of its own
accord. Whoever opens it gives it what to call with the deliveries a write made
(services/opening.py gives the webhook sender), and the journal is stored by that opening too."""

from __future__ import annotations

from agentik_cli.services import agents, opening
from agentik_cli.services import webhooks as webhook_service
from agentik_cli.store import engine
from agentik_cli.store.engine import Store


def test_the_store_module_holds_no_hook_of_the_layer_above():
    assert not hasattr(engine, "on_deliveries")


def test_a_store_calls_only_the_hook_its_opener_gave_it(store):
    webhook_service.add(store, "http://127.0.0.1:9/hook", None, [], None, allow_internal=True)
    seen: list[tuple[Store, list[int]]] = []
    given = Store(store.url, on_deliveries=lambda s, ids: seen.append((s, ids)))
    bare = Store(store.url)
    try:
        agents.create(bare, agents.AgentFields(name="quiet", model="gpt-4o"))
        assert seen == []  # the bare store delivered nothing, to anyone
        agents.create(given, agents.AgentFields(name="heard", model="gpt-4o"))
        assert len(seen) == 1 and seen[0][0] is given and len(seen[0][1]) == 1
    finally:
        given.dispose()
        bare.dispose()


def test_the_commands_store_is_given_the_webhook_sender(store):
    assert store is opening.command_store()
    assert store.on_deliveries is opening._send_soon
