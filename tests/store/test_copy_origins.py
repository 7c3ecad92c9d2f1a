"""`db copy` knows where each row came from (issue 21): round trips and chains of copies never
double a row, a row the target removed or forgot is neither sent again nor blocks later copies,
redaction never brings a secret back, budgets and webhook endpoints go too, a price conflict is
reported and settled by --prefer, and rows copied before origins existed get theirs.

T is the test's own store (SQLite, or the test's PostgreSQL database); L, L2 and L3 are SQLite files."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from tests.conftest import db_rows
from tests.fakeprovider import Reply

TABLES = ("agents", "sessions", "messages", "costs", "tool_calls")


def _here(home: Path) -> str:
    """The test's own store, as a --db value."""
    home.mkdir(parents=True, exist_ok=True)
    return os.environ.get("AGENTIK_DB") or str(home / "agentik.db")


def _copy(cli, source: str, target: str, *args: str) -> dict:
    return cli.json("--db", source, "db", "copy", "--to", target, "--yes", *args)


def _held(cli, db: str) -> dict:
    """What a store holds, as its reports say."""
    status = cli.json("--db", db, "db", "status")["rows"]
    summary = cli.json("--db", db, "costs", "summary")
    return {"rows": status, "total": summary["total"], "calls": sum(m["calls"] for m in summary["models"])}


def _local(cli, fake, tmp_path: Path, name: str = "local.db", chats: int = 3, imported: int = 7) -> str:
    """A local store with `chats` sessions of one question and answer each and `imported` more cost
    rows: chats + imported cost rows."""
    db = str(tmp_path / name)
    cli("--db", db, "agents", "create", "helper", "--model", "gpt-4o-mini")
    for i in range(chats):
        fake.add(Reply(text=f"answer {i}"))
        cli("--db", db, "chat", "helper", "-m", f"question {i}")
    lines = [
        json.dumps(
            {
                "model": "gpt-4o",
                "provider": "openai",
                "input_tokens": 1000 + i,
                "output_tokens": 20 * i,
                "agent": "helper",
                "at": f"2026-01-1{i % 9}T10:00:00Z",
            }
        )  # fmt: skip
        for i in range(imported)
    ]
    usage = tmp_path / f"{name}.jsonl"
    usage.write_text("\n".join(lines) + "\n")
    if imported:
        cli("--db", db, "costs", "import", str(usage))
    return db


def _skipped(data: dict, reason: str) -> dict:
    return {t: n for t, n in data["skipped"][reason].items() if n}


def test_a_round_trip_never_doubles_a_row(cli, fake, tmp_path, agentik_home):
    local = _local(cli, fake, tmp_path)
    team = _here(agentik_home)
    before = _held(cli, local)
    assert before["rows"]["costs"] == 10 and before["rows"]["sessions"] == 3
    first = _copy(cli, local, team)
    assert first["copied"]["costs"] == 10 and first["check"]["target"]["costs"] == 10
    assert _held(cli, team) == before
    other = str(tmp_path / "other.db")
    _copy(cli, team, other)
    back = _copy(cli, other, team)
    # nothing new reached the team store: every row was already there, by the first copy
    assert back["copied"] == dict.fromkeys(TABLES, 0)
    assert _skipped(back, "already_there") == {"agents": 1, "sessions": 3, "messages": 6, "costs": 10}
    assert back["check"]["target"]["costs"] == 0  # it compared the rows it wrote: none
    assert _held(cli, team) == before
    home = _copy(cli, team, local)
    assert home["copied"] == dict.fromkeys(TABLES, 0)
    assert _skipped(home, "from_target") == {"agents": 1, "sessions": 3, "messages": 6, "costs": 10}
    assert _held(cli, local) == before
    # a chain back to where the rows began: A -> B -> C -> A
    third = str(tmp_path / "third.db")
    _copy(cli, other, third)
    _copy(cli, third, local)
    assert _held(cli, local) == before
    # and what is new anywhere goes everywhere, once
    fake.add(Reply(text="made in the other store"))
    cli("--db", other, "chat", "helper", "-m", "new question", "--session", "1")
    added = _copy(cli, other, team)
    assert {t: n for t, n in added["copied"].items() if n} == {"messages": 2, "costs": 1}
    assert _held(cli, team)["rows"] == {**before["rows"], "messages": 8, "costs": 11}
    _copy(cli, team, local)
    _copy(cli, other, local)
    assert _held(cli, local) == _held(cli, team) == _held(cli, other)
    shown = cli.json("--db", local, "sessions", "show", "1")
    assert [m["content"] for m in shown["messages"]][-2:] == ["new question", "made in the other store"]
    text = cli("--db", other, "db", "copy", "--to", team, "--yes")
    assert "checked: nothing was written" in text.stderr


