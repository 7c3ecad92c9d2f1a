"""`agentik costs`: reports that are exact, record, import (all or none), cleanup, local time."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from agentik_cli.money import to_nd
from tests.conftest import db_rows, set_tz


def record(cli, *args: str, **fields) -> None:
    options = []
    for key, value in fields.items():
        options += [f"--{key.replace('_', '-')}", str(value)]
    cli("costs", "record", *args, *options)


@pytest.fixture
def ledger(cli):
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    # claude-sonnet-4: 1000 in (200 read, 100 write) + 500 out = $0.010035
    record(
        cli,
        model="claude-sonnet-4-0",
        provider="anthropic",
        input_tokens=1000,
        output_tokens=500,
        cache_read_tokens=200,
        cache_write_tokens=100,
        agent="claude",
    )
    # gpt-4o-mini: 1000 in (200 cached) + 100 out = $0.000195
    record(
        cli,
        model="gpt-4o-mini",
        provider="openai",
        input_tokens=1000,
        output_tokens=100,
        cache_read_tokens=200,
        agent="gpt",
    )
    record(
        cli,
        model="gpt-4o-mini",
        provider="openai",
        input_tokens=10,
        output_tokens=10,
        cost="0.5",
        agent="gpt",
        at="2026-01-15T12:00:00Z",
    )
    record(cli, model="llama3.2", provider="ollama", input_tokens=70, output_tokens=30)  # unpriced


def test_record_prices_from_the_list(cli, ledger, agentik_home):
    rows = db_rows(agentik_home, "SELECT model, total_cost_nd, price_input_nd FROM costs ORDER BY id")
    assert rows == [
        ("claude-sonnet-4-0", 10_035_000, 3_000_000_000),
        ("gpt-4o-mini", 195_000, 150_000_000),
        ("gpt-4o-mini", 500_000_000, 150_000_000),
        ("llama3.2", None, None),
    ]
    data = cli.json(
        "costs",
        "record",
        "--model",
        "gpt-4o",
        "--provider",
        "openai",
        "--input-tokens",
        "1000000",
        "--output-tokens",
        "0",
    )
    assert data["total_cost"] == 2.5 and data["price_input_per_mtok"] == 2.5 and data["agent"] is None


def test_summary_is_exact_and_names_unpriced_calls(cli, ledger):
    data = cli.json("costs", "summary")
    assert data["currency"] == "USD"
    assert data["total"] == 0.51023  # 0.010035 + 0.000195 + 0.5
    assert data["today"] == 0.01023 and data["month"] == 0.01023
    assert data["unpriced_calls"] == 1
    models = {(m["model"], m["provider"]): m for m in data["models"]}
    assert models[("gpt-4o-mini", "openai")] == {
        "model": "gpt-4o-mini",
        "provider": "openai",
        "calls": 2,
        "input_tokens": 1010,
        "output_tokens": 110,
        "cost": 0.500195,
        "unpriced_calls": 0,
        "estimated_calls": 0,
        "over_limit_calls": 0,
    }
    assert models[("llama3.2", "ollama")]["cost"] == 0.0 and models[("llama3.2", "ollama")]["unpriced_calls"] == 1
    assert round(sum(m["cost"] for m in data["models"]), 9) == data["total"]
    assert [m["model"] for m in data["models"]][0] == "gpt-4o-mini"  # largest first
    assert "all time" in cli("costs", "summary").stdout


def test_breakdowns_largest_first(cli, ledger):
    by_agent = cli.json("costs", "by-agent")
    assert [(r["agent"], r["cost"], r["calls"]) for r in by_agent] == [
        ("gpt", 0.500195, 2),
        ("claude", 0.010035, 1),
        ("(no agent)", 0.0, 1),
    ]
    assert set(by_agent[0]) == {
        "agent",
        "agent_id",
        "calls",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost",
        "unpriced_calls",
        "estimated_calls",
        "over_limit_calls",
        "removed",
    }
    assert by_agent[1]["cache_read_tokens"] == 200 and by_agent[1]["cache_write_tokens"] == 100
    by_provider = cli.json("costs", "by-provider")
    assert [(r["provider"], r["calls"]) for r in by_provider] == [("openai", 2), ("anthropic", 1), ("ollama", 1)]
    by_model = cli.json("costs", "by-model", "--since", "today")
    assert [(r["model"], r["cost"]) for r in by_model] == [
        ("claude-sonnet-4-0", 0.010035),
        ("gpt-4o-mini", 0.000195),
        ("llama3.2", 0.0),
    ]
    lines = cli("costs", "by-model", "--csv").stdout.splitlines()
    assert lines[0] == (
        "model,provider,calls,input_tokens,output_tokens,cache_read_tokens,cache_write_tokens,cost,unpriced_calls,"
        "estimated_calls,over_limit_calls"
    )
    january = cli.json("costs", "by-agent", "--since", "2026-01-01", "--until", "2026-01-31")
    assert [(r["agent"], r["cost"]) for r in january] == [("gpt", 0.5)]
    # --until DATE includes that whole day
    assert cli.json("costs", "by-agent", "--since", "2026-01-15", "--until", "2026-01-15")[0]["calls"] == 1
    assert cli.json("costs", "by-agent", "--since", "2026-01-16", "--until", "2026-01-20") == []


def test_removed_agent_keeps_reporting_under_its_name(cli, ledger):
    cli("agents", "update", "claude", "--name", "claude-2")
    assert "claude-2" in [r["agent"] for r in cli.json("costs", "by-agent")]
    cli("agents", "remove", "claude-2", "--yes")
    assert "claude-2" in [r["agent"] for r in cli.json("costs", "by-agent")]
    assert "claude-2" in [r["agent"] for r in cli.json("costs", "by-agent", "--since", "today")]
    assert cli.json("costs", "summary")["total"] == 0.51023


@pytest.mark.parametrize("window", [[], ["--since", "today"]])  # the maintained totals, and the ledger
def test_a_removed_agent_and_a_live_one_of_its_name_are_told_apart(cli, window):
    record = ("costs", "record", "--model", "gpt-4o-mini", "--provider", "openai", "--output-tokens", "1")
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    old_id = cli.json("agents", "show", "helper")["id"]
    cli(*record, "--input-tokens", "2000", "--agent", "helper")
    cli("agents", "remove", "helper", "--yes")
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    new_id = cli.json("agents", "show", "helper")["id"]
    cli(*record, "--input-tokens", "1000", "--agent", "helper")
    rows = cli.json("costs", "by-agent", *window)
    assert [(r["agent"], r["agent_id"], r["removed"], r["calls"]) for r in rows] == [
        ("helper", old_id, True, 1),
        ("helper", new_id, False, 1),
    ]
    table = cli("costs", "by-agent", *window).stdout
    names = [line.split("  ")[0].strip() for line in table.splitlines()[2:] if line.strip()]
    assert names == [f"helper (removed, id {old_id})", "helper"]
    header, *lines = cli("costs", "by-agent", "--csv", *window).stdout.splitlines()
    assert header.endswith(",estimated_calls,over_limit_calls,removed") and lines[0].endswith(",true")


def test_history_buckets_oldest_first_with_empty_days(cli, ledger):
    rows = cli.json("costs", "history", "--days", "7")
    assert len(rows) == 7
    assert rows[-1]["period"] == datetime.now().astimezone().date().isoformat()
    assert rows[-1]["cost"] == 0.01023 and rows[-1]["calls"] == 3 and rows[-1]["unpriced_calls"] == 1
    assert all(r["calls"] == 0 and r["cost"] == 0 for r in rows[:-1])
    assert set(rows[0]) == {
        "period",
        "calls",
        "input_tokens",
        "output_tokens",
        "cost",
        "unpriced_calls",
        "estimated_calls",
        "over_limit_calls",
    }
    months = cli.json("costs", "history", "--since", "2026-01-01", "--by", "month")
    assert months[0] == {
        "period": "2026-01",
        "calls": 1,
        "input_tokens": 10,
        "output_tokens": 10,
        "cost": 0.5,
        "unpriced_calls": 0,
        "estimated_calls": 0,
        "over_limit_calls": 0,
    }
    assert len(months) == datetime.now().astimezone().month
    assert round(sum(m["cost"] for m in months), 9) == cli.json("costs", "summary")["total"]
    weeks = cli.json("costs", "history", "--days", "30", "--by", "week")
    assert all(w["period"].startswith(("2026-W", "2027-W")) for w in weeks)
    gpt_only = cli.json("costs", "history", "--days", "3", "--agent", "gpt")
    assert gpt_only[-1]["cost"] == 0.000195
    chart = cli("costs", "history", "--days", "3").stdout
    assert "█" in chart


def test_list_raw_rows_newest_first(cli, ledger):
    rows = cli.json("costs", "list")
    assert len(rows) == 4
    assert rows[-1]["timestamp"] == "2026-01-15T12:00:00Z"
    assert set(rows[0]) >= {
        "id",
        "timestamp",
        "agent",
        "model",
        "provider",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "total_tokens",
        "input_cost",
        "output_cost",
        "total_cost",
        "price_input_per_mtok",
        "response_ms",
        "channel",
        "endpoint",
    }
    assert [r["model"] for r in cli.json("costs", "list", "--model", "gpt-4o-mini")] == ["gpt-4o-mini"] * 2
    assert len(cli.json("costs", "list", "--agent", "gpt", "--limit", "1")) == 1
    assert cli("costs", "list", "--csv").stdout.splitlines()[0].startswith("id,timestamp,agent_id,agent,")


def test_cleanup(cli, ledger, agentik_home):
    result = cli("costs", "cleanup", "--older-than", "30", "--dry-run")
    assert "would remove 1 ledger rows worth $0.50" in result.stdout
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(4,)]
    cli("costs", "cleanup", "--older-than", "30", code=2)  # no terminal, no --yes
    data = cli.json("costs", "cleanup", "--older-than", "30", "--yes")
    assert data["removed"] == 1 and data["cost"] == 0.5
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(3,)]
    summary = cli.json("costs", "summary")
    assert summary["total"] == 0.01023
    assert cli.json("agents", "stats", "gpt")["total_cost"] == 0.000195
    assert "nothing to remove" in cli("costs", "cleanup", "--older-than", "30", "--yes").stdout


# ---- import ----


@pytest.mark.both_stores
def test_import_jsonl_and_csv(cli, ledger, tmp_path):
    jsonl = tmp_path / "usage.jsonl"
    jsonl.write_text(
        json.dumps({"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 1000, "output_tokens": 0})
        + "\n\n"
        + json.dumps(
            {
                "model": "claude-sonnet-4-0",
                "provider": "anthropic",
                "input_tokens": 10,
                "output_tokens": 10,
                "agent": "claude",
                "cost": 1.25,
                "channel": "batch",
                "endpoint": "/v1/messages",
                "at": "2026-11-01T08:00:00+01:00",
            }
        )
        + "\n"
    )
    assert cli("costs", "import", str(jsonl)).stdout == "2\n"
    batch = cli.json("costs", "list", "--since", "2026-11-01", "--until", "2026-11-01")
    assert [(r["timestamp"], r["agent"], r["total_cost"], r["channel"], r["endpoint"]) for r in batch] == [
        ("2026-11-01T07:00:00Z", "claude", 1.25, "batch", "/v1/messages")
    ]
    csv_file = tmp_path / "usage.csv"
    csv_file.write_text(
        "model,provider,input_tokens,output_tokens,agent\ngpt-4o,openai,100,10,gpt\ngpt-4o,openai,200,20,\n"
    )
    assert cli.json("costs", "import", str(csv_file)) == {"imported": 2}
    assert cli.json("costs", "summary")["calls"] == 8


def test_import_from_stdin(cli, ledger):
    line = json.dumps({"model": "gpt-4o", "provider": "openai", "input_tokens": 1, "output_tokens": 1})
    assert cli("costs", "import", "-", input=line + "\n" + line + "\n").stdout == "2\n"


def test_csv_on_stdin_is_known_by_its_header(cli, ledger):
    rows = "model,provider,input_tokens,output_tokens\ngpt-4o,openai,1000,10\n"
    assert cli("costs", "import", "-", input=rows).stdout == "1\n"
    # a header that is not the import's: read as JSON, and the error names --format csv
    result = cli("costs", "import", "-", input="name,provider,tokens\nx,openai,1\n", code=2)
    assert result.stderr.splitlines() == [
        "agentik: error: line 1: not valid JSON (Expecting value)",
        "hint: nothing was imported; for CSV give --format csv (the header names the fields: model, provider, ...)",
    ]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"model": "m", "provider": "openai", "input_tokens": 1}'], "line 2: missing output_tokens"),
        (
            ['{"model": "m", "provider": "openai", "input_tokens": -1, "output_tokens": 1}'],
            "line 2: input_tokens cannot be negative",
        ),
        (
            ['{"model": "m", "provider": "openai", "input_tokens": 1, "output_tokens": 1, "agent": "ghost"}'],
            "line 2: unknown agent 'ghost'",
        ),
        (
            ['{"model": "m", "provider": "openai", "input_tokens": 1, "output_tokens": 1, "at": "yesterday-ish"}'],
            "line 2: at: cannot read 'yesterday-ish' as a time",
        ),
        (['{"model": "m", "provider": "openai", "input_tokens": 1, "output_tokens": 1'], "line 2: not valid JSON"),
        (['{"model": "m"}, {"provider": "openai"}'], "line 2: not valid JSON"),
        (["[1, 2]"], "line 2: a record must be a JSON object"),
        (
            ['{"model": "m", "provider": "openai", "input_tokens": "many", "output_tokens": 1}'],
            "line 2: input_tokens must be a whole number",
        ),
        (
            ['{"model": "m", "provider": "openai", "input_tokens": 1, "output_tokens": 1, "cost": -2}'],
            "line 2: cost cannot be negative",
        ),
    ],
)
@pytest.mark.both_stores
def test_import_is_all_or_nothing(cli, ledger, tmp_path, agentik_home, lines, message):
    good = json.dumps({"model": "gpt-4o", "provider": "openai", "input_tokens": 5, "output_tokens": 5})
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join([good, *lines, good]) + "\n")
    result = cli("costs", "import", str(path), code=2)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(4,)]


def test_import_bad_files(cli, tmp_path, agentik_home):
    assert "no such file" in cli("costs", "import", str(tmp_path / "missing.jsonl"), code=2).stderr
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("model,provider,input_tokens,output_tokens,colour\nm,openai,1,1,red\n")
    assert "unknown column colour" in cli("costs", "import", str(bad_csv), code=2).stderr
    assert "unknown format" in cli("costs", "import", str(bad_csv), "--format", "xml", code=2).stderr


# ---- time: WHEN, local days, a day boundary ----


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["by-agent", "--since", "soon"], "cannot read 'soon' as a time"),
        (["by-agent", "--since", "2026-11-10", "--until", "2026-11-01"], "--until is before --since"),
        (["list", "--until", "2026-13-45"], "cannot read"),
        (["history", "--days", "0"], "--days must be 1 or more"),
        (["history", "--by", "fortnight"], "unknown period"),
        (["history", "--agent", "ghost"], "no agent named 'ghost'"),
        (["cleanup", "--older-than", "0"], "--older-than must be 1 day or more"),
        (["cleanup", "--older-than", "-3", "--dry-run"], "--older-than must be 1 day or more"),
        (
            ["record", "--model", "m", "--provider", "p", "--input-tokens", "-1", "--output-tokens", "1"],
            "cannot be negative",
        ),
        (
            [
                "record",
                "--model",
                "m",
                "--provider",
                "p",
                "--input-tokens",
                "1",
                "--output-tokens",
                "1",
                "--agent",
                "x",
            ],
            "unknown agent 'x'",
        ),
        (
            [
                "record",
                "--model",
                "m",
                "--provider",
                "p",
                "--input-tokens",
                "1",
                "--output-tokens",
                "1",
                "--cache-read-tokens",
                "5",
            ],
            "cache tokens are part of input_tokens",
        ),
    ],
)
def test_bad_input_changes_nothing(cli, args, message, agentik_home):
    cli("agents", "list")  # the database exists
    result = cli("costs", *args, code=2 if "ghost" not in message else 1)
    assert message in result.stderr and "Traceback" not in result.stderr
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


def test_when_forms():
    from agentik_cli.timeutil import parse_when

    now = datetime.now(UTC)
    assert abs(parse_when("7d") - (now - timedelta(days=7))) < timedelta(seconds=5)
    assert abs(parse_when("24h") - (now - timedelta(hours=24))) < timedelta(seconds=5)
    assert parse_when("2026-11-01T09:30:00Z") == datetime(2026, 11, 1, 9, 30, tzinfo=UTC)
    assert parse_when("2026-11-01") == datetime(2026, 11, 1, tzinfo=UTC)  # TZ=UTC in the tests
    assert parse_when("2026-11-01", end_of_day=True) == datetime(2026, 11, 2, tzinfo=UTC)
    assert parse_when("today").hour == 0


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Pacific/Chatham"])
def test_local_day_boundary(cli, monkeypatch, zone):
    """Two calls a few minutes either side of local midnight fall on two local days, whatever the
    zone's offset (whole hours, half hours, quarter hours)."""
    set_tz(monkeypatch, zone)
    midnight = datetime.now().astimezone().replace(hour=0, minute=0, second=0, microsecond=0)
    before, after = midnight - timedelta(minutes=5), midnight + timedelta(minutes=5)
    for moment, cost in ((before, "1"), (after, "2")):
        record(
            cli,
            model="m",
            provider="p",
            input_tokens=1,
            output_tokens=1,
            cost=cost,
            at=moment.astimezone(UTC).isoformat(),
        )
    summary = cli.json("costs", "summary")
    assert summary["today"] == 2.0 and summary["total"] == 3.0
    days = cli.json("costs", "history", "--days", "2")
    assert [(d["period"], d["cost"]) for d in days] == [
        (before.date().isoformat(), 1.0),
        (after.date().isoformat(), 2.0),
    ]
    today_only = cli.json("costs", "by-model", "--since", "today")
    assert today_only[0]["cost"] == 2.0
    listed = cli.json("costs", "list", "--since", before.date().isoformat(), "--until", before.date().isoformat())
    assert [r["total_cost"] for r in listed] == [1.0]


