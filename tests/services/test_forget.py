"""Forgetting: a key pasted by mistake is in the database's bytes (the WAL included) before
`sessions redact` and not after, wherever it was kept (the message, an attached file, the reply's
parts, a tool call, the title, a webhook event waiting in the outbox, the chat's line history); search
no longer finds it; `sessions forget` removes messages and their replies, the counts follow, the
ledger's totals do not move; a dry run changes nothing; /forget in the chat. On both stores."""

from __future__ import annotations

import json
import time

import pexpect
import pytest

from tests.conftest import db_rows, stored_bytes
from tests.fakeprovider import Reply
from tests.terminal.test_chat import term  # noqa: F401 - the fixture

# redaction reaches each store's own bytes (store/forget.py differs by store)
pytestmark = pytest.mark.both_stores

KEY = "sk-ant-api03-FAKEKEY0123456789abcdefXYZ"
KEY_PART = b"FAKEKEY0123456789abcdefXYZ"


@pytest.fixture
def pasted(cli, fake, tmp_path, agentik_home):
    """A session where the key was pasted: in a message (its title too), an attached file, a tool
    call and its output, a reply's parts; and an event waiting for a webhook that is down."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "env.txt").write_text(f"ANTHROPIC_API_KEY={KEY}\n")
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--skill", "files", "--allow-dir", str(folder))
    cli("webhooks", "add", "http://127.0.0.1:9/down", "--allow-internal")
    fake.add(Reply(text="Hello."))
    cli("chat", "helper", "-m", "hello")
    fake.add(
        Reply(text="Reading it.", tool_calls=[{"id": "t1", "name": "read_file", "arguments": {"path": "env.txt"}}]),
        Reply(text=f"Your key {KEY} looks valid."),
    )
    cli("chat", "helper", "-m", f"is {KEY} right? see env.txt", "--attach", str(folder / "env.txt"))
    fake.add(Reply(text="Bye."))
    cli("chat", "helper", "-c", "-m", "thanks")
    agentik_home.mkdir(exist_ok=True)
    (agentik_home / "chat_history").write_text(f"hello\nis {KEY} right? see env.txt\nthanks\n")
    return folder


def ledger(cli) -> tuple:
    summary = cli.json("costs", "summary")
    return summary["total"], summary["calls"], [(r["id"], r["total_cost"]) for r in cli.json("costs", "list")]


def totals_follow_the_ledger(home) -> None:  # noqa: ANN001
    ledger_rows = db_rows(home, "SELECT count(*), coalesce(sum(total_cost_nd), 0) FROM costs")[0]
    totals = db_rows(home, "SELECT coalesce(sum(calls), 0), coalesce(sum(cost_nd), 0) FROM cost_totals")[0]
    assert tuple(map(int, ledger_rows)) == tuple(map(int, totals))
    sessions = db_rows(home, "SELECT coalesce(sum(cost_nd), 0) FROM sessions")[0][0]
    assert int(sessions) == int(ledger_rows[1])
    counts = db_rows(home, "SELECT id, message_count FROM sessions ORDER BY id")
    for session_id, count in counts:
        assert count == db_rows(home, "SELECT count(*) FROM messages WHERE session_id = ?", (session_id,))[0][0]
    stats = db_rows(home, "SELECT stat_messages FROM agents")[0][0]
    assert stats == db_rows(home, "SELECT count(*) FROM messages")[0][0]


def test_redact_leaves_no_trace_of_a_pasted_key(cli, pasted, agentik_home):
    assert KEY_PART in stored_bytes(agentik_home)
    assert cli.json("sessions", "search", KEY_PART.decode())
    before = ledger(cli)
    result = cli.json("sessions", "redact", KEY, "--all", "--yes")
    assert result == {"messages": 3, "sessions": 1}  # the question, the tool call's message, the reply
    assert KEY_PART not in stored_bytes(agentik_home)
    assert not cli.json("sessions", "search", KEY_PART.decode())
    assert ledger(cli) == before
    totals_follow_the_ledger(agentik_home)
    shown = cli.json("sessions", "show", "2")
    assert shown["title"].startswith("is [redacted] right?")
    question, asked, answer, *_ = shown["messages"]
    assert question["content"] == "is [redacted] right? see env.txt" and question["redacted"]
    assert asked["redacted"] and asked["tool_calls"][0]["output"] == "ANTHROPIC_API_KEY=[redacted]\n"
    assert answer["content"] == "Your key [redacted] looks valid." and answer["redacted"]
    assert not cli.json("sessions", "show", "1")["messages"][0]["redacted"]
    assert (agentik_home / "chat_history").read_text() == "hello\nis [redacted] right? see env.txt\nthanks\n"
    # the continued session sends the redacted text, not the key
    assert cli.json("sessions", "redact", KEY, "--all", "--yes") == {"messages": 0, "sessions": 0}


def test_a_dry_run_shows_each_match_masked_and_changes_nothing(cli, pasted, agentik_home):
    before = stored_bytes(agentik_home)
    result = cli("sessions", "redact", "sk-ant-api03-[A-Za-z0-9]+", "--regex", "--agent", "helper", "--dry-run")
    assert KEY not in result.stdout and KEY not in result.stderr
    lines = result.stdout.splitlines()
    assert "message 3 (session 2): is ************ right? see env.txt" in lines
    assert any(line.startswith("session 2: title: ") for line in lines)
    assert any("tool call output: ANTHROPIC_API_KEY=************" in line for line in lines)
    assert "would redact 3 messages in 1 session (nothing was changed)" in result.stderr
    assert cli.json("sessions", "redact", KEY, "--session", "2", "--dry-run") == {"messages": 3, "sessions": 1}
    assert KEY_PART in stored_bytes(agentik_home)
    assert db_rows(agentik_home, "SELECT count(*) FROM messages WHERE redacted")[0][0] == 0
    assert len(stored_bytes(agentik_home)) >= len(before) // 2  # still there, unchanged in substance


def test_redact_asks_where_and_checks_the_pattern(cli, pasted):
    cli("sessions", "redact", KEY, code=2)  # no scope
    cli("sessions", "redact", KEY, "--all", "--session", "1", code=2)
    cli("sessions", "redact", "(", "--regex", "--all", code=2)
    cli("sessions", "redact", "x*", "--regex", "--all", code=2)  # matches the empty string
    cli("sessions", "redact", KEY, "--all", code=2)  # not a terminal: needs --yes
    cli("sessions", "redact", KEY, "--session", "99", code=1)
    cli("sessions", "redact", KEY, "--agent", "ghost", code=1)
    assert cli.json("sessions", "redact", KEY, "--session", "1", "--yes") == {"messages": 0, "sessions": 0}


def test_forget_removes_a_message_and_its_reply_and_the_counts_follow(cli, pasted, agentik_home):
    before = ledger(cli)
    messages = cli.json("sessions", "show", "2")["messages"]
    question = messages[0]
    assert question["role"] == "user" and KEY in question["content"]
    cli("sessions", "forget", str(question["id"]), code=2)  # not a terminal: needs --yes
    cli("sessions", "forget", str(question["id"]), "999", "--yes", code=1)  # one unknown: none forgotten
    assert "no message 999" in cli("sessions", "forget", "999", code=1).stderr  # said before asking
    assert len(cli.json("sessions", "show", "2")["messages"]) == len(messages)
    cli("sessions", "forget", str(question["id"]), "--yes")
    left = cli.json("sessions", "show", "2")
    # the question went with both calls that answered it (the tool loop's and the final reply)
    assert [m["content"] for m in left["messages"]] == ["thanks", "Bye."]
    assert left["message_count"] == 2 and left["title"] == "thanks"
    assert ledger(cli) == before  # the money was spent: every cost row stays
    detached = db_rows(agentik_home, "SELECT count(*) FROM costs WHERE session_id = 2 AND conversation_id IS NULL")
    assert detached[0][0] == 2
    totals_follow_the_ledger(agentik_home)
    assert db_rows(agentik_home, "SELECT count(*) FROM tool_calls")[0][0] == 0
    assert KEY_PART not in stored_bytes(agentik_home)
    assert not cli.json("sessions", "search", "FAKEKEY0123456789abcdefXYZ")
    assert (agentik_home / "chat_history").read_text() == "hello\nthanks\n"


def test_forget_can_keep_the_replies(cli, fake):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    fake.add(Reply(text="first answer"), Reply(text="second answer"))
    cli("chat", "helper", "-m", "first question")
    cli("chat", "helper", "-c", "-m", "second question")
    cli("sessions", "forget", "3", "--keep-replies", "--yes")
    shown = cli.json("sessions", "show", "1")
    assert [m["content"] for m in shown["messages"]] == ["first question", "first answer", "second answer"]
    assert shown["title"] == "first question"
    cli("sessions", "forget", "1", "--yes")
    shown = cli.json("sessions", "show", "1")
    assert [m["content"] for m in shown["messages"]] == ["second answer"] and shown["title"] == "(forgotten)"


@pytest.mark.slow
@pytest.mark.sqlite_only(reason="one terminal test is enough; the commands it uses run on both stores")
def test_slash_forget_in_the_chat_is_not_sent_again(term, cli, fake, agentik_home):  # noqa: F811
    fake.add(Reply(text="First."), Reply(text="Noted."), Reply(text="Third."))
    child = term("chat", "claude")  # the agent the fixture makes
    try:
        child.expect("› ")
        child.sendline("hello")
        child.expect("First.")
        child.expect("› ")
        child.sendline(f"oops {KEY}")
        child.expect("Noted.")
        child.expect("› ")
        child.sendline("/forget")
        child.expect("forgot your last message and its reply")
        child.expect("› ")
        child.sendline("what did I say?")
        child.expect("Third.")
        child.expect("› ")
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)  # the fixture closes it too; here the log is read once it has ended
    sent = json.dumps(fake.requests[-1].body)
    assert "hello" in sent and "First." in sent and KEY not in sent and "Noted." not in sent
    contents = [m["content"] for m in cli.json("sessions", "show", "1")["messages"]]
    assert contents == ["hello", "First.", "what did I say?", "Third."]
    assert KEY_PART not in stored_bytes(agentik_home)
    assert KEY not in (agentik_home / "chat_history").read_text()


def test_redact_reaches_the_journal_of_records_not_stored_yet(cli, fake, agentik_home):
    """A record the database could not take waits in the journal, a copy agentik keeps too."""
    from agentik_cli.services import forget, journal, opening, recording
    from agentik_cli.store.forget import Scope

    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("chat", "helper", "-m", "hello")
    store = opening.command_store()
    path = journal.keep(store.url, {"kind": "failed", "message_id": 1, "error": f"bad {KEY}", "reservation_id": None})
    assert KEY in path.read_text()
    forget.redact(store, KEY, regex=False, scope=Scope(), dry_run=False)
    assert KEY not in path.read_text() and "bad [redacted]" in path.read_text()
    assert recording.replay_journal(store) == 1
    assert db_rows(agentik_home, "SELECT error FROM messages WHERE id = 1")[0][0] == "bad [redacted]"


def test_redact_reaches_an_error_a_message_was_marked_with(cli, fake, agentik_home):
    from tests.conftest import db_execute

    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    cli("chat", "helper", "-m", "hello")
    db_execute(agentik_home, ("UPDATE messages SET error = ? WHERE id = 1", (f"the server said: bad key {KEY}",)))
    assert cli.json("sessions", "redact", KEY, "--all", "--yes") == {"messages": 1, "sessions": 1}
    assert cli.json("sessions", "show", "1")["messages"][0]["error"] == "the server said: bad key [redacted]"


def test_a_redacted_reasoning_part_is_dropped_not_sent_back_with_a_broken_signature(cli, fake, agentik_home):
    """Anthropic signs reasoning: a continued session must not send it back changed."""
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--skill", "calc")
    call = {"id": "c1", "name": "calc", "arguments": {"expression": "6*7"}}
    fake.add(
        Reply(text="", thinking=f"the user's key is {KEY}", tool_calls=[call]),
        Reply(text="42", thinking="plain arithmetic"),
        Reply(text="again"),
    )
    cli("chat", "helper", "-m", "what is 6*7?", "--no-stream")
    assert cli.json("sessions", "redact", KEY, "--all", "--yes") == {"messages": 1, "sessions": 1}
    assert KEY_PART not in stored_bytes(agentik_home)
    cli("chat", "helper", "-c", "-m", "and again?", "--no-stream")
    sent = json.dumps(fake.requests[-1].body)
    assert KEY not in sent and "[redacted]" not in sent  # the changed reasoning is not sent at all
    assert "plain arithmetic" in sent or "6*7" in sent  # the rest of the exchange still is


def test_redact_after_the_events_went_out(cli, fake, agentik_home):
    """A delivered event keeps no body: there is nothing of it to redact, and that is no error."""
    from tests.webhook_receiver import Receiver

    receiver = Receiver().start()
    try:
        cli("webhooks", "add", receiver.url, "--allow-internal")
        cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
        cli("chat", "helper", "-m", f"my key {KEY}")
        receiver.wait_for(4)
    finally:
        receiver.stop()
    assert cli.json("sessions", "redact", KEY, "--all", "--yes") == {"messages": 1, "sessions": 1}
    assert KEY_PART not in stored_bytes(agentik_home)


# ---- every text column (issue 21) ----


def _text_columns() -> dict[str, set[str]]:
    """Every column of the schema that can hold text: strings (SQLModel's AutoString too) and JSON."""
    from sqlalchemy import JSON, String
    from sqlalchemy.types import TypeDecorator
    from sqlmodel import SQLModel

    import agentik_cli.store.import_models  # noqa: F401 - and the imports'
    import agentik_cli.store.models  # noqa: F401 - the tables
    import agentik_cli.store.outbox_models  # noqa: F401 - and the outbox's

    def holds_text(kind) -> bool:  # noqa: ANN001
        return isinstance(kind.impl if isinstance(kind, TypeDecorator) else kind, String | JSON)

    return {
        table.name: {column.name for column in table.columns if holds_text(column.type)}
        for table in SQLModel.metadata.sorted_tables
    }


def test_redaction_has_decided_on_every_text_column():
    """A table or column with text added later fails here until store/forget.py's TEXT_COLUMNS says
    whether redaction rewrites it, or why not."""
    from agentik_cli.store.forget import REDACTED, TEXT_COLUMNS

    assert {table: set(columns) for table, columns in TEXT_COLUMNS.items() if columns} == {
        table: columns for table, columns in _text_columns().items() if columns
    }
    for table, columns in TEXT_COLUMNS.items():
        for column, decision in columns.items():
            assert decision == REDACTED or len(decision) > 20, (table, column)  # a reason, not a shrug


ECHOED = "sk-ant-api03-ECHOKEY0123456789abcdefQRS"


@pytest.fixture
def echoed(cli, fake, tmp_path, agentik_home):
    """A secret in a message, the session's title, a tool call's arguments and output, a webhook
    event still waiting for an endpoint that is down, and the logged answer of a receiver that echoes
    what it is sent (and, set by hand, an attempt's error: no command puts text of ours there)."""
    from tests.conftest import db_execute
    from tests.webhook_receiver import Answer, Receiver

    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "env.txt").write_text(f"ANTHROPIC_API_KEY={ECHOED}\n")
    receiver = Receiver()
    # a failed answer is what the log keeps (200 bytes of it; nothing of a delivered one's body)
    receiver.default = Answer(status=500, echo=True)
    receiver.start()
    try:
        skill = ["--skill", "files", "--allow-dir", str(folder)]
        cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", *skill)
        events = ["--event", "message.created", "--event", "session.created", "--allow-internal"]
        cli("webhooks", "add", receiver.url, *events)
        cli("webhooks", "add", "http://127.0.0.1:9/down", "--event", "message.created", "--allow-internal")
        calls = [
            {"id": "t1", "name": "read_file", "arguments": {"path": "env.txt"}},
            {"id": "t2", "name": "read_file", "arguments": {"path": f"{ECHOED}.txt"}},
        ]
        fake.add(Reply(text="Reading it.", tool_calls=calls), Reply(text="It is there."))
        cli("chat", "helper", "-m", f"is {ECHOED} right?")
        deadline = time.monotonic() + 30
        echoes = "SELECT count(*) FROM webhook_attempts WHERE answer LIKE ?"
        while db_rows(agentik_home, echoes, (f"%{ECHOED}%",))[0][0] < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        receiver.stop()
    db_execute(agentik_home, ("UPDATE webhook_attempts SET error = ? WHERE id = 1", (f"echoed {ECHOED}",)))
    return folder