def test_a_row_the_target_forgot_or_removed_does_not_come_back_nor_block_copies(cli, fake, tmp_path, agentik_home):
    local = _local(cli, fake, tmp_path, chats=3, imported=0)
    team = _here(agentik_home)
    _copy(cli, local, team)
    sessions = sorted(s["id"] for s in cli.json("--db", team, "sessions", "list"))
    first = cli.json("--db", team, "sessions", "show", str(sessions[0]))["messages"]
    cli("--db", team, "sessions", "forget", str(first[0]["id"]), "--yes")  # the question and its answer
    cli("--db", team, "sessions", "remove", str(sessions[1]), "--yes")
    held = _held(cli, team)
    assert held["rows"]["messages"] == 2 and held["rows"]["sessions"] == 2
    # the same source again: nothing to send, and no "short" check
    again = _copy(cli, local, team)
    assert again["copied"] == dict.fromkeys(TABLES, 0)
    # by another path: the forgotten and removed rows are skipped, and said so
    other = str(tmp_path / "other.db")
    _copy(cli, local, other)
    fake.add(Reply(text="later answer"))
    cli("--db", other, "chat", "helper", "-m", "later question")
    via = _copy(cli, other, team)
    assert _skipped(via, "removed_in_target") == {"sessions": 1, "messages": 4}
    assert {t: n for t, n in via["copied"].items() if n} == {"sessions": 1, "messages": 2, "costs": 1}
    texts = [m["content"] for s in cli.json("--db", team, "sessions", "list")
             for m in cli.json("--db", team, "sessions", "show", str(s["id"]))["messages"]]  # fmt: skip
    assert "question 0" not in texts and "question 1" not in texts and "later answer" in texts
    shown = cli("--db", other, "db", "copy", "--to", team, "--yes")
    assert shown.exit_code == 0
    # an agent removed in the target: its new sessions are not sent, its spend is (the ledger keeps it)
    cli("--db", team, "agents", "remove", "helper", "--yes")
    fake.add(Reply(text="after the agent went"))
    cli("--db", local, "chat", "helper", "-m", "one more")
    after = _copy(cli, local, team)
    assert {t: n for t, n in after["copied"].items() if n} == {"costs": 1}
    assert _skipped(after, "removed_in_target") == {"sessions": 1, "messages": 2}
    assert cli.json("--db", team, "agents", "list") == []
    by_agent = cli.json("--db", team, "costs", "by-agent")
    assert [(r["agent"], r["calls"]) for r in by_agent] == [("helper", 5)]
    text = cli("--db", local, "db", "copy", "--to", str(tmp_path / "x.db"), "--yes").stderr
    assert "skipped" not in text
    fake.add(Reply(text="x"))
    cli("--db", other, "chat", "helper", "-m", "again")
    text = cli("--db", other, "db", "copy", "--to", team, "--yes").stderr
    assert "removed or forgotten in the target" in text