@pytest.mark.both_stores
def test_aggregates_match_the_ledger(cli, ledger, fake, agentik_home, tmp_path):
    """After chats, records, imports, renames, removals and a cleanup, the maintained aggregates equal
    a fresh GROUP BY over the ledger, to the nano-dollar."""
    cli("chat", "claude", "-m", "hi")
    cli("agents", "update", "gpt", "--name", "gpt-renamed")
    path = tmp_path / "u.jsonl"
    path.write_text(
        "\n".join(
            json.dumps(
                {
                    "model": "gpt-4o",
                    "provider": "openai",
                    "input_tokens": i,
                    "output_tokens": i,
                    "agent": "gpt-renamed",
                    "at": f"2026-0{1 + i % 9}-1{i % 9}T0{i % 9}:1{i % 6}:00Z",
                }
            )
            for i in range(1, 40)
        )
    )
    cli("costs", "import", str(path))
    cli("agents", "remove", "claude", "--yes")
    cli("costs", "cleanup", "--older-than", "200", "--yes")
    totals = db_rows(
        agentik_home,
        "SELECT agent_key, model, provider, calls, input_tokens, output_tokens, "
        "cache_read_tokens, cache_write_tokens, cost_nd, unpriced_calls, estimated_calls FROM cost_totals "
        "WHERE calls != 0 ORDER BY 1, 2, 3",
    )
    fresh = db_rows(
        agentik_home,
        "SELECT coalesce(agent_id, 0), model, provider, count(*), sum(input_tokens), "
        "sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
        "coalesce(sum(total_cost_nd), 0), sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END), "
        "sum(CASE WHEN estimated THEN 1 ELSE 0 END) FROM costs "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    )
    # a removed agent's rows keep its id, in the ledger and in the totals
    assert totals == fresh
    assert db_rows(agentik_home, "SELECT sum(calls), sum(cost_nd) FROM cost_buckets") == db_rows(
        agentik_home, "SELECT count(*), coalesce(sum(total_cost_nd), 0) FROM costs"
    )
    stats = cli.json("agents", "stats", "gpt-renamed")
    assert [(to_nd(stats["total_cost"]), stats["input_tokens"])] == db_rows(
        agentik_home,
        "SELECT coalesce(sum(total_cost_nd), 0), sum(input_tokens) FROM costs WHERE agent_name = 'gpt-renamed'",
    )


def test_usage_of_another_day_is_priced_at_that_days_prices(cli, tmp_path):
    """claude-sonnet-4-6's long-context premium ended on 2026-03-13 (the bundled price list): a 250k
    prompt recorded or imported for the day before costs $6 a million input tokens, after it $3."""
    args = ("--model", "claude-sonnet-4-6", "--provider", "anthropic", "--input-tokens", "250000")
    before = cli.json("costs", "record", *args, "--output-tokens", "0", "--at", "2026-03-12T09:00:00Z")
    after = cli.json("costs", "record", *args, "--output-tokens", "0", "--at", "2026-03-14T09:00:00Z")
    assert (before["total_cost"], after["total_cost"]) == (1.5, 0.75)
    rows = tmp_path / "rows.jsonl"
    rows.write_text(
        '{"model": "claude-sonnet-4-6", "provider": "anthropic", "input_tokens": 250000, "output_tokens": 0,'
        ' "at": "2026-03-12T10:00:00Z"}\n'
    )
    cli("costs", "import", str(rows))
    imported = [row for row in cli.json("costs", "list") if row["timestamp"] == "2026-03-12T10:00:00Z"]
    assert imported[0]["total_cost"] == 1.5
