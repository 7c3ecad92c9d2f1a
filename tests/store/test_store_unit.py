"""The unit of work and the ledger's running totals: whatever writes or removes cost rows (a chat's
reply, `costs record`, `costs import`, `costs cleanup`), cost_totals, cost_buckets and the sessions'
totals equal the sums over the ledger afterwards. Plus who made each call (`user`) and `costs by-user`.
Store-neutral: everything goes through agentik's own store."""

from __future__ import annotations

import json
from collections import defaultdict
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from agentik_cli import environment
from agentik_cli.errors import StoreError
from agentik_cli.services import opening
from agentik_cli.store import ledger as store_ledger
from agentik_cli.store.models import Cost, CostBucket
from tests.fakeprovider import Reply

SUMS = (
    "calls",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_nd",
    "unpriced_calls",
)


@contextmanager
def as_user(name: str):
    with environment.use(environment.Environment(user=name)):
        yield


def ledger_rows() -> list[dict]:
    with opening.command_store().read() as session:
        return [dict(r._mapping) for r in session.execute(select(Cost.__table__).order_by(Cost.__table__.c.id))]


def _sums(rows: list[dict]) -> tuple:
    return (
        len(rows),
        sum(r["input_tokens"] for r in rows),
        sum(r["output_tokens"] for r in rows),
        sum(r["cache_read_tokens"] for r in rows),
        sum(r["cache_write_tokens"] for r in rows),
        sum(r["total_cost_nd"] or 0 for r in rows),
        sum(r["total_cost_nd"] is None for r in rows),
    )


