"""`costs import --from llm`: llm's logs.db read (agentik_cli/sources/llm.py), on databases built with
llm's own schema: tests/sources/llm_schema_0_36.sql and llm_schema_m012.sql are llm's migrations
(simonw/llm f3f4f29, llm 0.36 on PyPI) dumped from sqlite_master. The rows are shaped as llm 0.36's
LogStore.log writes them (a thread, a turn, the turn's turn_search row) and as older versions wrote
`responses`; the token_details are what llm-anthropic, llm's OpenAI plugin and llm-gemini record."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agentik_cli.sources import llm
from agentik_cli.sources.base import Call, Read
from tests.conftest import db_rows

SCHEMAS = Path(__file__).parent
STARTED = "2025-06-02T10:00:00.000000+00:00"

# llm-anthropic's token_details: the usage less input/output_tokens; input_tokens leaves the cache out
ANTHROPIC_DETAILS = {
    "cache_creation_input_tokens": 400,
    "cache_read_input_tokens": 2000,
    "cache_creation": {"ephemeral_5m_input_tokens": 300, "ephemeral_1h_input_tokens": 100},
    "service_tier": "standard",
}


def make_db(path: Path, schema: str = "llm_schema_0_36.sql") -> Path:
    with sqlite3.connect(path) as db:
        db.executescript((SCHEMAS / schema).read_text())
    return path


def add_turn(
    path: Path,
    turn_id: str,
    thread: str,
    *,
    model: str = "gpt-4o-mini",
    resolved: str | None = None,
    prompt: str = "hello",
    reply: str = "hi there",
    tokens: tuple[int | None, int | None] = (10, 5),
    details: dict | None = None,
    duration_ms: int = 1500,
    at: str = STARTED,
    name: str = "hello",
) -> None:
    """A turn as LogStore.log writes it: its thread made once, its turn_search row derived."""
    with sqlite3.connect(path) as db:
        db.execute("INSERT OR IGNORE INTO threads (id, name, datetime_utc) VALUES (?, ?, ?)", (thread, name, at))
        db.execute(
            "INSERT OR REPLACE INTO turns (id, thread_id, model, resolved_model, input_tokens, output_tokens,"
            " token_details, duration_ms, datetime_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (turn_id, thread, model, resolved, *tokens, json.dumps(details) if details else None, duration_ms, at),
        )
        db.execute("INSERT INTO turn_search (turn_id, prompt, response) VALUES (?, ?, ?)", (turn_id, prompt, reply))


def add_response(
    path: Path,
    response_id: str,
    conversation: str | None,
    *,
    model: str = "gpt-4o-mini",
    prompt: str = "hello",
    reply: str = "hi there",
    tokens: tuple[int | None, int | None] | None = (10, 5),
    details: dict | None = None,
    at: str = "2024-12-01T09:00:00.123456",
    name: str = "hello",
) -> None:
    """A legacy response row, as llm before 0.32 wrote it (naive UTC times)."""
    with sqlite3.connect(path) as db:
        if conversation is not None:
            db.execute(
                "INSERT OR IGNORE INTO conversations (id, name, model) VALUES (?, ?, ?)", (conversation, name, model)
            )
        columns = "id, model, prompt, response, conversation_id, duration_ms, datetime_utc"
        values: tuple = (response_id, model, prompt, reply, conversation, 800, at)
        if tokens is not None:  # a database from before llm 0.19 has no token columns
            columns += ", input_tokens, output_tokens, token_details"
            values += (*tokens, json.dumps(details) if details else None)
        db.execute(f"INSERT INTO responses ({columns}) VALUES ({', '.join('?' * len(values))})", values)


def by_key(read: Read) -> dict[str, Call]:
    return {call.key: call for call in read.calls}


# ---- reading ----


def test_turns_anthropic_cache_fields_make_the_whole_prompt(tmp_path: Path) -> None:
    db = make_db(tmp_path / "logs.db")
    add_turn(
        db,
        "01jx0000000000000000000001",
        "01jx00000000000000000000t1",
        model="anthropic/claude-sonnet-4-0",
        resolved="claude-sonnet-4-20250514",
        prompt="Suggest a name for a pet pelican",
        reply="How about Percy?",
        tokens=(1000, 500),
        details=ANTHROPIC_DETAILS,
        name="Suggest a name for a pet pelican",
    )
    read = llm.read(db, {})
    assert read.failed is None and read.lines == 1 and read.unparsable == 0
    call = by_key(read)["01jx0000000000000000000001"]
    assert (call.model, call.provider, call.session) == (
        "claude-sonnet-4-20250514",
        "anthropic",
        "01jx00000000000000000000t1",
    )
    # the whole prompt: 1000 uncached + 2000 read + 400 written; the writes split 300 / 100 by lifetime
    assert (call.input_tokens, call.output_tokens, call.cache_read_tokens) == (3400, 500, 2000)
    assert (call.cache_write_5m_tokens, call.cache_write_1h_tokens) == (300, 100)
    assert call.text == "How about Percy?"
    # the reply ended duration_ms after the call started, when the prompt was said
    assert call.at == datetime(2025, 6, 2, 10, 0, 1, 500000, tzinfo=UTC)
    [said] = read.said
    assert (said.key, said.text, said.session) == (
        "prompt:01jx0000000000000000000001",
        "Suggest a name for a pet pelican",
        call.session,
    )
    assert said.at == datetime(2025, 6, 2, 10, 0, tzinfo=UTC)
    assert read.sessions[call.session].title == "Suggest a name for a pet pelican"
    assert read.mark == {"responses": 0, "turns": 1}


@pytest.mark.parametrize(
    ("details", "cached", "written"),
    [
        (
            {"prompt_tokens_details": {"cached_tokens": 600}, "completion_tokens_details": {"reasoning_tokens": 64}},
            600,
            0,
        ),
        ({"prompt_tokens_details": {"cached_tokens": 600, "cache_write_tokens": 150}}, 600, 150),
        ({"input_tokens_details": {"cached_tokens": 700}, "output_tokens_details": {"reasoning_tokens": 9}}, 700, 0),
        ({"cachedContentTokenCount": 512, "candidatesTokenCount": 160, "thoughtsTokenCount": 40}, 512, 0),
        (None, 0, 0),
    ],
    ids=["openai-chat", "openai-cache-write", "openai-responses", "gemini", "none"],
)
def test_responses_cache_already_in_the_prompt(tmp_path: Path, details: dict | None, cached: int, written: int) -> None:
    """OpenAI's and Gemini's prompt counts hold the cache: cached tokens are reads of it, not more."""
    db = make_db(tmp_path / "logs.db")
    add_response(db, "01jd0000000000000000000001", "01jd00000000000000000000c1", tokens=(1000, 200), details=details)
    [call] = llm.read(db, {}).calls
    assert (call.input_tokens, call.output_tokens) == (1000, 200)
    assert (call.cache_read_tokens, call.cache_write_5m_tokens, call.cache_write_1h_tokens) == (cached, written, 0)
    assert call.at == datetime(2024, 12, 1, 9, 0, 0, 923456, tzinfo=UTC)  # naive is UTC, plus 800 ms


@pytest.mark.parametrize(
    ("name", "model", "provider"),
    [
        ("anthropic/claude-3-5-haiku-latest", "claude-3-5-haiku-latest", "anthropic"),
        ("gpt-4o-mini", "gpt-4o-mini", "openai"),
        ("o3-mini", "o3-mini", "openai"),
        ("chatgpt-4o-latest", "chatgpt-4o-latest", "openai"),
        ("gemini/gemini-2.5-flash", "gemini-2.5-flash", "google"),
        ("llama3.2:latest", "llama3.2:latest", "llm"),
        ("mlx-community/Llama-3.2-3B-Instruct-4bit", "Llama-3.2-3B-Instruct-4bit", "llm"),
    ],
)
def test_provider_told_by_the_model_name(tmp_path: Path, name: str, model: str, provider: str) -> None:
    db = make_db(tmp_path / "logs.db")
    add_turn(db, "01jx0000000000000000000001", "t", model=name)
    [call] = llm.read(db, {}).calls
    assert (call.model, call.provider) == (model, provider)


def test_no_counts_is_a_call_with_none(tmp_path: Path) -> None:
    """A local model reports no usage: the call is kept, with 0 tokens (and no price: provider llm)."""
    db = make_db(tmp_path / "logs.db")
    add_turn(db, "01jx0000000000000000000001", "t", model="llama3.2", tokens=(None, None), reply="local reply")
    read = llm.read(db, {})
    [call] = read.calls
    assert (call.input_tokens, call.output_tokens, call.provider, call.text) == (0, 0, "llm", "local reply")
    assert call.usage_known is False
    assert read.unparsable == 0


def test_a_known_model_without_counts_is_unpriced_not_free(cli, tmp_path: Path) -> None:
    """llm before 0.19 logged no tokens: gpt-4o's call is unpriced, never $0."""
    db = make_db(tmp_path / "logs.db")
    add_turn(db, "01jx0000000000000000000001", "t", model="gpt-4o", tokens=(None, None), reply="a reply")
    summary = cli.json("costs", "import", "--from", "llm", str(db))
    assert (summary["imported"], summary["unpriced_calls"]) == (1, 1)
    [row] = cli.json("costs", "list")
    assert row["total_cost"] is None


