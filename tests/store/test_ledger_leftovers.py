"""Issue 21, the ledger's leftovers: `prices show` finds a model priced only by an override under
another provider than its name implies; `db backup` copies a database of a newer agentik; every time
agentik writes (the tables' defaults, a backup's name, the migrations' own rows) follows the
environment's clock; a session keeps its totals, as its messages keep their costs, when `costs
cleanup` removes ledger rows. On both stores where a store is involved. (Redaction's reach over
every text column is in tests/services/test_forget.py.)"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest

from agentik_cli import environment
from agentik_cli.environment import Environment
from agentik_cli.store import engine
from tests.conftest import db_execute, db_rows
from tests.fakeprovider import Reply

FROZEN = datetime(2031, 5, 6, 12, 30, 15, tzinfo=UTC)


# ---- prices show without --provider ----


def test_prices_show_finds_a_model_priced_only_under_another_provider(cli):
    # the name implies anthropic; the only price is an override under openai (an OpenAI-compatible server's)
    cli("prices", "set", "claude-local", "--provider", "openai", "--input", "1", "--output", "2")
    shown = cli.json("prices", "show", "claude-local")
    assert (shown["provider"], shown["input"], shown["output"], shown["override"]) == ("openai", 1.0, 2.0, True)
    cli("prices", "set", "llama-mine", "--provider", "openai", "--input", "0", "--output", "0")
    assert cli.json("prices", "show", "LLAMA-MINE")["provider"] == "openai"


def test_prices_show_asks_which_provider_when_several_have_the_model(cli):
    cli("prices", "set", "claude-local", "--provider", "openai", "--input", "1", "--output", "2")
    cli("prices", "set", "claude-local", "--provider", "anthropic", "--input", "3", "--output", "4")
    result = cli("prices", "show", "claude-local", code=2)
    assert "several providers (anthropic, openai)" in result.stderr and "--provider" in result.stderr
    assert cli.json("prices", "show", "claude-local", "--provider", "anthropic")["input"] == 3.0
    # a bundled price and an override under another provider are two providers too
    cli("prices", "set", "gpt-4o-mini", "--provider", "anthropic", "--input", "5", "--output", "6")
    assert "several providers" in cli("prices", "show", "gpt-4o-mini", code=2).stderr
    assert cli.json("prices", "show", "gpt-4o-mini", "--provider", "openai")["override"] is False
    # what was there before stays: a model nobody prices, by a name that implies no provider
    assert "cannot tell the provider" in cli("prices", "show", "nothing-like-it", code=2).stderr
    assert "no price known" in cli("prices", "show", "gpt-no-such", code=1).stderr


# ---- db backup of a newer agentik's database ----


@pytest.mark.sqlite_only(reason="db backup copies a SQLite file")
def test_backup_copies_a_database_of_a_newer_agentik_and_says_so(cli, agentik_home, tmp_path):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    future = "INSERT INTO agentik_migrations (name, applied_at) VALUES ('9999_from_the_future', '2040-01-01')"
    db_execute(agentik_home, (future, ()))
    engine.reset_stores()
    cli("agents", "list", code=2)  # this agentik cannot use it...
    result = cli("db", "backup", str(tmp_path / "kept.db"))  # ...but copies it
    assert "newer agentik" in result.stderr and "9999_from_the_future" in result.stderr
    assert result.stdout.strip() == str(tmp_path / "kept.db")
    with sqlite3.connect(tmp_path / "kept.db") as db:
        assert db.execute("SELECT name FROM agents").fetchall() == [("gpt",)]
        assert ("9999_from_the_future",) in db.execute("SELECT name FROM agentik_migrations").fetchall()
    # the database itself was not migrated or touched by it
    assert db_rows(agentik_home, "SELECT count(*) FROM agentik_migrations WHERE name LIKE '9999%'") == [(1,)]
    # an ordinary one says nothing of the kind
    db_execute(agentik_home, ("DELETE FROM agentik_migrations WHERE name LIKE '9999%'", ()))
    engine.reset_stores()
    assert "newer" not in cli("db", "backup", str(tmp_path / "plain.db")).stderr


# ---- one clock ----


def test_a_new_agents_times_follow_the_injected_clock(cli):
    with environment.use(Environment(clock=lambda: FROZEN)):
        cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
        shown = cli.json("agents", "show", "gpt")
    assert shown["created_at"] == shown["updated_at"] == "2031-05-06T12:30:15Z"


def test_the_tables_defaults_follow_the_injected_clock():
    """A row made without a time (the commands pass the unit's now; a row made in code may not)."""
    from agentik_cli.store.models import Agent, ChatSession, Cost, PriceOverride
    from agentik_cli.store.outbox_models import WebhookAttempt

    with environment.use(Environment(clock=lambda: FROZEN)):
        agent = Agent(name="gpt", name_key="gpt", model="gpt-4o-mini", provider="openai")
        rows = [ChatSession(agent_id=1), Cost(model="m", provider="p"), PriceOverride(provider="p", model_key="m",
                model="m", input_nd=0, output_nd=0), WebhookAttempt(delivery_id=1, attempt=1)]  # fmt: skip
    assert agent.created_at == agent.updated_at == FROZEN
    assert [rows[0].started_at, rows[1].timestamp, rows[2].updated_at, rows[3].at] == [FROZEN] * 4


@pytest.mark.sqlite_only(reason="the suite's PostgreSQL databases come migrated: SQLite's file is made here")
def test_the_migrations_record_when_by_the_injected_clock(cli, agentik_home):
    with environment.use(Environment(clock=lambda: FROZEN)):
        cli("agents", "list")  # creates and migrates the store
    stamps = {str(row[0])[:19] for row in db_rows(agentik_home, "SELECT applied_at FROM agentik_migrations")}
    assert stamps == {"2031-05-06 12:30:15"}


@pytest.mark.sqlite_only(reason="db backup copies a SQLite file")
def test_a_backups_name_follows_the_injected_clock(cli, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    with environment.use(Environment(clock=lambda: FROZEN)):
        written = cli.json("db", "backup", str(folder))["path"]
    assert written == str(folder / "agentik-20310506-123015.db")  # local time: TZ is UTC in the suite


# ---- costs cleanup and a session's totals ----


def test_a_session_keeps_its_totals_beside_its_messages_costs_after_a_cleanup(cli, fake, agentik_home):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.add(Reply(text="old answer", input_tokens=1000, output_tokens=10))
    cli("chat", "gpt", "-m", "old question")
    fake.add(Reply(text="new answer", input_tokens=2000, output_tokens=20))
    cli("chat", "gpt", "-c", "-m", "new question")
    old = (datetime.now(UTC) - timedelta(days=40)).strftime("%Y-%m-%d %H:%M:%S.000000")
    first = db_rows(agentik_home, "SELECT min(id) FROM costs")[0][0]
    db_execute(agentik_home, ("UPDATE costs SET timestamp = ? WHERE id = ?", (old, first)))
    before = cli.json("sessions", "show", "1")
    removed = cli.json("costs", "cleanup", "--older-than", "30", "--yes")
    assert removed["removed"] == 1  # the ledger row went...
    assert cli.json("costs", "summary")["calls"] == 1
    after = cli.json("sessions", "show", "1")
    # ...and the session, as its messages, still says what it cost
    for name in ("input_tokens", "output_tokens", "total_cost", "message_count"):
        assert after[name] == before[name], name
    replies = [m for m in after["messages"] if m["role"] == "assistant"]
    assert after["input_tokens"] == sum(m["input_tokens"] for m in replies) == 3000
    assert after["output_tokens"] == sum(m["output_tokens"] for m in replies) == 30
    assert after["total_cost"] == pytest.approx(sum(m["cost"] for m in replies))
    listed = cli.json("sessions", "list")[0]
    assert (listed["input_tokens"], listed["total_cost"]) == (3000, after["total_cost"])
