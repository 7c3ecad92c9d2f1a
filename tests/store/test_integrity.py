"""Issue 8, the store: no paid reply lost (lock waits, the journal, the WAL), ids never reused, and
databases that are not this agentik's refused before anything is sent or written."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from agentik_cli.errors import StoreError
from agentik_cli.store import engine
from tests.conftest import base_env, db_execute, db_rows
from tests.fakeprovider import Reply


def agentik(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The real console entry (os._exit and all), in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "agentik_cli", *args],
        env=base_env(home, **env),
        capture_output=True,
        text=True,
        timeout=120,
    )


# ---- ids are never reused ----


def test_ids_of_removed_rows_are_never_handed_out_again(cli, agentik_home):
    cli("agents", "create", "first", "--model", "gpt-4o")
    cli(
        "costs",
        "record",
        "--model",
        "gpt-4o",
        "--provider",
        "openai",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "100",
        "--agent",
        "first",
    )
    cli("agents", "remove", "first", "--yes")
    second = cli("agents", "create", "second", "--model", "gpt-4o").stdout.strip()
    assert second == "2"
    by_agent = {row["agent"]: row for row in cli.json("costs", "by-agent")}
    # the removed agent's spend stays its own, under its name; the new agent has spent nothing
    assert set(by_agent) == {"first"} and by_agent["first"]["calls"] == 1
    assert cli.json("agents", "show", "second")["stats"]["total_cost"] == 0


def test_session_and_message_ids_are_never_reused(cli, fake, agentik_home):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    cli("chat", "gpt", "-m", "one")
    cli("chat", "gpt", "-m", "two")
    cli("sessions", "remove", "2", "--yes")
    third = cli.json("chat", "gpt", "-m", "three")
    assert third["session_id"] == 3
    assert third["message_id"] == 6
    costs = cli.json("costs", "list")
    assert sorted(row["id"] for row in costs) == [1, 2, 3]


def _store_at(path: Path, upto: str) -> engine.Store:
    from agentik_cli.store import migrations

    store = engine.Store(f"sqlite:///{path}")
    with store.engine.connect() as conn, conn.begin():
        migrations.apply(conn, set(), upto=upto)
    return store


@pytest.mark.sqlite_only(reason="a SQLite file from before 0004 (tests/store/test_postgres.py upgrades on PostgreSQL)")
def test_upgrade_keeps_everything_and_counts_past_every_id_still_mentioned(cli, agentik_home):
    """A store from before 0004: agent 2 was removed (its cost rows lost their agent id), and the
    newest session went. The upgrade gives the rows their agent back and starts every counter above
    every id the store still mentions."""
    path = agentik_home / "old.db"
    agentik_home.mkdir(parents=True, exist_ok=True)
    _store_at(path, "0003_reports").dispose()
    now = "2026-11-20 10:00:00.000000"
    with sqlite3.connect(path) as db:
        db.execute(
            "INSERT INTO agents (id, name, name_key, description, system_prompt, model, provider, status, "
            "created_at, updated_at, stat_sessions, stat_messages, stat_input_tokens, stat_output_tokens, "
            "stat_cost_nd, stat_response_ms, stat_responses, channels, skills) VALUES (1, 'Keep', 'keep', '', '', "
            "'gpt-4o', 'openai', 'active', ?, ?, 1, 2, 10, 5, 75, 0, 0, '[]', '[]')",
            (now, now),
        )
        db.execute(
            "INSERT INTO sessions (id, agent_id, title, channel, started_at, last_message_at, message_count, "
            "input_tokens, output_tokens, cost_nd, unpriced_calls) VALUES (1, 1, 'hello pool', 'cli', ?, ?, 2, 10, 5, "
            "75, 0)",
            (now, now),
        )
        for mid, role, text in ((1, "user", "hello pool"), (2, "assistant", "a connection pool")):
            db.execute(
                "INSERT INTO messages (id, agent_id, session_id, channel, role, content, timestamp, interrupted, "
                "attachments, skills_used) VALUES (?, 1, 1, 'cli', ?, ?, ?, 0, '[]', '[]')",
                (mid, role, text, now),
            )
        for cid, agent_id, name in ((1, 1, "Keep"), (2, None, "Gone")):
            db.execute(
                "INSERT INTO costs (id, agent_id, agent_name, session_id, conversation_id, model, provider, "
                "input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, total_tokens, total_cost_nd, "
                "timestamp) VALUES (?, ?, ?, NULL, NULL, 'gpt-4o', 'openai', 10, 5, 0, 0, 15, 75, ?)",
                (cid, agent_id, name, now),
            )
            db.execute(
                "INSERT INTO cost_totals (agent_key, model, provider, agent_name, calls, input_tokens, "
                "output_tokens, cache_read_tokens, cache_write_tokens, cost_nd, unpriced_calls) "
                "VALUES (?, 'gpt-4o', 'openai', ?, 1, 10, 5, 0, 0, 75, 0)",
                (cid, name),
            )
        # the ledger still mentions session 7 and message 40 of the removed agent
        db.execute("UPDATE costs SET session_id = NULL, conversation_id = NULL")
    cli("--db", str(path), "agents", "create", "new", "--model", "gpt-4o")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT id FROM agents WHERE name = 'new'").fetchone() == (3,)
        assert db.execute("SELECT agent_id FROM costs WHERE id = 2").fetchone() == (2,)
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    # full-text search survived the rebuild of messages
    assert sorted(r["message_id"] for r in cli.json("--db", str(path), "sessions", "search", "pool")) == [1, 2]
    costs = {row["agent"]: row["cost"] for row in cli.json("--db", str(path), "costs", "by-agent")}
    assert costs == {"Keep": 7.5e-08, "Gone": 7.5e-08}
    assert cli.json("--db", str(path), "sessions", "show", "1")["messages"][1]["content"] == "a connection pool"


@pytest.mark.sqlite_only(reason="SQLite's AUTOINCREMENT")
def test_migrated_tables_never_reuse_ids(tmp_path):
    store = engine.Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.migrate()
    with sqlite3.connect(tmp_path / "a.db") as db:
        tables = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    for table in ("agents", "sessions", "messages", "costs"):
        assert "AUTOINCREMENT" in tables[table], table


# ---- databases that are not this agentik's ----


def test_a_database_from_a_newer_agentik_is_refused_before_anything_is_sent(cli, fake, agentik_home):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    db_execute(
        agentik_home,
        ("INSERT INTO agentik_migrations (name, applied_at) VALUES ('9999_from_the_future', '2027-01-01')", ()),
    )
    engine.reset_stores()
    result = cli("chat", "gpt", "-m", "hello", code=2)
    assert "newer agentik" in result.stderr and "9999_from_the_future" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 2  # the error and its hint
    assert fake.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]


@pytest.mark.sqlite_only(reason="another program's SQLite file (tests/store/test_postgres.py has the server's case)")
def test_another_programs_database_is_left_alone(cli, tmp_path):
    path = tmp_path / "notes.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        db.execute("INSERT INTO notes (body) VALUES ('mine')")
    before = path.read_bytes()
    result = cli("--db", str(path), "agents", "list", code=2)
    assert "not agentik's" in result.stderr and "notes" in result.stderr
    assert path.read_bytes() == before
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["notes"]


@pytest.mark.sqlite_only(reason="SQLite's :memory:")
def test_memory_is_sqlites_in_memory_database(cli, tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    cli("--db", ":memory:", "agents", "create", "brief", "--model", "gpt-4o")
    assert [a["name"] for a in cli.json("--db", ":memory:", "agents", "list")] == ["brief"]
    assert list(here.iterdir()) == []


@pytest.mark.sqlite_only(reason="names its own URL; the same on both runs")
def test_postgres_without_the_extra_names_it(tmp_path):
    code = (
        "import sys; sys.modules['psycopg'] = None; sys.argv = ['agentik', '--db', "
        "'postgresql+psycopg://me@localhost/agentik', 'agents', 'list']; "
        "from agentik_cli.cli.app import main; main()"
    )
    result = subprocess.run([sys.executable, "-c", code], env=base_env(tmp_path), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr
    assert "agentik[postgres]" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.sqlite_only(reason="names its own URL; the same on both runs")
def test_an_engine_agentik_does_not_speak_is_a_usage_error(cli):
    result = cli("--db", "mysql://me@localhost/agentik", "agents", "list", code=2)
    assert "mysql" in result.stderr


# ---- the main file stays current; backups ----


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="the SQLite file and its WAL")
def test_the_main_file_holds_the_data_after_commands_exit(agentik_home, tmp_path):
    assert agentik(agentik_home, "agents", "create", "helper", "--model", "gpt-4o").returncode == 0
    # two commands writing to a file that is already there (five were the same check three more
    # times, a second of process start-up each)
    for i in range(2):
        result = agentik(
            agentik_home,
            "costs",
            "record",
            "--model",
            "gpt-4o",
            "--provider",
            "openai",
            "--input-tokens",
            str(100 + i),
            "--output-tokens",
            "10",
            "--agent",
            "helper",
        )
        assert result.returncode == 0, result.stderr
    # a person's backup: the .db file alone, without its -wal
    copy = tmp_path / "copy.db"
    shutil.copyfile(agentik_home / "agentik.db", copy)
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM costs").fetchone() == (2,)
        assert db.execute("SELECT name FROM agents").fetchall() == [("helper",)]


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="db backup copies a SQLite file")
def test_backup_is_consistent_while_another_process_writes(cli, agentik_home, tmp_path):
    cli("agents", "create", "helper", "--model", "gpt-4o")
    lines = "".join(
        json.dumps({"model": "gpt-4o", "provider": "openai", "input_tokens": i, "output_tokens": 1}) + "\n"
        for i in range(1, 60001)
    )
    (tmp_path / "big.jsonl").write_text(lines)
    writer = subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", "costs", "import", str(tmp_path / "big.jsonl")],
        env=base_env(agentik_home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    backups = []
    for n in range(4):
        result = cli("db", "backup", str(tmp_path / f"b{n}.db"), "--json")
        backups.append(json.loads(result.stdout))
    assert writer.wait(timeout=120) == 0
    for data in backups:
        with sqlite3.connect(data["path"]) as db:
            assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            rows = db.execute("SELECT count(*) FROM costs").fetchone()[0]
            # all of the import or none of it, and the aggregates agree with the rows
            assert rows in (0, 60000)
            assert db.execute("SELECT coalesce(sum(calls), 0) FROM cost_totals").fetchone() == (rows,)
        assert data["rows"]["costs"] == rows
        assert not Path(data["path"] + "-wal").exists()
    assert cli("db", "backup", backups[0]["path"], code=2).stderr.startswith("agentik: error:")
    cli("db", "backup", backups[0]["path"], "--force")


@pytest.mark.sqlite_only(reason="the SQLite file not created (tests/store/test_postgres.py has the server's case)")
def test_db_status_never_migrates_and_reports(cli, agentik_home):
    data = cli.json("db", "status")
    assert data["schema"] is None and data["pending"] == list(engine.MIGRATION_NAMES)
    assert not (agentik_home / "agentik.db").exists()
    cli("agents", "create", "helper", "--model", "gpt-4o")
    data = cli.json("db", "status")
    assert data == {
        "url": str(agentik_home / "agentik.db"),
        "dialect": "sqlite",
        "schema": engine.MIGRATION_NAMES[-1],
        "pending": [],
        "rows": {"agents": 1, "sessions": 0, "messages": 0, "costs": 0},
    }


# ---- a paid reply is never lost ----


def _hold_the_write_lock(path: Path, start: threading.Event, seconds: float) -> threading.Thread:
    def hold() -> None:
        start.wait(30)
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        time.sleep(seconds)
        db.execute("COMMIT")
        db.close()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="SQLite's database-wide write lock")
def test_a_reply_waits_for_a_writer_that_holds_the_lock_past_the_busy_timeout(cli, fake, agentik_home, monkeypatch):
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 200)
    engine.reset_stores()
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.default = Reply(text="a reply that arrives while another process writes", chunks=6, delay=0.1)
    locked = threading.Event()
    holder = _hold_the_write_lock(agentik_home / "agentik.db", locked, 1.5)
    watcher = threading.Thread(target=lambda: (_wait_for(lambda: fake.requests), locked.set()))
    watcher.start()
    result = cli("chat", "gpt", "-m", "hello")
    holder.join()
    watcher.join()
    assert "waiting for the database" in result.stderr
    assert db_rows(agentik_home, "SELECT content FROM messages WHERE role = 'assistant'") == [
        ("a reply that arrives while another process writes",)
    ]
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(1,)]


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="SQLite's database-wide write lock")
def test_every_write_waits_for_the_lock(cli, agentik_home, monkeypatch):
    """Not only a chat's: a cron job's `costs record` during a long import is not lost either."""
    monkeypatch.setattr(engine, "BUSY_TIMEOUT_MS", 100)
    engine.reset_stores()
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    locked = threading.Event()
    holder = _hold_the_write_lock(agentik_home / "agentik.db", locked, 1.0)
    locked.set()
    time.sleep(0.2)
    result = cli(
        "costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "5", "--output-tokens", "1"
    )
    holder.join()
    assert "waiting for the database" in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(1,)]


def _wait_for(condition, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_a_reply_the_database_cannot_take_is_kept_and_stored_by_the_next_command(cli, fake, agentik_home, monkeypatch):
    from agentik_cli.services import recording

    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.default = Reply(text="paid for", input_tokens=1000, output_tokens=100)
    real = recording._write

    def full_disk(session, record):
        raise StoreError("the database failed: database or disk is full")

    monkeypatch.setattr(recording, "_write", full_disk)
    result = cli("chat", "gpt", "-m", "hello", "--json")
    assert json.loads(result.stdout)["content"] == "paid for"
    assert "disk is full" in result.stderr and "next agentik command" in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]
    assert list((agentik_home / "unsaved").iterdir())

    monkeypatch.setattr(recording, "_write", real)
    engine.reset_stores()
    shown = cli.json("sessions", "show", "1")
    assert [m["content"] for m in shown["messages"]] == ["hello", "paid for"]
    assert shown["input_tokens"] == 1000 and shown["output_tokens"] == 100
    engine.reset_stores()
    cli("costs", "summary")  # a second command stores nothing twice
    assert db_rows(agentik_home, "SELECT count(*), sum(input_tokens) FROM costs") == [(1, 1000)]
    assert db_rows(agentik_home, "SELECT sum(calls) FROM cost_totals") == [(1,)]
    assert not any((agentik_home / "unsaved").iterdir())


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="SQLite's database-wide write lock")
def test_a_chat_during_a_long_import_stores_its_reply(fake, agentik_home):
    """The case that was found: the reply of a chat arrives while `costs import` holds the write
    lock for longer than the busy timeout (10 s).

    The overlap is made by construction, not by size (it was an import of two million rows, some
    45 s): the import reads its rows from a pipe this test keeps open, so its one transaction holds
    the lock for as long as the test wants; the reply's pieces after the first wait until the
    import holds it; and the import ends only once the chat has said it waits past the busy
    timeout (the notice comes when a whole busy timeout has run out)."""
    assert agentik(agentik_home, "agents", "create", "gpt", "--model", "gpt-4o-mini").returncode == 0
    line = json.dumps({"model": "gpt-4o", "provider": "openai", "input_tokens": 5, "output_tokens": 1}) + "\n"
    rows = 1500  # a batch of the import's (1,000 rows) written, and it waits inside its transaction for the next
    lock_taken = threading.Event()
    fake.default = Reply(text="streamed slowly " * 20, chunks=4, gate=lock_taken)
    env = base_env(agentik_home, OPENAI_BASE_URL=fake.url + "/v1", OPENAI_API_KEY="sk-openai-test-key-0123456789")

    def run(*args: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "agentik_cli", *args],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def locked() -> bool:
        db = sqlite3.connect(agentik_home / "agentik.db", timeout=0, isolation_level=None)
        try:
            db.execute("BEGIN IMMEDIATE")
            db.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            db.close()

    chat = run("chat", "gpt", "-m", "hello")
    chat.stdin.close()
    said: list[str] = []
    reader = threading.Thread(target=lambda: said.extend(chat.stderr), daemon=True)
    reader.start()
    try:
        _wait_for(lambda: fake.requests, timeout=60)  # the user's message is stored; the reply streams
        importer = run("costs", "import", "-", "--format", "jsonl")
        importer.stdin.write(line * rows)
        importer.stdin.flush()
        # the import's own long transaction, not a short write of its start (a journal replay): held
        # across two looks half a second apart
        _wait_for(lambda: locked() and not time.sleep(0.5) and locked(), timeout=60)
        assert chat.poll() is None  # the reply is still streaming when the import takes the lock
        lock_taken.set()
        # the reply has arrived, and its write has waited a whole busy timeout (or the chat gave up)
        _wait_for(lambda: any("waiting for the database" in s for s in said) or chat.poll() is not None, timeout=120)
        assert locked() and importer.poll() is None  # the import held the lock all along
        importer.stdin.close()
        assert importer.wait(timeout=120) == 0, importer.stderr.read()
        assert chat.wait(timeout=120) == 0, "".join(said)
        reader.join(timeout=10)
    finally:
        lock_taken.set()
    assert "waiting for the database" in "".join(said)
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(2,)]
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(rows + 1,)]


def test_a_journal_the_database_still_cannot_take_stays_and_commands_go_on(cli, fake, agentik_home, monkeypatch):
    from agentik_cli.services import recording

    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")

    def full_disk(session, record):
        raise StoreError("the database failed: database or disk is full")

    monkeypatch.setattr(recording, "_write", full_disk)
    cli("chat", "gpt", "-m", "hello")
    engine.reset_stores()
    listed = cli("agents", "list")  # a read still works, and says why the journal waits
    assert "gpt" in listed.stdout and "kept" in listed.stderr
    assert any((agentik_home / "unsaved").iterdir())


@pytest.mark.sqlite_only(reason="its own SQLite file")
def test_a_database_url_in_capitals_is_read(cli, tmp_path):
    cli("--db", f"SQLITE:///{tmp_path / 'caps.db'}", "agents", "create", "x", "--model", "gpt-4o")
    assert (tmp_path / "caps.db").exists()


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="SQLite's database-wide write lock")
def test_ctrl_c_ends_a_paid_replys_wait_for_the_lock_and_the_journal_keeps_it(fake, agentik_home):
    """A reply that waits for another process's write lock can be given up with Ctrl-C: the record
    goes to the journal (not lost, not waited for), and the next command stores it."""
    import signal
    import threading

    assert agentik(agentik_home, "agents", "create", "gpt", "--model", "gpt-4o-mini").returncode == 0
    fake.default = Reply(text="streamed slowly " * 10, chunks=10, delay=0.1)
    env = base_env(agentik_home, OPENAI_BASE_URL=fake.url + "/v1", OPENAI_API_KEY="sk-openai-test-key-0123456789")
    chat = subprocess.Popen(
        [sys.executable, "-m", "agentik_cli", "chat", "gpt", "-m", "hello"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    said: list[str] = []
    threading.Thread(target=lambda: said.extend(chat.stderr), daemon=True).start()
    _wait_for(lambda: fake.requests, timeout=60)  # the user's message is stored; the reply streams
    holder = sqlite3.connect(agentik_home / "agentik.db", timeout=30, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        _wait_for(lambda: any("waiting for the database" in line for line in said), timeout=60)
        chat.send_signal(signal.SIGINT)
        assert chat.wait(timeout=15) == 130
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert any("kept in" in line for line in said), said
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]
    later = agentik(agentik_home, "costs", "list", "--json")
    assert later.returncode == 0 and "stored 1 record" in later.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(1,)]
    assert db_rows(agentik_home, "SELECT role FROM messages ORDER BY id") == [("user",), ("assistant",)]
