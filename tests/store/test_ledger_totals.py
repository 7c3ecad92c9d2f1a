"""The running totals equal the ledger after every kind of write (chat, record, import, cleanup,
session and agent removal), per agent, model, provider and user; and the reports by user."""

from __future__ import annotations

import json

from tests.conftest import db_rows

SUMS = (
    "count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), coalesce(sum(cache_read_tokens), 0), "
    "coalesce(sum(cache_write_tokens), 0), coalesce(sum(total_cost_nd), 0), "
    "sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END), sum(CASE WHEN estimated THEN 1 ELSE 0 END), "
    "sum(CASE WHEN over_limit THEN 1 ELSE 0 END)"
)
TOTALS = (
    "calls, input_tokens, output_tokens, cache_read_tokens, cache_write_tokens, cost_nd, unpriced_calls, "
    "estimated_calls, over_limit_calls"
)


def assert_totals_equal_the_ledger(home) -> None:
    ledger = {
        tuple(r[:4]): tuple(int(v) for v in r[4:])
        for r in db_rows(
            home,
            f"SELECT coalesce(agent_id, 0), model, provider, user_name, {SUMS} FROM costs "
            "GROUP BY coalesce(agent_id, 0), model, provider, user_name",
        )
    }
    totals = {
        tuple(r[:4]): tuple(int(v) for v in r[4:])
        for r in db_rows(
            home, f"SELECT agent_key, model, provider, user_name, {TOTALS} FROM cost_totals WHERE calls <> 0"
        )
    }
    assert totals == ledger
    (all_rows,) = db_rows(home, f"SELECT {SUMS} FROM costs")
    (buckets,) = db_rows(
        home, f"SELECT {', '.join(f'coalesce(sum({c}), 0)' for c in TOTALS.split(', '))} FROM cost_buckets"
    )
    assert tuple(int(v or 0) for v in buckets) == tuple(int(v or 0) for v in all_rows)
    sessions = db_rows(
        home,
        "SELECT s.id, s.input_tokens, s.output_tokens, s.cost_nd, s.unpriced_calls, "
        "(SELECT coalesce(sum(input_tokens), 0) FROM costs c WHERE c.session_id = s.id), "
        "(SELECT coalesce(sum(output_tokens), 0) FROM costs c WHERE c.session_id = s.id), "
        "(SELECT coalesce(sum(total_cost_nd), 0) FROM costs c WHERE c.session_id = s.id), "
        "(SELECT count(*) FROM costs c WHERE c.session_id = s.id AND c.total_cost_nd IS NULL) FROM sessions s",
    )
    for row in sessions:
        assert tuple(int(v) for v in row[1:5]) == tuple(int(v) for v in row[5:9]), row


def record(cli, user: str, *args: str) -> None:
    cli(
        "costs",
        "record",
        "--provider",
        "openai",
        "--input-tokens",
        "1000",
        "--output-tokens",
        "100",
        *args,
        env={"AGENTIK_USER": user},
    )


def test_by_user_and_totals_through_every_write(cli, agentik_home, fake, tmp_path):
    cli("agents", "create", "helper", "--model", "gpt-4o-mini")
    cli("agents", "create", "other", "--model", "gpt-4o-mini")
    record(cli, "ana", "--model", "gpt-4o-mini", "--agent", "helper")
    record(cli, "ana", "--model", "gpt-4o-mini", "--at", "40d")
    record(cli, "bo", "--model", "gpt-4o", "--agent", "other")
    record(cli, "bo", "--model", "no-such-model-x")
    cli("chat", "helper", "-m", "hello", env={"AGENTIK_USER": "cy"})
    cli("chat", "other", "-m", "hello again", env={"AGENTIK_USER": "cy"})
    lines = [
        {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 5, "user": "dee"},
        {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 20, "output_tokens": 5, "at": "50d"},
    ]
    path = tmp_path / "usage.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    cli("costs", "import", str(path), env={"AGENTIK_USER": "eve"})
    assert_totals_equal_the_ledger(agentik_home)

    by_user = {r["user"]: r for r in cli.json("costs", "by-user")}
    assert set(by_user) == {"ana", "bo", "cy", "dee", "eve"}
    assert by_user["ana"]["calls"] == 2 and by_user["ana"]["input_tokens"] == 2000
    assert by_user["bo"]["unpriced_calls"] == 1
    assert by_user["dee"]["input_tokens"] == 10 and by_user["eve"]["input_tokens"] == 20
    assert set(by_user["ana"]) == {
        "user",
        "calls",
        "input_tokens",
        "output_tokens",
        "cache_read_tokens",
        "cache_write_tokens",
        "cost",
        "unpriced_calls",
        "estimated_calls",
        "over_limit_calls",
    }
    costs = [r["cost"] for r in cli.json("costs", "by-user")]
    assert costs == sorted(costs, reverse=True)
    # a window reads the ledger, not the totals: the same figures for what it holds
    recent = {r["user"]: r for r in cli.json("costs", "by-user", "--since", "7d")}
    assert set(recent) == {"ana", "bo", "cy", "dee"}
    assert recent["ana"]["calls"] == 1
    assert recent["bo"] == by_user["bo"]
    assert "ana" in cli("costs", "by-user").stdout
    assert cli("costs", "by-user", "--csv").stdout.splitlines()[0].startswith("user,calls,")
    assert {r["user"] for r in cli.json("costs", "list", "--limit", "100")} == set(by_user)

    cli("costs", "cleanup", "--older-than", "30", "--yes")
    assert_totals_equal_the_ledger(agentik_home)
    assert "eve" not in {r["user"] for r in cli.json("costs", "by-user")}
    session_id = cli.json("sessions", "list")[0]["id"]
    cli("sessions", "remove", str(session_id), "--yes")
    assert_totals_equal_the_ledger(agentik_home)
    cli("agents", "remove", "other", "--yes")
    assert_totals_equal_the_ledger(agentik_home)


def test_an_import_row_names_its_user_or_is_refused(cli, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        json.dumps({"model": "m", "provider": "p", "input_tokens": 1, "output_tokens": 1})
        + "\n"
        + json.dumps({"model": "m", "provider": "p", "input_tokens": 1, "output_tokens": 1, "user": "a\x1bb"})
        + "\n"
    )
    result = cli("costs", "import", str(path), code=2)
    assert "line 2" in result.stderr and "user" in result.stderr
    assert cli.json("costs", "list") == []
    path.write_text(
        json.dumps({"model": "m", "provider": "p", "input_tokens": 1, "output_tokens": 1, "user": 7}) + "\n"
    )
    assert "line 1" in cli("costs", "import", str(path), code=2).stderr


def test_a_bad_agentik_user_is_refused_before_anything_is_written(cli):
    result = cli(
        "costs",
        "record",
        "--model",
        "m",
        "--provider",
        "p",
        "--input-tokens",
        "1",
        "--output-tokens",
        "1",
        env={"AGENTIK_USER": "  "},
        code=2,
    )
    assert "AGENTIK_USER" in result.stderr
    assert cli.json("costs", "list") == []