def _holding(home, secret: str) -> list[tuple[str, str]]:  # noqa: ANN001
    """(table, column) of every text column that holds the secret somewhere."""
    found = []
    for table, columns in _text_columns().items():
        for column in sorted(columns):
            sql = f"SELECT count(*) FROM {table} WHERE CAST({column} AS TEXT) LIKE ?"
            if db_rows(home, sql, (f"%{secret}%",))[0][0]:
                found.append((table, column))
    return found


def test_redact_reaches_every_text_column_a_secret_got_into(cli, echoed, agentik_home):
    held = set(_holding(agentik_home, ECHOED))
    assert {
        ("messages", "content"),
        ("messages", "parts"),
        ("sessions", "title"),
        ("tool_calls", "arguments"),
        ("tool_calls", "output"),
        ("webhook_events", "body"),
        ("webhook_attempts", "answer"),
        ("webhook_attempts", "error"),
    } <= held
    assert any(ECHOED in (row["answer"] or "") for row in cli.json("webhooks", "log"))
    cli.json("sessions", "redact", ECHOED, "--all", "--yes")
    assert _holding(agentik_home, ECHOED) == []
    assert ECHOED.encode() not in stored_bytes(agentik_home)
    assert not any(ECHOED in json.dumps(row) for row in cli.json("webhooks", "log"))
    assert any("[redacted]" in (row["answer"] or "") for row in cli.json("webhooks", "log"))


def test_redact_of_one_session_reaches_its_events_answers_only(cli, fake, echoed, agentik_home):
    """Another session's logged answers are not this redaction's to change."""
    from tests.conftest import db_execute

    db_execute(agentik_home, ("UPDATE webhook_attempts SET answer = ? WHERE id = 1", (f"other {ECHOED}",)))
    cli("chat", "helper", "-m", f"and again {ECHOED}")  # session 2
    cli.json("sessions", "redact", ECHOED, "--session", "2", "--yes")
    assert ("webhook_attempts", "answer") in _holding(agentik_home, ECHOED)
    cli.json("sessions", "redact", ECHOED, "--session", "1", "--yes")
    assert _holding(agentik_home, ECHOED) == []


def test_forget_takes_the_logged_answers_with_the_events(cli, echoed, agentik_home):
    question = cli.json("sessions", "show", "1")["messages"][0]
    cli("sessions", "forget", str(question["id"]), "--yes")
    assert _holding(agentik_home, ECHOED) == []
    assert ECHOED.encode() not in stored_bytes(agentik_home)