def _quarter(moment: datetime) -> datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(minute=moment.minute // 15 * 15, second=0, microsecond=0)


def assert_totals_equal_ledger() -> None:
    """Every maintained total equals the same sum taken over the ledger, computed here in Python."""
    rows = ledger_rows()
    by_key: dict[tuple, list[dict]] = defaultdict(list)
    by_quarter: dict[datetime, list[dict]] = defaultdict(list)
    by_session: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        by_key[(row["agent_id"] or 0, row["model"], row["provider"], row["user_name"])].append(row)
        by_quarter[_quarter(row["timestamp"])].append(row)
        if row["session_id"] is not None:
            by_session[row["session_id"]].append(row)
    columns = ", ".join(SUMS)
    with opening.command_store().read() as session:
        totals = {
            tuple(r[:4]): tuple(r[4:])
            for r in session.execute(
                text(f"SELECT agent_key, model, provider, user_name, {columns} FROM cost_totals WHERE calls != 0")
            )
        }
        b = CostBucket.__table__.c
        buckets = {
            _quarter(r[0]): tuple(r[1:])
            for r in session.execute(select(b.start, *(b[name] for name in SUMS)).where(b.calls != 0))
        }
        sessions = {
            r[0]: tuple(r[1:])
            for r in session.execute(
                text("SELECT id, input_tokens, output_tokens, cost_nd, unpriced_calls FROM sessions")
            )
        }
        estimated = session.execute(text("SELECT coalesce(sum(estimated_calls), 0) FROM cost_totals")).scalar_one()
    assert totals == {key: _sums(group) for key, group in by_key.items()}
    assert buckets == {key: _sums(group) for key, group in by_quarter.items()}
    for sid, figures in sessions.items():
        group = by_session.get(sid, [])
        assert figures == (
            sum(r["input_tokens"] for r in group),
            sum(r["output_tokens"] for r in group),
            sum(r["total_cost_nd"] or 0 for r in group),
            sum(r["total_cost_nd"] is None for r in group),
        )
    assert estimated == sum(bool(r["estimated"]) for r in rows)


def write_jsonl(path, records: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return str(path)


def test_the_totals_equal_the_ledger_after_every_kind_of_write(cli, fake, tmp_path):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.default = Reply(text="hello there", input_tokens=1200, output_tokens=80)
    with as_user("alice"):
        cli("chat", "gpt", "-m", "hi")
        cli("chat", "gpt", "-m", "again", "--session", "1")
    assert_totals_equal_ledger()
    with as_user("bob"):
        cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "500",
            "--output-tokens", "5", "--agent", "gpt", "--at", "2026-01-02T10:20:00Z")  # fmt: skip
        cli("costs", "record", "--model", "no-such-model", "--provider", "openai", "--input-tokens", "7",
            "--output-tokens", "1")  # fmt: skip
    assert_totals_equal_ledger()
    old = datetime.now(UTC) - timedelta(days=400)
    records = [
        {
            "model": "claude-sonnet-4-0" if n % 2 else "gpt-4o-mini",
            "provider": "anthropic" if n % 2 else "openai",
            "input_tokens": 100 + n,
            "output_tokens": n,
            "cache_read_tokens": n % 7,
            "at": (old + timedelta(minutes=7 * n)).isoformat(),
            **({"agent": "gpt"} if n % 3 == 0 else {}),
            **({"user": "carol"} if n % 4 == 0 else {}),
        }
        for n in range(300)
    ]
    with as_user("dave"):
        assert cli.json("costs", "import", write_jsonl(tmp_path / "u.jsonl", records)) == {"imported": 300}
    assert_totals_equal_ledger()
    with opening.command_store().read() as session:
        users = dict(session.execute(text("SELECT user_name, count(*) FROM costs GROUP BY user_name")).all())
    assert users == {"alice": 2, "bob": 2, "carol": 75, "dave": 225}
    removed = cli.json("costs", "cleanup", "--older-than", "365", "--yes")
    assert removed["removed"] == 300
    assert_totals_equal_ledger()
    with opening.command_store().read() as session:
        # no bucket is left behind for the quarter hours that are gone
        assert session.execute(text("SELECT count(*) FROM cost_buckets WHERE calls = 0")).scalar_one() == 0
    # a session removed: the ledger keeps its rows, the totals still match
    cli("sessions", "remove", "1", "--yes")
    assert_totals_equal_ledger()
    assert cli.json("costs", "summary")["calls"] == 4


def test_a_reply_the_database_cannot_take_keeps_the_totals_equal_once_replayed(cli, fake, monkeypatch):
    from agentik_cli.services import recording
    from agentik_cli.store.engine import reset_stores

    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.default = Reply(text="paid", input_tokens=900, output_tokens=9)
    real = recording._write

    def full(unit, record):
        raise StoreError("the database failed: database or disk is full")

    monkeypatch.setattr(recording, "_write", full)
    cli("chat", "gpt", "-m", "hello")
    monkeypatch.setattr(recording, "_write", real)
    reset_stores()
    cli("costs", "summary")  # replays the journal
    assert_totals_equal_ledger()
    assert cli.json("sessions", "show", "1")["input_tokens"] == 900


def test_before_commit_work_runs_in_the_units_transaction(store):
    seen = []

    def note(unit) -> None:
        seen.append(unit.user)
        store_ledger.write_setting(unit, "noted", "yes")

    with as_user("erin"), store.write() as unit:
        unit.before_commit.append(note)
        assert seen == []  # not before the unit's own work is done
    assert seen == ["erin"]
    with store.write() as unit:
        assert store_ledger.read_setting(unit, "noted") == "yes"

    def refuse(unit) -> None:
        raise StoreError("refused")

    with pytest.raises(StoreError), store.write() as unit:
        store_ledger.add_costs(unit, [_row()])
        unit.before_commit.append(refuse)
    # the refusal rolled back the unit's cost row and its totals with it
    assert ledger_rows() == []
    assert cli_summary_calls(store) == 0


def cli_summary_calls(store) -> int:
    with store.read() as session:
        return session.execute(text("SELECT coalesce(sum(calls), 0) FROM cost_totals")).scalar_one()


def _row(**fields) -> dict:
    row = {
        "agent_id": None,
        "agent_name": None,
        "session_id": None,
        "model": "gpt-4o",
        "provider": "openai",
        "input_tokens": 10,
        "output_tokens": 2,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
        "total_tokens": 12,
        "total_cost_nd": 1000,
        "timestamp": datetime.now(UTC),
        "estimated": False,
    }
    row.update(fields)
    return row


def test_add_and_remove_costs_through_the_unit(store):
    now = datetime.now(UTC)
    with as_user("frank"), store.write() as unit:
        ids = store_ledger.add_costs(
            unit,
            [
                _row(timestamp=now - timedelta(days=3)),
                _row(total_cost_nd=None, estimated=True),
                _row(user_name="gina", input_tokens=40, timestamp=now - timedelta(days=5)),
            ],
        )
    assert len(ids) == 3 and ids == sorted(ids)
    assert_totals_equal_ledger()
    with store.write() as unit:
        removed = store_ledger.remove_costs(unit, store_ledger.older_than(now - timedelta(days=2)))
    assert (removed.rows, removed.cost_nd, removed.unpriced_calls) == (2, 2000, 0)
    assert_totals_equal_ledger()
    assert [r["user_name"] for r in ledger_rows()] == ["frank"]


def test_cleanup_reports_what_its_own_transaction_removed(cli, store):
    from agentik_cli.services import costs

    cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "10",
        "--output-tokens", "1", "--at", "2020-01-01")  # fmt: skip
    plan = costs.cleanup(store, 30, dry_run=True)
    # another writer adds an old row between the plan and the removal
    cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "10",
        "--output-tokens", "1", "--at", "2020-01-02")  # fmt: skip
    done = costs.cleanup(store, 30)
    assert (plan.rows, done.rows) == (1, 2)
    assert ledger_rows() == []
    assert_totals_equal_ledger()


