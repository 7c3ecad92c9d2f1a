"""Codex's rollouts read into calls (sources/codex.py), and `costs import --from codex` end to end.
The fixtures (tests/fixtures/codex/, sources in its README) are written from Codex's own definitions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentik_cli.sources import codex

FIXTURES = Path(__file__).parents[1] / "fixtures" / "codex"
SESSION = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
ROLLOUT = FIXTURES / "sessions" / "2025" / "10" / "01" / f"rollout-2025-10-01T09-00-00-{SESSION}.jsonl"
ARCHIVED = "0199a0ff-1111-7222-8333-944455566677"


def tokens(call: codex.Call) -> tuple[int, int, int, int]:
    return (call.input_tokens, call.cache_read_tokens, call.cache_write_tokens, call.output_tokens)


def token_count(at: str, input_tokens: int, cached: int, output: int, reasoning: int = 0) -> str:
    total = {
        "input_tokens": input_tokens,
        "cached_input_tokens": cached,
        "output_tokens": output,
        "reasoning_output_tokens": reasoning,
        "total_tokens": input_tokens + output,
    }
    info = {"total_token_usage": total, "last_token_usage": total, "model_context_window": 272000}
    return json.dumps({"timestamp": at, "type": "event_msg", "payload": {"type": "token_count", "info": info}}) + "\n"


def test_a_call_is_a_token_count_whose_running_total_grew() -> None:
    read = codex.read(ROLLOUT, {})
    # five token_count events: one with info null (rate limits only), one repeating the total before it
    assert [call.key for call in read.calls] == [f"{SESSION}:12600", f"{SESSION}:28100", f"{SESSION}:41500"]
    # differences of the running total; output_tokens already holds the reasoning (600 = 200 + 400 reasoning)
    expected = [(12000, 8000, 0, 600), (15000, 11000, 0, 500), (13000, 11000, 0, 400)]
    assert [tokens(call) for call in read.calls] == expected
    # the model of the latest turn_context: changed to gpt-5 before the third call
    assert [call.model for call in read.calls] == ["gpt-5-codex", "gpt-5-codex", "gpt-5"]
    assert {call.provider for call in read.calls} == {"openai"}
    assert [call.at.isoformat() for call in read.calls][0] == "2025-10-01T09:00:09.200000+00:00"
    # the assistant's words go with the call that follows them; none came before the third
    assert [call.text for call in read.calls] == ["I'll look at fetcher.py first.", "Added a retry with backoff.", ""]
    assert [said.text for said in read.said] == ["Add a retry to the fetcher", "Now write the tests"]
    assert read.sessions[SESSION].title == "Add a retry to the fetcher"
    assert read.sessions[SESSION].project == "/home/ada/projects/orbit"
    # a line of a type no Codex writes today, and a line cut off mid-write
    assert (read.lines, read.unknown, read.unparsable) == (19, 1, 1)


def test_an_incremental_read_carries_the_running_total_the_model_and_words_in_the_mark(tmp_path: Path) -> None:
    lines = ROLLOUT.read_text().splitlines(keepends=True)
    path = tmp_path / ROLLOUT.name
    # up to the second agent_message: its token_count, the turn_context of gpt-5 and the rest come later
    path.write_text("".join(lines[:13]))
    first = codex.read(path, {})
    assert [call.key for call in first.calls] == [f"{SESSION}:12600"]
    # the words waiting for their call stay in the file, not in the mark the store keeps
    assert "Added a retry" not in json.dumps(first.mark)
    with path.open("a") as handle:
        handle.write("".join(lines[13:]))
    second = codex.read(path, json.loads(json.dumps(first.mark)))  # the mark as the importer stores it
    whole = codex.read(ROLLOUT, {})
    assert [call.key for call in second.calls] == [call.key for call in whole.calls[1:]]
    # the difference from the total of the first read, not the whole running total
    assert [tokens(call) for call in second.calls] == [(15000, 11000, 0, 500), (13000, 11000, 0, 400)]
    assert [call.model for call in second.calls] == ["gpt-5-codex", "gpt-5"]
    assert second.calls[0].text == "Added a retry with backoff."
    assert second.sessions[SESSION].title == ""  # the title came with the first read, once


def test_a_mark_made_on_another_file_is_not_carried_on(tmp_path: Path) -> None:
    path = tmp_path / ROLLOUT.name
    shutil.copyfile(ROLLOUT, path)
    mark = codex.read(path, {}).mark
    # the file replaced by another session's (shorter, other first bytes): read from its start, afresh
    shutil.copyfile(next((FIXTURES / "archived_sessions").rglob("*.jsonl")), path)
    read = codex.read(path, mark)
    assert [(call.key, call.model) for call in read.calls] == [(f"{ARCHIVED}:5200", "gpt-5-codex")]
    assert tokens(read.calls[0]) == (5000, 0, 0, 200)


def test_a_running_total_that_shrinks_starts_a_new_count(tmp_path: Path) -> None:
    path = tmp_path / "rollout-2025-10-05T08-00-00-0199b000-0000-7000-8000-000000000001.jsonl"
    path.write_text(
        token_count("2025-10-05T08:00:01Z", 1000, 0, 100)
        + token_count("2025-10-05T08:00:02Z", 300, 0, 20)
        + token_count("2025-10-05T08:00:03Z", 700, 100, 50)
    )
    read = codex.read(path, {})
    session = "0199b000-0000-7000-8000-000000000001"  # from the file's name: no session_meta line
    assert [call.key for call in read.calls] == [f"{session}:1100", f"{session}:1:320", f"{session}:1:750"]
    assert [tokens(call) for call in read.calls] == [(1000, 0, 0, 100), (300, 0, 0, 20), (400, 100, 0, 30)]
    assert {call.model for call in read.calls} == {"unknown"}  # no turn_context: unpriced, never guessed


def test_cache_writes_are_inside_the_prompt(tmp_path: Path) -> None:
    path = tmp_path / "rollout-x.jsonl"
    usage = {"input_tokens": 9000, "cached_input_tokens": 5000, "cache_write_input_tokens": 3000}
    usage |= {"output_tokens": 100, "reasoning_output_tokens": 0, "total_tokens": 9100}
    line = {"type": "event_msg", "timestamp": "2025-10-05T08:00:01Z"}
    line["payload"] = {"type": "token_count", "info": {"total_token_usage": usage}}
    path.write_text(json.dumps(line) + "\n" + '["not", "an", "object"]\n' + '{"type": "event_msg", "payload": 3}\n')
    read = codex.read(path, {})
    assert [tokens(call) for call in read.calls] == [(9000, 5000, 3000, 100)]
    assert read.calls[0].cache_write_5m_tokens == 3000
    assert read.unparsable == 2


def test_where_codex_keeps_its_rollouts(tmp_path: Path) -> None:
    assert codex.default_paths({}, tmp_path) == [tmp_path / ".codex/sessions", tmp_path / ".codex/archived_sessions"]
    assert codex.default_paths({"CODEX_HOME": "/srv/codex"}, tmp_path) == [
        Path("/srv/codex/sessions"),
        Path("/srv/codex/archived_sessions"),
    ]
    assert codex.wanted(ROLLOUT)
    assert not codex.wanted(tmp_path / "history.jsonl")


# ---- end to end: the command, its store, its prices ----


def _by_tokens(rows: list[dict]) -> dict[tuple[str, int], dict]:
    return {(row["model"], row["input_tokens"]): row for row in rows}


@pytest.mark.both_stores
def test_import_prices_each_call_and_imports_only_what_is_new(cli, tmp_path: Path) -> None:
    folder = tmp_path / "codex"
    shutil.copytree(FIXTURES, folder, ignore=shutil.ignore_patterns("forked"))  # forks: their own test
    summary = cli.json("costs", "import", "--from", "codex", str(folder))
    assert (summary["files"], summary["imported"], summary["sessions"]) == (2, 4, 2)
    assert summary["skipped"] == {"duplicates": 0, "unknown_types": 1, "unparsable": 1, "files": []}
    rows = _by_tokens(cli.json("costs", "list"))
    # gpt-5-codex on 2025-10-01 lists $1.25 input, $0.125 cached input, $10 output per million tokens:
    # 12,000 prompt of which 8,000 cached, 600 output (reasoning inside):
    # 4,000 x 1.25/1e6 = $0.005 + 8,000 x 0.125/1e6 = $0.001 + 600 x 10/1e6 = $0.006 = $0.012
    assert rows[("gpt-5-codex", 12000)]["total_cost"] == pytest.approx(0.012, abs=1e-12)
    # gpt-5 (same list prices), after the model changed: 2,000 x 1.25 + 11,000 x 0.125 + 400 x 10 per 1e6
    # = $0.0025 + $0.001375 + $0.004 = $0.007875
    assert rows[("gpt-5", 13000)]["total_cost"] == pytest.approx(0.007875, abs=1e-12)
    assert {row["agent"] for row in rows.values()} == {"codex"}
    titles = {one["title"] for one in cli.json("sessions", "list")}
    assert titles == {"orbit: Add a retry to the fetcher", "atlas: What does atlas/build.sh do?"}

    again = cli.json("costs", "import", "--from", "codex", str(folder))
    assert (again["imported"], again["lines"], again["messages"]) == (0, 0, 0)

    rollout = next((folder / "sessions").rglob("rollout-*.jsonl"))
    with rollout.open("a") as handle:
        handle.write(
            '{"timestamp":"2025-10-01T09:03:00Z","type":"event_msg","payload":{"type":"agent_message",'
            '"message":"Tests added."}}\n'
        )
        handle.write(token_count("2025-10-01T09:03:01Z", 50000, 36000, 1800, 1100))
    appended = cli.json("costs", "import", "--from", "codex", str(folder))
    assert (appended["imported"], appended["lines"], appended["skipped"]["duplicates"]) == (1, 2, 0)
    rows = _by_tokens(cli.json("costs", "list"))
    assert len(rows) == 5
    # the difference from the stored running total (40,000 / 30,000 / 1,500), on the model of the last
    # turn_context read a run earlier: 4,000 x 1.25 + 6,000 x 0.125 + 300 x 10 per 1e6 = $0.00875
    new = rows[("gpt-5", 10000)]
    assert (new["cache_read_tokens"], new["output_tokens"]) == (6000, 300)
    assert new["total_cost"] == pytest.approx(0.00875, abs=1e-12)


# ---- forks and subagents: the parent's calls copied into the child's file, counted once ----

FORKED = FIXTURES / "forked" / "sessions" / "2025" / "10" / "03"
PARENT = "0199c3a0-1111-7aaa-8bbb-000000000001"
FORK = "0199c3e0-2222-7aaa-8bbb-000000000002"
SUBAGENT = "0199c3c0-3333-7aaa-8bbb-000000000003"


def rollout(session: str) -> Path:
    return next(FORKED.glob(f"rollout-*-{session}.jsonl"))


def test_a_fork_counts_only_its_own_calls_from_the_running_total_it_carries_on() -> None:
    parent = codex.read(rollout(PARENT), {})
    assert [tokens(call) for call in parent.calls] == [(10000, 6000, 0, 500), (14000, 10000, 0, 700)]
    # `codex fork`: forked_from_id; the parent's two calls copied at the moment of the fork, then its own
    fork = codex.read(rollout(FORK), {})
    assert [call.key for call in fork.calls] == [f"{FORK}:34500", f"{FORK}:46900"]
    # differences from the copied running total (24,000 / 16,000 / 1,200), not from zero
    assert [tokens(call) for call in fork.calls] == [(9000, 7000, 0, 300), (12000, 10000, 0, 400)]
    assert {call.session for call in fork.calls} == {FORK}
    assert [call.text for call in fork.calls] == ["Switched to the wide schema.", "Backfill redone for it."]
    # a spawned subagent (source.subagent.thread_spawn) whose copy of the parent's last turn keeps its times
    subagent = codex.read(rollout(SUBAGENT), {})
    assert [(call.key, tokens(call), call.model) for call in subagent.calls] == [
        (f"{SUBAGENT}:28400", (3000, 1000, 0, 200), "gpt-5-codex")
    ]
    assert subagent.calls[0].text == "Both indexes are used."


def test_a_fork_read_in_two_parts_skips_the_rest_of_its_copy(tmp_path: Path) -> None:
    lines = rollout(FORK).read_text().splitlines(keepends=True)
    path = tmp_path / rollout(FORK).name
    path.write_text("".join(lines[:6]))  # its session_meta and the copy up to the parent's first call
    first = codex.read(path, {})
    assert first.calls == []
    with path.open("a") as handle:
        handle.write("".join(lines[6:]))
    second = codex.read(path, json.loads(json.dumps(first.mark)))  # the mark as the importer stores it
    whole = codex.read(rollout(FORK), {})
    assert [(call.key, tokens(call)) for call in second.calls] == [(call.key, tokens(call)) for call in whole.calls]
    assert [tokens(call) for call in second.calls] == [(9000, 7000, 0, 300), (12000, 10000, 0, 400)]
    # read on past the copy: a call appended later is a difference from the fork's own total
    with path.open("a") as handle:
        handle.write(token_count("2025-10-03T11:03:00Z", 50000, 37000, 2000))
    third = codex.read(path, json.loads(json.dumps(second.mark)))
    assert [(call.key, tokens(call)) for call in third.calls] == [(f"{FORK}:52000", (5000, 4000, 0, 100))]


@pytest.mark.both_stores
def test_import_counts_a_parent_and_its_fork_and_subagent_calls_once(cli, tmp_path: Path) -> None:
    folder = tmp_path / "codex"
    shutil.copytree(FIXTURES / "forked", folder)
    summary = cli.json("costs", "import", "--from", "codex", str(folder))
    # the parent's 2 calls, the fork's own 2 and the subagent's own 1; the copies make no call
    assert (summary["files"], summary["imported"], summary["sessions"]) == (3, 5, 3)
    assert summary["skipped"]["duplicates"] == 0
    rows = cli.json("costs", "list")
    assert sorted((row["input_tokens"], row["cache_read_tokens"], row["output_tokens"]) for row in rows) == [
        (3000, 1000, 200),
        (9000, 7000, 300),
        (10000, 6000, 500),
        (12000, 10000, 400),
        (14000, 10000, 700),
    ]
    by_tokens = _by_tokens(rows)
    # gpt-5-codex on 2025-10-03: $1.25 input, $0.125 cached input, $10 output per million tokens.
    # The fork's own calls: 2,000 x 1.25 + 7,000 x 0.125 + 300 x 10 per 1e6 = $0.0025 + $0.000875 + $0.003
    # = $0.006375; and 2,000 x 1.25 + 10,000 x 0.125 + 400 x 10 per 1e6 = $0.0025 + $0.00125 + $0.004 = $0.00775
    assert by_tokens[("gpt-5-codex", 9000)]["total_cost"] == pytest.approx(0.006375, abs=1e-12)
    assert by_tokens[("gpt-5-codex", 12000)]["total_cost"] == pytest.approx(0.00775, abs=1e-12)
    # the subagent's: 2,000 x 1.25 + 1,000 x 0.125 + 200 x 10 per 1e6 = $0.0025 + $0.000125 + $0.002 = $0.004625
    assert by_tokens[("gpt-5-codex", 3000)]["total_cost"] == pytest.approx(0.004625, abs=1e-12)
    # the parent's, once: 4,000 x 1.25 + 6,000 x 0.125 + 500 x 10 = $0.01075; 4,000 x 1.25 + 10,000 x 0.125
    # + 700 x 10 = $0.01325 (per 1e6). All five: $0.04275
    assert by_tokens[("gpt-5-codex", 10000)]["total_cost"] == pytest.approx(0.01075, abs=1e-12)
    assert by_tokens[("gpt-5-codex", 14000)]["total_cost"] == pytest.approx(0.01325, abs=1e-12)
    assert sum(row["total_cost"] for row in rows) == pytest.approx(0.04275, abs=1e-12)
    assert len(cli.json("sessions", "list")) == 3