def test_redaction_never_brings_the_secret_back(cli, fake, tmp_path, agentik_home):
    secret = "sk-live-SECRET-4242"
    local = str(tmp_path / "local.db")
    cli("--db", local, "agents", "create", "helper", "--model", "gpt-4o-mini")
    fake.add(Reply(text="noted"))
    cli("--db", local, "chat", "helper", "-m", f"my key is {secret}")
    team = _here(agentik_home)
    _copy(cli, local, team)
    # redacted where it was written: the copy on the team store does not bring it back
    cli("--db", local, "sessions", "redact", secret, "--all", "--yes")
    _copy(cli, team, local)
    with sqlite3.connect(local) as db:
        assert db.execute("SELECT count(*) FROM messages WHERE content LIKE ?", (f"%{secret}%",)).fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (2,)
    # redacted in the team store: another path from the source that still holds it does not either
    other = str(tmp_path / "other.db")
    _copy(cli, team, other)  # the other store has it from the team store, the secret in it
    cli("--db", team, "sessions", "redact", secret, "--all", "--yes")
    data = _copy(cli, other, team)
    assert data["copied"]["messages"] == 0 and _skipped(data, "already_there")["messages"] == 2
    assert db_rows(agentik_home, "SELECT count(*) FROM messages WHERE content LIKE ?", (f"%{secret}%",)) == [(0,)]


def test_budgets_and_webhook_endpoints_go_to_the_targets_agents_once(cli, fake, tmp_path, agentik_home):
    team = _here(agentik_home)
    cli("agents", "create", "theirs", "--model", "gpt-4o-mini")  # the team's agent 1
    local = str(tmp_path / "local.db")
    cli("--db", local, "agents", "create", "helper", "--model", "gpt-4o-mini")  # local agent 1
    cli("--db", local, "budgets", "set", "--agent", "helper", "--daily", "5")
    cli("--db", local, "budgets", "set", "--monthly", "50")
    hook = cli.json("--db", local, "webhooks", "add", "http://127.0.0.1:9/hook", "--agent", "helper",
                    "--allow-internal")  # fmt: skip
    data = _copy(cli, local, team)
    assert (data["budgets"], data["webhook_endpoints"]) == (2, 1)
    text = cli("--db", local, "db", "copy", "--to", str(tmp_path / "fresh.db"), "--yes").stderr
    assert "1 webhook endpoints with their signing secrets" in text
    budgets = sorted((b["scope"], b["period"], b["limit"]) for b in cli.json("budgets", "list"))
    assert budgets == [("all", "month", 50.0), ("helper", "day", 5.0)]
    helper = cli.json("agents", "show", "helper")["id"]
    assert helper == 2
    assert [(h["url"], h["agent"]) for h in cli.json("webhooks", "list")] == [("http://127.0.0.1:9/hook", "helper")]
    stored = db_rows(agentik_home, "SELECT agent_id, secret FROM webhook_endpoints")
    assert [(int(a), s) for a, s in stored] == [(helper, hook["secret"])]
    # again, and back: nothing twice
    again = _copy(cli, local, team)
    assert (again["budgets"], again["webhook_endpoints"]) == (0, 0)
    back = _copy(cli, team, local)
    assert back["webhook_endpoints"] == 0 and back["budgets"] == 0
    assert len(cli.json("--db", local, "webhooks", "list")) == 1 and len(cli.json("webhooks", "list")) == 1
    assert len(cli.json("--db", local, "budgets", "list")) == 2 and len(cli.json("budgets", "list")) == 2


