"""`costs import` in bulk (issue 22): rows straight to the driver a chunk at a time, the SQLite indexes
built afresh past a threshold, binary COPY on PostgreSQL. What the fast path must keep: each row's
prices and costs, the line a bad row names, all rows or none, and the store's schema."""

from __future__ import annotations

import json

import pytest

from agentik_cli.services import costs
from agentik_cli.store import bulk
from tests.conftest import db_rows

TOTALS_EQUAL = (
    "SELECT (SELECT count(*) FROM costs) = (SELECT coalesce(sum(calls), 0) FROM cost_totals), "
    "(SELECT coalesce(sum(total_cost_nd), 0) FROM costs) = (SELECT coalesce(sum(cost_nd), 0) FROM cost_totals), "
    "(SELECT count(*) FROM costs) = (SELECT coalesce(sum(calls), 0) FROM cost_buckets), "
    "(SELECT coalesce(sum(total_cost_nd), 0) FROM costs) = (SELECT coalesce(sum(cost_nd), 0) FROM cost_buckets)"
)


def records(n: int, **extra) -> list[dict]:
    return [
        {
            "model": "gpt-4o-mini",
            "provider": "openai",
            "input_tokens": 1000 + i,
            "output_tokens": i % 7,
            "at": f"2026-03-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:00Z",
            **extra,
        }
        for i in range(n)
    ]


def write(path, rows: list) -> str:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return str(path)


def indexes(home) -> list[tuple]:
    return db_rows(
        home, "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'costs' ORDER BY name"
    )


def test_tiered_prices_follow_each_rows_prompt(cli, tmp_path, agentik_home):
    """gemini-2.5-pro costs twice as much past 200k prompt tokens: a model's prices are looked up
    once only when they have no tiers."""
    small = {"model": "gemini-2.5-pro", "provider": "google", "input_tokens": 1_000_000 // 8, "output_tokens": 0}
    large = dict(small, input_tokens=250_000)
    assert cli("costs", "import", write(tmp_path / "t.jsonl", [small, large, small])).stdout == "3\n"
    rows = db_rows(agentik_home, "SELECT input_tokens, price_input_nd, total_cost_nd FROM costs ORDER BY id")
    assert rows == [(125_000, 1_250_000_000, 156_250_000), (250_000, 2_500_000_000, 625_000_000)] + [
        (125_000, 1_250_000_000, 156_250_000)
    ]


def test_a_given_cost_keeps_the_days_prices_and_an_unknown_model_none(cli, tmp_path, agentik_home):
    given = {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1, "cost": "0.5"}
    unknown = {"model": "no-such-model", "provider": "openai", "input_tokens": 10, "output_tokens": 1}
    cli("costs", "import", write(tmp_path / "c.jsonl", [given, unknown]))
    rows = db_rows(
        agentik_home,
        "SELECT input_cost_nd, output_cost_nd, total_cost_nd, price_input_nd, price_output_nd FROM costs ORDER BY id",
    )
    assert rows == [(None, None, 500_000_000, 150_000_000, 600_000_000), (None, None, None, None, None)]


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"model": "m", "provider": "openai", "input_tokens": 1}, "line 2345: missing output_tokens"),
        ([1, 2], "line 2345: a record must be a JSON object"),
    ],
)
def test_a_bad_row_in_a_later_chunk_names_its_line(cli, tmp_path, agentik_home, bad, message):
    rows = records(3000)
    rows[2344] = bad
    result = cli("costs", "import", write(tmp_path / "bad.jsonl", rows), code=2)
    assert result.stderr.splitlines()[0] == f"agentik: error: {message}"
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(0,)]


def test_an_import_in_many_chunks_moves_the_totals_once_by_every_row(cli, tmp_path, agentik_home):
    cli("costs", "import", write(tmp_path / "a.jsonl", records(2 * costs.CHUNK + 17)))
    cli("costs", "import", write(tmp_path / "b.jsonl", records(5, user="ann")))
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(2 * costs.CHUNK + 22,)]
    assert db_rows(agentik_home, TOTALS_EQUAL) == [(1, 1, 1, 1)]
    assert db_rows(agentik_home, "SELECT user_name, calls FROM cost_totals WHERE user_name = 'ann'") == [("ann", 5)]


@pytest.mark.sqlite_only(reason="the indexes built afresh are SQLite's")
def test_a_big_import_builds_the_indexes_again_as_they_were(cli, tmp_path, agentik_home, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_ROWS", 100)
    cli("costs", "import", write(tmp_path / "first.jsonl", records(10)))
    before = indexes(agentik_home)
    assert len(before) >= 10
    dropped: list[list[str]] = []
    drop = bulk._drop_plain_indexes
    monkeypatch.setattr(bulk, "_drop_plain_indexes", lambda driver: dropped.append(drop(driver)) or dropped[-1])

    assert cli("costs", "import", write(tmp_path / "big.jsonl", records(2500))).stdout == "2500\n"
    assert dropped and len(dropped[0]) == len(before) - 1  # all but the unique one, which stays
    assert indexes(agentik_home) == before
    assert db_rows(agentik_home, "PRAGMA integrity_check") == [("ok",)]
    assert db_rows(agentik_home, TOTALS_EQUAL) == [(1, 1, 1, 1)]

    # past the threshold and then a bad row: the rows and the dropped indexes roll back together
    # (past the ledger's 2,510 rows too: 5,000 written before the bad one)
    rows = records(6000)
    rows[5399] = {"model": "m", "provider": "openai", "input_tokens": -1, "output_tokens": 1}
    result = cli("costs", "import", write(tmp_path / "bad.jsonl", rows), code=2)
    assert "line 5400: input_tokens cannot be negative" in result.stderr
    assert len(dropped) == 2
    assert indexes(agentik_home) == before
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(2510,)]
    assert db_rows(agentik_home, "PRAGMA integrity_check") == [("ok",)]


@pytest.mark.sqlite_only(reason="the indexes built afresh are SQLite's")
def test_an_import_smaller_than_the_ledger_keeps_its_indexes(cli, tmp_path, agentik_home, monkeypatch):
    monkeypatch.setattr(bulk, "BULK_ROWS", 100)
    cli("costs", "import", write(tmp_path / "first.jsonl", records(3000)))
    monkeypatch.setattr(bulk, "_drop_plain_indexes", lambda driver: pytest.fail("dropped the indexes"))
    assert cli("costs", "import", write(tmp_path / "second.jsonl", records(2000))).stdout == "2000\n"