def test_database_from_before_token_columns(tmp_path: Path) -> None:
    """llm before 0.19 (migrations up to m012): a responses table with no token columns is read."""
    db = make_db(tmp_path / "logs.db", "llm_schema_m012.sql")
    add_response(db, "01h00000000000000000000001", "01h000000000000000000000c1", tokens=None, name="Old chat")
    read = llm.read(db, {})
    assert read.failed is None
    [call] = read.calls
    assert (call.key, call.input_tokens, call.output_tokens) == ("01h00000000000000000000001", 0, 0)
    assert read.sessions["01h000000000000000000000c1"].title == "Old chat"
    assert read.mark == {"responses": 1}


def test_both_generations_one_key(tmp_path: Path) -> None:
    """An upgraded database: legacy responses and turns together; a call in both is read once, from turns."""
    db = make_db(tmp_path / "logs.db")
    add_response(db, "01h00000000000000000000001", "c1", reply="old only")
    add_response(db, "01jx0000000000000000000001", "t1", reply="dual-written", tokens=(10, 5))
    add_turn(db, "01jx0000000000000000000001", "t1", reply="the turn", tokens=(10, 6))
    read = llm.read(db, {})
    calls = by_key(read)
    assert set(calls) == {"01h00000000000000000000001", "01jx0000000000000000000001"}
    assert calls["01jx0000000000000000000001"].text == "the turn"
    assert calls["01jx0000000000000000000001"].output_tokens == 6
    assert read.lines == 3
    assert read.mark == {"responses": 2, "turns": 1}