def test_by_user_lists_each_users_spend_largest_first(cli):
    def record(user: str, tokens: int, at: str) -> None:
        with as_user(user):
            cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", str(tokens),
                "--output-tokens", "0", "--at", at)  # fmt: skip

    now = datetime.now(UTC)
    record("ann", 1_000, (now - timedelta(days=40)).isoformat())
    record("ann", 1_000, (now - timedelta(hours=1)).isoformat())
    record("ben", 5_000, (now - timedelta(days=40)).isoformat())
    with as_user("cy"):
        cli("costs", "record", "--model", "mystery", "--provider", "openai", "--input-tokens", "9",
            "--output-tokens", "0")  # fmt: skip
    rows = cli.json("costs", "by-user")
    assert [r["user"] for r in rows] == ["ben", "ann", "cy"]
    assert set(rows[0]) >= {
        "user",
        "calls",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost",
        "unpriced_calls",
        "estimated_calls",
    }
    # gpt-4o: $2.50 per million input tokens
    assert [(r["calls"], r["input_tokens"], r["cost"], r["unpriced_calls"]) for r in rows] == [
        (1, 5000, 0.0125, 0),
        (2, 2000, 0.005, 0),
        (1, 9, 0.0, 1),
    ]
    windowed = cli.json("costs", "by-user", "--since", "7d")
    assert [(r["user"], r["calls"]) for r in windowed] == [("ann", 1), ("cy", 1)]
    until = cli.json("costs", "by-user", "--until", (now - timedelta(days=30)).date().isoformat())
    assert [(r["user"], r["calls"]) for r in until] == [("ben", 1), ("ann", 1)]
    csv = cli("costs", "by-user", "--csv").stdout.splitlines()
    assert csv[0].split(",")[:2] == ["user", "calls"] and csv[1].startswith("ben,1,")
    table = cli("costs", "by-user").stdout
    assert "ben" in table and "unpriced" in table


