"""Gemini CLI's chat recordings read into calls (sources/gemini.py), and `costs import --from gemini`
end to end. The fixtures (tests/fixtures/gemini/, sources in its README) are written from Gemini CLI's
own definitions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from agentik_cli.sources import gemini

FIXTURES = Path(__file__).parents[1] / "fixtures" / "gemini"
OLD = "3f2a9b1c-5d6e-4f70-8a91-b2c3d4e5f607"
NEW = "7c1d9e2a-0b1c-4d2e-9f30-415263748596"
DOCUMENT = next(FIXTURES.rglob("session-2025-10-02T10-00-3f2a9b1c.json"))
RECORDS = FIXTURES / "tmp" / "orbit" / "chats" / "session-2025-10-03T11-00-7c1d9e2a.jsonl"


def tokens(call: gemini.Call) -> tuple[int, int, int]:
    return (call.input_tokens, call.cache_read_tokens, call.output_tokens)


def test_a_json_chat_is_read_whole_with_thinking_as_output_and_tool_prompts_as_input() -> None:
    read = gemini.read(DOCUMENT, {})
    assert [call.key for call in read.calls] == [f"{OLD}:a2", f"{OLD}:a5"]
    # a2: input 9,000 (cached 4,000 inside it) + tool-use prompt 1,000; output 300 + thoughts 700
    assert [tokens(call) for call in read.calls] == [(10000, 4000, 1000), (10500, 9000, 40)]
    assert [call.model for call in read.calls] == ["gemini-2.5-pro", "gemini-2.5-flash"]
    assert {call.provider for call in read.calls} == {"google"}
    assert read.calls[0].text == "There are three open issues: ..."
    assert [said.text for said in read.said] == ["Summarise the open issues in this repo", "Which one is oldest?"]
    assert read.sessions[OLD].title == "Summarise the open issues in this repo"
    # seven messages: an info one passed over, a gemini one with tokens null (no call), one of a new type
    assert (read.lines, read.unknown, read.unparsable, read.failed) == (7, 1, 0, None)
    # rewritten, not appended: the mark's offset means nothing to it
    assert [call.key for call in gemini.read(DOCUMENT, {"offset": 200, "head": ""}).calls] == [f"{OLD}:a2", f"{OLD}:a5"]


def test_a_json_chat_that_does_not_parse_whole_is_skipped_whole(tmp_path: Path) -> None:
    chats = tmp_path / "tmp" / "p" / "chats"
    chats.mkdir(parents=True)
    whole = DOCUMENT.read_text()
    cut = chats / "session-cut.json"
    cut.write_text(whole[: whole.index('"a5"')])  # written halfway, or damaged: its first calls parse
    read = gemini.read(cut, {})
    assert read.failed is not None and read.failed.startswith("not valid JSON")
    assert (read.calls, read.said, read.sessions) == ([], [], {})
    other = chats / "settings.json"
    other.write_text('{"theme": "dark"}')
    assert gemini.read(other, {}).failed == "not a Gemini CLI chat (no messages list)"


def test_a_jsonl_chat_keeps_the_last_record_of_a_message_and_the_calls_a_rewind_drops() -> None:
    read = gemini.read(RECORDS, {})
    # m2 was written twice, its tokens with the second; m4 stays after the person rewound to m3
    assert [call.key for call in read.calls] == [f"{NEW}:m2", f"{NEW}:m4"]
    assert [tokens(call) for call in read.calls] == [(20000, 12000, 500), (26300, 20000, 720)]
    assert read.sessions[NEW].project == "/home/ada/projects/orbit"  # the project's .project_root
    assert read.sessions[NEW].title == "Why is the orbit test flaky?"
    assert (read.lines, read.unknown, read.unparsable) == (10, 1, 1)


def test_a_jsonl_chat_is_read_on_from_its_mark(tmp_path: Path) -> None:
    lines = RECORDS.read_text().splitlines(keepends=True)
    chats = tmp_path / "tmp" / "orbit" / "chats"
    chats.mkdir(parents=True)
    path = chats / RECORDS.name
    path.write_text("".join(lines[:3]))  # the metadata, the question, the answer before its tokens
    first = gemini.read(path, {})
    assert (first.calls, [said.key for said in first.said]) == ([], [f"{NEW}:m1"])
    with path.open("a") as handle:
        handle.write("".join(lines[3:]))
    second = gemini.read(path, json.loads(json.dumps(first.mark)))
    # the session id came with the first read's metadata record, not the file's name
    assert [call.key for call in second.calls] == [f"{NEW}:m2", f"{NEW}:m4"]
    assert [said.key for said in second.said] == [f"{NEW}:m3"]
    assert second.sessions.get(NEW) is None or second.sessions[NEW].title == ""


def test_where_gemini_cli_keeps_its_chats(tmp_path: Path) -> None:
    assert gemini.default_paths({}, tmp_path) == [tmp_path / ".gemini" / "tmp"]
    assert gemini.default_paths({"GEMINI_CLI_HOME": "/srv/g"}, tmp_path) == [Path("/srv/g/.gemini/tmp")]
    assert gemini.wanted(DOCUMENT) and gemini.wanted(RECORDS)
    assert gemini.wanted(tmp_path / "tmp/orbit/chats/parent-id/subagent-id.jsonl")  # a subagent's
    assert not gemini.wanted(tmp_path / "tmp/orbit/logs.json")
    assert not gemini.wanted(tmp_path / "tmp/orbit/chats/session-x.jsonl.unreadable-1760000000000")


@pytest.mark.both_stores
def test_import_prices_each_call_and_imports_only_what_is_new(cli, tmp_path: Path) -> None:
    folder = tmp_path / "gemini"
    shutil.copytree(FIXTURES, folder)
    broken = folder / "tmp" / "orbit" / "chats" / "session-2025-10-04T09-00-0a0b0c0d.json"
    broken.write_text('{"sessionId": "0a0b0c0d", "messages": [{"id": "x1", "type": "gemini", "tokens": {"inp')
    summary = cli.json("costs", "import", "--from", "gemini", str(folder))
    assert (summary["files"], summary["imported"], summary["sessions"]) == (3, 4, 2)
    assert [failed.split(": ")[0] for failed in summary["skipped"]["files"]] == [str(broken.resolve())]
    rows = {(row["model"], row["input_tokens"]): row for row in cli.json("costs", "list")}
    assert len(rows) == 4
    # gemini-2.5-pro on 2025-10-02 (prompt under 200k) lists $1.25 input, $0.125 cached, $10 output per
    # million: 10,000 prompt (9,000 + 1,000 tool-use) of which 4,000 cached, 1,000 output (300 + 700
    # thinking): 6,000 x 1.25/1e6 = $0.0075 + 4,000 x 0.125/1e6 = $0.0005 + 1,000 x 10/1e6 = $0.01 = $0.018
    assert rows[("gemini-2.5-pro", 10000)]["total_cost"] == pytest.approx(0.018, abs=1e-12)
    titles = {one["title"] for one in cli.json("sessions", "list")}
    assert "orbit: Why is the orbit test flaky?" in titles

    again = cli.json("costs", "import", "--from", "gemini", str(folder))
    assert (again["imported"], again["messages"]) == (0, 0)

    # the .json rewritten with one more call: read whole again, its earlier calls known by their keys
    document = folder / DOCUMENT.relative_to(FIXTURES)
    chat = json.loads(document.read_text())
    chat["messages"].append(
        {
            "id": "a8",
            "timestamp": "2025-10-02T10:05:00.000Z",
            "type": "gemini",
            "content": "Done.",
            "tokens": {"input": 12000, "output": 60, "cached": 10000, "thoughts": 40, "tool": 0, "total": 12100},
            "model": "gemini-2.5-flash",
        }
    )
    document.write_text(json.dumps(chat))
    # and the .jsonl appended to
    records = folder / RECORDS.relative_to(FIXTURES)
    with records.open("a") as handle:
        handle.write(
            json.dumps(
                {
                    "id": "m6",
                    "timestamp": "2025-10-03T11:02:00.000Z",
                    "type": "gemini",
                    "content": "Rerun passed.",
                    "tokens": {"input": 30000, "output": 20, "cached": 26000, "thoughts": 0, "tool": 0, "total": 30020},
                    "model": "gemini-2.5-pro",
                }
            )
            + "\n"
        )
    more = cli.json("costs", "import", "--from", "gemini", str(folder))
    assert (more["imported"], more["skipped"]["duplicates"]) == (2, 2)
    rows = {(row["model"], row["input_tokens"]): row for row in cli.json("costs", "list")}
    assert set(rows) - {("gemini-2.5-pro", 10000), ("gemini-2.5-flash", 10500), ("gemini-2.5-pro", 20000)} == {
        ("gemini-2.5-pro", 26300),
        ("gemini-2.5-flash", 12000),
        ("gemini-2.5-pro", 30000),
    }