def test_rows_after_the_mark(tmp_path: Path) -> None:
    db = make_db(tmp_path / "logs.db")
    add_turn(db, "01jx0000000000000000000001", "t1", prompt="first")
    add_response(db, "01h00000000000000000000001", "c1")
    first = llm.read(db, {})
    assert len(first.calls) == 2
    # a turn whose ULID sorts before the last one read but committed after it (it started earlier)
    add_turn(db, "01jx0000000000000000000000", "t1", prompt="long call")
    add_turn(db, "01jx0000000000000000000002", "t2", prompt="second")
    add_response(db, "01h00000000000000000000002", "c1")
    second = llm.read(db, first.mark)
    assert set(by_key(second)) == {
        "01jx0000000000000000000000",
        "01jx0000000000000000000002",
        "01h00000000000000000000002",
    }
    assert [said.text for said in second.said] == ["long call", "second", "hello"]
    assert second.lines == 3
    assert llm.read(db, second.mark).calls == []
    # a mark past the table's end (the file rebuilt): read from the start, the keys keep each call once
    assert len(llm.read(db, {"turns": 99, "responses": 99}).calls) == 5


@pytest.mark.parametrize("kind", ["text", "sqlite-other", "empty", "missing"])
def test_not_an_llm_database(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "logs.db"
    if kind == "text":
        path.write_text('{"type": "assistant"}\n' * 200)
    elif kind == "sqlite-other":
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
    elif kind == "empty":
        path.write_bytes(b"")
    read = llm.read(path, {})
    assert read.failed and read.calls == [] and read.said == []


def test_wal_database_written_meanwhile(tmp_path: Path) -> None:
    """Read read-only while llm holds a write transaction open on a WAL database: the committed rows
    are read, the uncommitted one is left for the next read, nothing is written to the file."""
    db = make_db(tmp_path / "logs.db")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    add_turn(db, "01jx0000000000000000000001", "t1")
    writer = sqlite3.connect(db, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute(
            "INSERT INTO turns (id, thread_id, model, datetime_utc) VALUES (?, 't1', 'gpt-4o', ?)",
            ("01jx0000000000000000000002", STARTED),
        )
        read = llm.read(db, {})
        assert read.failed is None
        assert [call.key for call in read.calls] == ["01jx0000000000000000000001"]
        writer.execute("COMMIT")
    finally:
        writer.close()
    assert [call.key for call in llm.read(db, read.mark).calls] == ["01jx0000000000000000000002"]


def test_default_paths(tmp_path: Path) -> None:
    home = tmp_path
    assert llm.default_paths({"LLM_USER_PATH": "/data/llm"}, home) == [Path("/data/llm/logs.db")]
    paths = llm.default_paths({}, home)
    assert home / ".config" / "io.datasette.llm" / "logs.db" in paths
    assert home / "Library" / "Application Support" / "io.datasette.llm" / "logs.db" in paths
    assert llm.default_paths({"XDG_CONFIG_HOME": "/x"}, home)[0] == Path("/x/io.datasette.llm/logs.db")
    assert llm.wanted(Path("a/logs.db")) and not llm.wanted(Path("a/embeddings.db"))


# ---- end to end, through the importer and the store ----


@pytest.mark.both_stores
def test_import_prices_stores_once_and_reads_on(cli, agentik_home: Path, tmp_path: Path) -> None:
    folder = tmp_path / "llm-user"
    folder.mkdir()
    db = make_db(folder / "logs.db")
    add_turn(
        db,
        "01jx0000000000000000000001",
        "01jx00000000000000000000t1",
        model="anthropic/claude-sonnet-4-0",
        prompt="Suggest a name for a pet pelican",
        reply="How about Percy?",
        tokens=(1000, 500),
        details=ANTHROPIC_DETAILS,
        name="Pelican names",
    )
    add_turn(db, "01jx0000000000000000000002", "01jx00000000000000000000t2", model="llama3.2", tokens=(None, None))

    first = cli.json("costs", "import", "--from", "llm", str(db))
    assert (first["files"], first["lines"], first["imported"], first["unpriced_calls"]) == (1, 2, 2, 1)
    assert first["sessions"] == 2
    # claude-sonnet-4 list prices on 2025-06-02 ($ per million): input 3, output 15, cache read 0.30,
    # 5-minute cache write 3.75, 1-hour cache write 2 x input = 6. The call: 1,000 uncached input
    # (3,000), 2,000 read (600), 300 written for 5 minutes (1,125), 100 for an hour (600), 500 output
    # (7,500): 12,825 $/M = $0.012825 = 12,825,000 nano-dollars.
    [(cost, tokens_in, read_tokens, written)] = db_rows(
        agentik_home,
        "SELECT total_cost_nd, input_tokens, cache_read_tokens, cache_write_tokens FROM costs WHERE call_key = ?",
        ("llm:01jx0000000000000000000001",),
    )
    assert (cost, tokens_in, read_tokens, written) == (12_825_000, 3400, 2000, 400)
    [(unpriced,)] = db_rows(
        agentik_home, "SELECT total_cost_nd FROM costs WHERE call_key = ?", ("llm:01jx0000000000000000000002",)
    )
    assert unpriced is None

    again = cli.json("costs", "import", "--from", "llm", str(db))
    assert (again["imported"], again["messages"], again["sessions"]) == (0, 0, 0)

    add_turn(
        db,
        "01jx0000000000000000000003",
        "01jx00000000000000000000t1",
        model="gpt-4o-mini",
        prompt="And a walrus?",
        tokens=(2000, 100),
        duration_ms=0,  # llm records whole milliseconds: the reply still comes after its prompt
        at="2025-06-02T10:05:00.000000+00:00",
    )
    third = cli.json("costs", "import", "--from", "llm", str(folder))  # a folder: its logs.db
    assert (third["lines"], third["imported"], third["sessions"]) == (1, 1, 0)
    assert db_rows(agentik_home, "SELECT count(*) FROM costs WHERE call_key LIKE 'llm:%'") == [(3,)]

    sessions = {row["title"]: row for row in cli.json("sessions", "list")}
    pelican = sessions["Pelican names"]
    assert (pelican["channel"], pelican["agent"], pelican["messages"]) == ("llm", "llm", 4)
    shown = cli.json("sessions", "show", str(pelican["id"]))
    assert [(m["role"], m["content"]) for m in shown["messages"]] == [
        ("user", "Suggest a name for a pet pelican"),
        ("assistant", "How about Percy?"),
        ("user", "And a walrus?"),
        ("assistant", "hi there"),
    ]


@pytest.mark.both_stores
def test_import_names_a_file_that_is_not_llm_s(cli, tmp_path: Path) -> None:
    path = tmp_path / "logs.db"
    path.write_text("not a database at all\n" * 100)
    summary = cli.json("costs", "import", "--from", "llm", str(path))
    assert summary["imported"] == 0
    [failed] = summary["skipped"]["files"]
    assert str(path) in failed


def test_rows_in_the_wal_of_a_database_kept_open(cli, tmp_path: Path) -> None:
    db = make_db(tmp_path / "logs.db")
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
    keeper = sqlite3.connect(db)  # another reader: the WAL is not checkpointed into logs.db when llm exits
    try:
        keeper.execute("SELECT count(*) FROM turns").fetchall()
        add_turn(db, "01jx0000000000000000000001", "t1")
        assert cli.json("costs", "import", "--from", "llm", str(db))["imported"] == 1
        add_turn(db, "01jx0000000000000000000002", "t1")
        assert cli.json("costs", "import", "--from", "llm", str(db))["imported"] == 1
    finally:
        keeper.close()
