"""PostgreSQL itself: the migrations on a blank server database and from the first schema, the
schema against the models, `db status` that never migrates, another program's database, errors
that never show the password, `db copy` both ways, and completion that never migrates.

Every test here runs as [postgres] only (on the run's server, see tests/pgserver.py), each in the
database the suite made for it, or in blank ones it makes itself."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, inspect, text
from sqlmodel import SQLModel

from agentik_cli.store import (
    import_models,  # noqa: F401 - and the imports'
    migrations,
    models,  # noqa: F401 - the tables SQLModel.metadata holds
    outbox_models,  # noqa: F401 - and the outbox's
)
from agentik_cli.store.engine import MIGRATION_NAMES, Store
from tests import pgserver
from tests.conftest import base_env
from tests.fakeprovider import Reply

pytestmark = pytest.mark.postgres_only

_numbers = itertools.count(1)


@pytest.fixture
def blank():
    """A blank database (not the suite's migrated template): a factory, dropped afterwards."""
    made: list[str] = []

    def make() -> str:
        name = f"blank{os.getpid()}_{next(_numbers)}"
        made.append(name)
        return pgserver.create_database(name, template="template0")

    yield make
    from agentik_cli.store import engine

    engine.reset_stores()
    for name in made:
        pgserver.drop_database(name)


@contextmanager
def connected(url: str, begin: bool = False) -> Iterator[Any]:
    store = Store(url)
    try:
        with store.engine.begin() if begin else store.engine.connect() as conn:
            yield conn
    finally:
        store.dispose()


def schema(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            found = inspect(conn)
            result = {}
            for table in found.get_table_names():
                if table == "agentik_migrations":
                    continue
                columns = {
                    (c["name"], str(c["type"]), c["nullable"])
                    for c in found.get_columns(table)
                    if c["name"] != "search_vector"
                }
                # a partial index's clause too (the models write PostgreSQL's through their own
                # hook: store/models.py `partial`)
                indexes = {
                    (tuple(i["column_names"]), bool(i["unique"]), i.get("dialect_options", {}).get("postgresql_where"))
                    for i in found.get_indexes(table)
                    if i["name"] != "ix_messages_search"
                }
                fks = {
                    (tuple(f["constrained_columns"]), f["referred_table"], f["options"].get("ondelete"))
                    for f in found.get_foreign_keys(table)
                }
                result[table] = (columns, indexes, fks, tuple(found.get_pk_constraint(table)["constrained_columns"]))
            return result
    finally:
        engine.dispose()


def test_a_blank_database_is_migrated_to_the_models_schema(blank):
    migrated, modelled = blank(), blank()
    store = Store(migrated)
    store.migrate()
    with store.engine.connect() as conn:
        assert migrations.applied_names(conn) == list(MIGRATION_NAMES)
        # counts and token sums that outgrow 32 bits are BIGINT on PostgreSQL
        types = {
            (r[0], r[1]): r[2]
            for r in conn.execute(
                text(
                    "SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = 'public'"
                )
            )
        }
        # full-text search: a generated tsvector column with a GIN index
        index = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_messages_search'")).scalar()
    store.dispose()
    for column in (("messages", "input_tokens"), ("messages", "response_ms"), ("sessions", "message_count"),
                   ("agents", "stat_messages"), ("agents", "stat_response_ms"), ("costs", "input_tokens")):  # fmt: skip
        assert types[column] == "bigint", column
    assert types[("messages", "search_vector")] == "tsvector"
    assert "gin (search_vector)" in index
    plain = create_engine(modelled)
    SQLModel.metadata.create_all(plain)
    plain.dispose()
    assert schema(migrated) == schema(modelled)


def test_upgrade_from_the_first_schema_keeps_data_and_counts_on(blank, cli, monkeypatch):
    url = blank()
    old = Store(url)
    now = datetime(2026, 11, 20, 10, 7, tzinfo=UTC)
    with old.engine.begin() as conn:
        migrations.apply(conn, set(), upto="0001_initial")
        conn.execute(
            text(
                "INSERT INTO agents (id, name, name_key, description, system_prompt, model, provider, status, "
                "created_at, updated_at, stat_sessions, stat_messages, stat_input_tokens, stat_output_tokens, "
                "stat_cost_nd, stat_response_ms, stat_responses, channels, skills) VALUES (1, 'Old', 'old', '', '', "
                "'gpt-4o', 'openai', 'active', :now, :now, 1, 1, 10, 5, 75, 0, 0, '[]', '[]')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO sessions (id, agent_id, title, channel, started_at, last_message_at, message_count, "
                "input_tokens, output_tokens, cost_nd, unpriced_calls) VALUES (1, 1, 'pool', 'cli', :now, :now, 1, "
                "10, 5, 75, 0)"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO messages (id, agent_id, session_id, channel, role, content, timestamp, interrupted, "
                "attachments, skills_used) VALUES (1, 1, 1, 'cli', 'user', 'a connection pool', :now, false, "
                "'[]', '[]')"
            ),
            {"now": now},
        )
        conn.execute(
            text(
                "INSERT INTO costs (id, agent_id, agent_name, session_id, model, provider, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, total_tokens, total_cost_nd, timestamp) "
                "VALUES (1, 1, 'Old', 1, 'gpt-4o', 'openai', 10, 5, 0, 0, 15, 75, :now)"
            ),
            {"now": now},
        )
        # rows written with their ids given leave the sequences behind, as an old import could
        conn.execute(text("SELECT setval('agents_id_seq', 1)"))
    old.dispose()
    monkeypatch.setenv("AGENTIK_DB", url)
    assert cli("agents", "create", "new", "--model", "gpt-4o").stdout.strip() == "2"
    assert cli.json("db", "status")["schema"] == MIGRATION_NAMES[-1]
    assert [r["message_id"] for r in cli.json("sessions", "search", "pool")] == [1]
    assert {r["agent"]: r["cost"] for r in cli.json("costs", "by-agent")} == {"Old": 7.5e-08}
    with connected(url) as conn:
        start = conn.execute(text("SELECT start FROM cost_buckets")).scalar()
    assert start == datetime(2026, 11, 20, 10, 0, tzinfo=UTC)  # the quarter hour of 10:07 UTC


def test_db_status_never_migrates(blank, cli, monkeypatch):
    url = blank()
    monkeypatch.setenv("AGENTIK_DB", url.replace("postgres@", "postgres:hunter2@"))
    data = cli.json("db", "status")
    assert data["schema"] is None and data["pending"] == list(MIGRATION_NAMES)
    assert data["dialect"] == "postgresql" and "hunter2" not in data["url"] and ":***@" in data["url"]
    with connected(url) as conn:
        assert inspect(conn).get_table_names() == []
    cli("agents", "create", "helper", "--model", "gpt-4o")
    data = cli.json("db", "status")
    assert data["schema"] == MIGRATION_NAMES[-1] and data["pending"] == []
    assert data["rows"] == {"agents": 1, "sessions": 0, "messages": 0, "costs": 0}


def test_another_programs_database_is_left_alone(blank, cli, monkeypatch):
    url = blank()
    with connected(url, begin=True) as conn:
        conn.execute(text("CREATE TABLE notes (id serial PRIMARY KEY, body text)"))
    monkeypatch.setenv("AGENTIK_DB", url)
    result = cli("agents", "list", code=2)
    assert "not agentik's" in result.stderr and "notes" in result.stderr
    with connected(url) as conn:
        assert inspect(conn).get_table_names() == ["notes"]


def test_errors_name_the_server_and_never_the_password(cli, blank, tmp_path):
    nowhere = f"postgresql+psycopg://me:hunter2@/agentik?host={tmp_path}&port=5999"
    result = cli("--db", nowhere, "agents", "list", code=1)
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("agentik: error: cannot reach the database server at postgresql+psycopg://me:***@")
    # libpq's lines stay sentences: "...: No such file or directory. Is the server running locally ...?"
    assert re.search(r"No such file or directory\. Is the server running", lines[0]), lines[0]
    assert lines[1].startswith("hint: ") and len(lines) == 2
    assert "hunter2" not in result.stderr and "Traceback" not in result.stderr
    missing = pgserver.url("no_such_database").replace("postgres@", "postgres:hunter2@")
    result = cli("--db", missing, "agents", "list", code=2)
    assert "no_such_database" in result.stderr and "does not exist" in result.stderr
    assert "hunter2" not in result.stderr and len(result.stderr.strip().splitlines()) == 2


def test_two_processes_migrate_a_blank_database_at_once(blank):
    url = blank()
    code = f"from agentik_cli.store.engine import Store; Store({url!r}).migrate()"
    procs = [subprocess.Popen([sys.executable, "-c", code], env=base_env(), stderr=subprocess.PIPE) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    with connected(url) as conn:
        assert migrations.applied_names(conn) == list(MIGRATION_NAMES)


def test_completion_reads_names_and_never_migrates(cli, blank, agentik_home):
    def complete(url: str) -> list[str]:
        env = base_env(agentik_home, AGENTIK_DB=url, _AGENTIK_COMPLETE="complete_bash",
                       COMP_WORDS="agentik\nchat\n", COMP_CWORD="2")  # fmt: skip
        out = subprocess.run([sys.executable, "-m", "agentik_cli"], env=env, capture_output=True, text=True, timeout=60)
        return [line for line in out.stdout.split("\n") if line]

    cli("agents", "create", "helper", "--model", "gpt-4o")
    cli("agents", "create", "My Agent", "--model", "gpt-4o")
    assert complete(os.environ["AGENTIK_DB"]) == ["helper", "My Agent"]
    url = blank()
    assert complete(url) == []
    with connected(url) as conn:
        assert inspect(conn).get_table_names() == []


# ---- db copy ----


def _figures(cli, db: str) -> dict:
    summary = cli.json("--db", db, "costs", "summary")
    status = cli.json("--db", db, "db", "status")
    return {
        "rows": status["rows"],
        "calls": summary["calls"],
        "total": summary["total"],
        "by_agent": sorted((r["agent"], r["calls"], r["cost"]) for r in cli.json("--db", db, "costs", "by-agent")),
        "history": cli.json("--db", db, "costs", "history", "--by", "month", "--since", "2025-01-01"),
        "sessions": sorted((s["id"], s["messages"]) for s in cli.json("--db", db, "sessions", "list")),
    }


def _seed(cli, tmp_path: Path, db: str, first: int, count: int) -> None:
    lines = [
        json.dumps(
            {
                "model": "gpt-4o",
                "provider": "openai",
                "input_tokens": i,
                "output_tokens": 2 * i,
                "agent": "helper",
                "at": f"2026-0{1 + i % 9}-1{i % 9}T0{i % 9}:{i % 60:02d}:00Z",
            }
        )  # fmt: skip
        for i in range(first, first + count)
    ]
    path = tmp_path / f"usage{first}.jsonl"
    path.write_text("\n".join(lines) + "\n")
    cli("--db", db, "costs", "import", str(path))


def test_copy_sqlite_to_postgres_and_back(cli, fake, tmp_path, blank):
    local = str(tmp_path / "local.db")
    cli("--db", local, "agents", "create", "helper", "--model", "gpt-4o-mini")
    cli("--db", local, "agents", "create", "gone", "--model", "gpt-4o-mini")
    fake.add(Reply(text="first answer"), Reply(text="second answer"), Reply(text="from gone"))
    cli("--db", local, "chat", "helper", "-m", "first question")
    cli("--db", local, "chat", "helper", "-c", "-m", "second question")
    cli("--db", local, "chat", "gone", "-m", "bye")
    cli("--db", local, "agents", "default", "helper")
    cli("--db", local, "agents", "remove", "gone", "--yes")  # its cost row keeps its id
    _seed(cli, tmp_path, local, 1, 500)
    team = blank()
    data = cli.json("--db", local, "db", "copy", "--to", team)
    assert data["copied"] == {"agents": 1, "sessions": 1, "messages": 4, "costs": 503, "tool_calls": 0}
    assert data["check"]["equal"] and data["check"]["totals_equal_ledger"]
    assert _figures(cli, team) == _figures(cli, local)
    assert [m["content"] for m in cli.json("--db", team, "sessions", "show", "1")["messages"]][-1] == "second answer"
    assert sorted(r["message_id"] for r in cli.json("--db", team, "sessions", "search", "second")) == [3, 4]

    # again: nothing twice; then only what was added since
    again = cli.json("--db", local, "db", "copy", "--to", team, "--yes")
    assert again["copied"] == {"agents": 0, "sessions": 0, "messages": 0, "costs": 0, "tool_calls": 0}
    fake.add(Reply(text="third answer"))
    cli("--db", local, "chat", "helper", "-c", "-m", "third question")
    _seed(cli, tmp_path, local, 1000, 20)
    later = cli.json("--db", local, "db", "copy", "--to", team, "--yes")
    assert later["copied"] == {"agents": 0, "sessions": 0, "messages": 2, "costs": 21, "tool_calls": 0}
    assert _figures(cli, team) == _figures(cli, local)

    # and back, into a new SQLite file
    back = str(tmp_path / "back.db")
    cli("--db", team, "db", "copy", "--to", back)
    assert _figures(cli, back) == _figures(cli, team)
    # a new row on the team server takes an id above every copied one
    assert cli.json("--db", team, "chat", "helper", "-m", "new on the server")["message_id"] == 10  # 9 and 10


def test_copy_into_a_store_that_holds_data_moves_ids_and_keeps_references(cli, fake, tmp_path, agentik_home):
    team = os.environ["AGENTIK_DB"]  # this test's database, already in use by the team
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    cli("agents", "create", "theirs", "--model", "gpt-4o-mini")
    fake.add(Reply(text="team answer"))
    cli("chat", "theirs", "-m", "team question")
    local = str(tmp_path / "local.db")
    cli("--db", local, "agents", "create", "mine", "--model", "gpt-4o-mini")
    cli("--db", local, "agents", "create", "helper", "--model", "gpt-4o-mini")
    fake.add(Reply(text="mine answer"), Reply(text="helper answer"))
    cli("--db", local, "chat", "mine", "-m", "mine question")
    cli("--db", local, "chat", "helper", "-m", "helper question")
    before = _figures(cli, team)
    refused = cli("--db", local, "db", "copy", "--to", team, code=2)  # no terminal to ask on
    assert "already holds data" in refused.stderr and "--yes" in refused.stderr
    assert _figures(cli, team) == before
    cli("--db", local, "db", "copy", "--to", team, "--yes")
    after = _figures(cli, team)
    assert after["rows"]["sessions"] == before["rows"]["sessions"] + 2
    assert after["calls"] == before["calls"] + 2
    agents = {a["name"]: a for a in cli.json("agents", "list")}
    assert set(agents) == {"helper", "theirs", "mine"}  # the local helper is the team's helper
    assert agents["helper"]["id"] == 1 and agents["mine"]["id"] == 3
    shown = {s["agent"]: cli.json("sessions", "show", str(s["id"])) for s in cli.json("sessions", "list")}
    assert [m["content"] for m in shown["mine"]["messages"]] == ["mine question", "mine answer"]
    assert [m["content"] for m in shown["helper"]["messages"]] == ["helper question", "helper answer"]
    assert cli.json("agents", "stats", "mine")["messages"] == 2