def test_a_price_conflict_is_reported_and_prefer_settles_it(cli, tmp_path, agentik_home):
    team = _here(agentik_home)
    local = str(tmp_path / "local.db")
    cli("--db", local, "prices", "set", "my-model", "--provider", "openai", "--input", "1", "--output", "2")
    cli("--db", local, "prices", "set", "only-mine", "--provider", "openai", "--input", "3", "--output", "4")
    cli("prices", "set", "my-model", "--provider", "openai", "--input", "5", "--output", "6")
    data = _copy(cli, local, team)
    assert data["prefer"] == "target" and data["price_overrides"] == 1  # only-mine
    assert data["price_conflicts"] == [
        {"provider": "openai", "model": "my-model", "kept": "target",
         "source": {"input": 1.0, "output": 2.0, "cache_read": None, "cache_write": None},
         "target": {"input": 5.0, "output": 6.0, "cache_read": None, "cache_write": None}}
    ]  # fmt: skip
    assert cli.json("prices", "show", "my-model", "--provider", "openai")["input"] == 5.0
    text = cli("--db", local, "db", "copy", "--to", team, "--yes").stderr
    assert "price conflict for my-model (openai): kept the target's $5.0/$6.0" in text
    assert "--prefer source" in text
    data = _copy(cli, local, team, "--prefer", "source")
    assert data["price_conflicts"][0]["kept"] == "source"
    assert cli.json("prices", "show", "my-model", "--provider", "openai")["input"] == 1.0
    again = _copy(cli, local, team, "--prefer", "source")
    assert again["price_conflicts"] == [] and again["price_overrides"] == 0
    bad = cli("--db", local, "db", "copy", "--to", team, "--yes", "--prefer", "newest", code=2)
    assert "--prefer" in bad.stderr


def test_rows_copied_before_origins_existed_get_theirs(cli, fake, tmp_path, agentik_home):
    """A target an older agentik copied into: the upgrade gives the copied rows their origin from
    the copy state it kept, so a copy back does not double them."""
    from agentik_cli.store import migrations
    from agentik_cli.store.engine import Store

    local = _local(cli, fake, tmp_path, chats=2, imported=3)
    cli("--db", local, "db", "copy", "--to", str(tmp_path / "warm.db"))  # gives the local store its id
    with sqlite3.connect(local) as db:
        source_id = db.execute("SELECT value FROM settings WHERE key = 'store_id'").fetchone()[0]
    old = tmp_path / "old-team.db"
    store = Store(f"sqlite:///{old}")
    with store.engine.connect() as conn, conn.begin():
        migrations.apply(conn, set(), upto="0011_webhook_internal")
    store.dispose()
    # what an agentik before 0012_origins left: the rows, under ids moved by 100, and its state
    with sqlite3.connect(local) as src, sqlite3.connect(old) as dst:
        for table in TABLES:
            known = {r[1] for r in dst.execute(f"PRAGMA table_info({table})")}  # the old schema's columns
            columns = [r[1] for r in src.execute(f"PRAGMA table_info({table})") if r[1] in known]
            moved = {"id", "session_id", "conversation_id", "message_id"} if table != "agents" else set()
            rows = [
                tuple(v + 100 if c in moved and v is not None else v for c, v in zip(columns, row, strict=True))
                for row in src.execute(f"SELECT {', '.join(columns)} FROM {table}")
            ]
            dst.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                            rows)  # fmt: skip
        copied = {t: src.execute(f"SELECT max(id) FROM {t}").fetchone()[0] or 0 for t in TABLES}
        state = {"copied": copied, "ranges": {t: [[1, 100]] for t in TABLES[1:]}, "agents": {"1": 1}}
        dst.execute("INSERT INTO settings (key, value) VALUES (?, ?)", (f"copy:{source_id}", json.dumps(state)))
    cli("--db", str(old), "db", "upgrade")
    with sqlite3.connect(old) as dst:
        origins = dst.execute("SELECT id, origin_store, origin_id FROM costs ORDER BY id").fetchall()
    assert origins == [(i + 100, source_id, i) for i in range(1, 6)]
    back = _copy(cli, str(old), local)
    assert back["copied"] == dict.fromkeys(TABLES, 0)
    # (agents are the same agent by name; only rows written by a copy get an origin)
    assert _skipped(back, "from_target") == {"sessions": 2, "messages": 4, "costs": 5}
