"""Issue 22: the journal's records are typed values (values.py ReplyRecord and CostRecord,
services/recording.py Failed, Released, ToolCalls) with their JSON form. A journal written by an
earlier agentik, one JSON line a record, is still read and replayed, to the same rows. On both stores."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from agentik_cli.services import agents, journal, recording
from agentik_cli.services.agents import AgentFields
from agentik_cli.values import CostRecord, ReplyRecord
from tests.conftest import db_rows

# a reply as the agentik of c18fc52 journaled it (services/ledger.py add_reply, journal.keep)
TODAYS_LINE = {
    "id": "ffffffffffffffffffffffffffffffff",
    "kind": "reply",
    "agent_id": 1,
    "session_id": 1,
    "content": "Hi there.",
    "channel": "cli",
    "error": None,
    "interrupted": False,
    "cost": {
        "agent_id": 1,
        "agent_name": "helper",
        "session_id": 1,
        "conversation_id": None,
        "model": "claude-sonnet-4-0",
        "provider": "anthropic",
        "input_tokens": 1500,
        "output_tokens": 80,
        "cache_read_tokens": 200,
        "cache_write_tokens": 100,
        "total_tokens": 1580,
        "input_cost_nd": 4500000,
        "output_cost_nd": 1200000,
        "total_cost_nd": 5700000,
        "price_input_nd": 3000000000,
        "price_output_nd": 15000000000,
        "price_cache_read_nd": 300000000,
        "price_cache_write_nd": 3750000000,
        "timestamp": {"$time": "2026-12-01T10:00:05.123456+00:00"},
        "response_ms": 812,
        "channel": "cli",
        "endpoint": "https://api.anthropic.com",
        "estimated": False,
        "over_limit": False,
        "user_name": "ada",
        "call_key": "0123456789abcdef0123456789abcdef",
    },
    "parts": None,
    "reservation_id": None,
}
COLUMNS = [c for c in TODAYS_LINE["cost"] if c not in ("timestamp", "conversation_id")]


def _journal(store, *lines: dict) -> None:
    path = journal.path_for(store.url)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({**line, "url": store.url}) + "\n" for line in lines))


def _session(store) -> None:
    agent = agents.create(store, AgentFields(name="helper", model="claude-sonnet-4-0"))
    recording.add_user_message(store, agent_id=agent.id, session_id=None, content="hello", channel="cli")


def test_a_journal_line_in_todays_format_replays_to_the_same_row(store, agentik_home):
    _session(store)
    _journal(store, TODAYS_LINE)
    assert recording.replay_journal(store) == 1
    cost = TODAYS_LINE["cost"]
    stored = db_rows(agentik_home, f"SELECT {', '.join(COLUMNS)}, conversation_id, timestamp FROM costs")
    assert len(stored) == 1
    *row, conversation_id, timestamp = stored[0]
    assert [(c, v) for c, v in zip(COLUMNS, row, strict=True)] == [(c, cost[c]) for c in COLUMNS]
    stamp = timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(timestamp)
    assert stamp.replace(tzinfo=stamp.tzinfo or UTC) == datetime(2026, 12, 1, 10, 0, 5, 123456, tzinfo=UTC)
    message = db_rows(agentik_home, "SELECT id, role, content, cost_nd, tokens_used, user_name FROM messages")[1]
    assert message == (conversation_id, "assistant", "Hi there.", 5700000, 1580, "ada")


def test_a_reply_of_an_older_agentik_without_its_later_keys_takes_their_defaults(store, agentik_home, monkeypatch):
    """The first journals had no user, no parts, no reservation, no call key and no over_limit."""
    monkeypatch.setenv("AGENTIK_USER", "zed")  # the replaying command's user
    _session(store)
    cost = {k: v for k, v in TODAYS_LINE["cost"].items() if k not in ("user_name", "call_key", "over_limit")}
    old = {k: v for k, v in TODAYS_LINE.items() if k not in ("parts", "reservation_id")}
    _journal(store, {**old, "cost": cost})
    assert recording.replay_journal(store) == 1
    assert db_rows(agentik_home, "SELECT user_name, call_key, over_limit, input_tokens FROM costs") == [
        ("zed", None, False, 1500)
    ]


def test_every_record_comes_back_from_its_json_form():
    line = {k: v for k, v in TODAYS_LINE.items() if k != "id"}
    reply = recording.read_record(line)
    assert isinstance(reply, ReplyRecord) and isinstance(reply.cost, CostRecord)
    assert reply.cost.timestamp == datetime(2026, 12, 1, 10, 0, 5, 123456, tzinfo=UTC)
    assert reply.cost.total_tokens == 1580
    # the form written is today's, less the message id, which only the store knows
    assert reply.to_json() == {**line, "cost": {k: v for k, v in line["cost"].items() if k != "conversation_id"}}
    for record in (
        recording.Failed(3, "the provider failed", 9),
        recording.Released(9),
        recording.ToolCalls(3, [{"id": "call_1", "name": "files.read", "status": "ok"}]),
    ):
        assert recording.read_record(json.loads(json.dumps(record.to_json()))) == record