def test_import_rows_may_name_their_user(cli, tmp_path):
    path = write_jsonl(
        tmp_path / "u.jsonl",
        [
            {"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1, "user": " hana "},
            {"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1},
        ],
    )
    with as_user("importer"):
        cli("costs", "import", path)
    listed = cli.json("costs", "list")
    assert sorted(r["user"] for r in listed) == ["hana", "importer"]
    (tmp_path / "u.csv").write_text("model,provider,input_tokens,output_tokens,user\ngpt-4o,openai,1,1,ivy\n")
    cli("costs", "import", str(tmp_path / "u.csv"))
    assert "ivy" in [r["user"] for r in cli.json("costs", "list")]
    assert "ivy" in cli("costs", "list", "--csv").stdout.splitlines()[1].split(",")

    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        [
            {"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1},
            {"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1, "user": "a\x07b"},
        ],
    )
    result = cli("costs", "import", bad, code=2)
    assert "line 2" in result.stderr and "user" in result.stderr
    result = cli(
        "costs", "import", write_jsonl(tmp_path / "n.jsonl", [{**json.loads(open(path).readline()), "user": 5}]), code=2
    )
    assert "line 1" in result.stderr
    assert len(cli.json("costs", "list")) == 3  # nothing of the bad files


def test_costs_record_and_a_chat_record_the_current_user(cli, fake):
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    with as_user("jo"):
        row = cli.json("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "3",
                       "--output-tokens", "1")  # fmt: skip
        cli("chat", "gpt", "-m", "hi")
    assert row["user"] == "jo"
    assert {r["user"] for r in cli.json("costs", "list")} == {"jo"}
    with opening.command_store().read() as session:
        assert session.execute(text("SELECT DISTINCT user_name FROM messages")).scalars().all() == ["jo"]
    table = cli("costs", "list").stdout
    assert "user" in table.splitlines()[0] and "jo" in table


def test_reports_carry_estimated_calls(cli, store):
    with store.write() as unit:
        store_ledger.add_costs(unit, [_row(estimated=True), _row()])
    summary = cli.json("costs", "summary")
    assert (summary["estimated_calls"], summary["today_estimated_calls"], summary["month_estimated_calls"]) == (1, 1, 1)
    assert summary["models"][0]["estimated_calls"] == 1
    for command in ("by-model", "by-provider", "by-agent", "by-user"):
        assert cli.json("costs", command)[0]["estimated_calls"] == 1
        assert cli.json("costs", command, "--since", "1d")[0]["estimated_calls"] == 1
    assert cli.json("costs", "history", "--days", "1")[0]["estimated_calls"] == 1


def test_a_write_waits_while_a_cleanup_holds_the_ledger(store):
    """The count a cleanup reports, the totals it moves and the rows it deletes are the same rows,
    whatever another writer does meanwhile: that writer waits (on PostgreSQL the ledger's table
    lock; on SQLite the write lock every unit holds)."""
    import threading
    import time

    old = datetime.now(UTC) - timedelta(days=100)
    with store.write() as unit:
        store_ledger.add_costs(unit, [_row(timestamp=old - timedelta(hours=n)) for n in range(5)])
    written = threading.Event()

    def another_writer() -> None:
        with store.write() as unit:
            # another model, user and quarter hour: no running total it moves is one the cleanup moved
            store_ledger.add_costs(
                unit, [_row(timestamp=old - timedelta(days=30), input_tokens=77, model="o3", user_name="zed")]
            )
        written.set()

    thread = threading.Thread(target=another_writer)
    with store.write() as unit:
        removed = store_ledger.remove_costs(unit, store_ledger.older_than(old + timedelta(days=1)))
        thread.start()
        time.sleep(0.5)
        assert not written.is_set()  # it waits for the cleanup's transaction to end
    thread.join(timeout=30)
    assert written.is_set()
    assert removed.rows == 5
    assert [r["input_tokens"] for r in ledger_rows()] == [77]
    assert_totals_equal_ledger()


def test_an_import_is_all_or_nothing_and_its_totals_are_its_own_rows(cli, store, tmp_path):
    records = [{"model": "gpt-4o", "provider": "openai", "input_tokens": n, "output_tokens": 1} for n in range(12_000)]
    records.append({"model": "gpt-4o", "provider": "openai", "input_tokens": -1, "output_tokens": 1})
    result = cli("costs", "import", write_jsonl(tmp_path / "bad.jsonl", records), code=2)
    assert "line 12001" in result.stderr
    assert ledger_rows() == []
    assert_totals_equal_ledger()
    cli("costs", "record", "--model", "gpt-4o", "--provider", "openai", "--input-tokens", "5", "--output-tokens", "1")
    assert cli.json("costs", "import", write_jsonl(tmp_path / "ok.jsonl", records[:-1])) == {"imported": 12_000}
    assert len(ledger_rows()) == 12_001
    assert_totals_equal_ledger()


@pytest.mark.sqlite_only("the index hint is SQLite's own syntax")
def test_a_windowed_report_reads_the_time_range_of_the_ledger(store):
    """Left to itself SQLite answers `by-model --since` by walking the whole ledger in model order;
    the query names the timestamp index (a hint SQLAlchemy's SQLite compiler used to drop)."""
    from sqlalchemy import event

    from agentik_cli.services import reports

    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda conn, cur, sql, *rest: seen.append(sql))
    for by in ("model", "provider", "agent", "user"):
        reports.breakdown(store, by, reports.Window(since=datetime.now(UTC) - timedelta(days=7)))
    windowed = [sql for sql in seen if "GROUP BY" in sql]
    assert len(windowed) == 4
    assert all("FROM costs INDEXED BY ix_costs_by_timestamp" in sql for sql in windowed)
