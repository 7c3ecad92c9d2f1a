"""A second hostile review of `costs import --from codex|gemini|llm` (issue 23; the first, of Claude
Code, is test_review23.py): each test is a defect found by trying to break the import, named for the
behaviour a user expects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentik_cli.cli.app import app
from agentik_cli.sources import llm
from tests.conftest import base_env
from tests.sources.test_codex import token_count
from tests.sources.test_llm import add_response, make_db

pytestmark = pytest.mark.both_stores

SESSION = "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"
# deeper than Python's recursion limit: json.loads raises RecursionError, not ValueError
NESTED = "[" * 100_000 + "]" * 100_000


def rollout(folder: Path, session: str = SESSION, calls: int = 1, nested: bool = False) -> Path:
    """A Codex rollout of `calls` calls of 1,000 prompt (400 cached) and 100 output each."""
    path = folder / "sessions" / "2025" / "10" / "01" / f"rollout-2025-10-01T09-00-00-{session}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [
        json.dumps({"timestamp": "2025-10-01T09:00:00Z", "type": "session_meta", "payload": {"id": session}}) + "\n",
        json.dumps({"timestamp": "2025-10-01T09:00:00Z", "type": "turn_context", "payload": {"model": "gpt-5"}}) + "\n",
    ]
    if nested:
        lines.append(NESTED + "\n")
    for number in range(1, calls + 1):
        at = f"2025-10-01T09:{number // 60:02d}:{number % 60:02d}Z"
        lines.append(token_count(at, 1_000 * number, 400 * number, 100 * number))
    path.write_text("".join(lines))
    return path


def test_a_deeply_nested_line_is_one_unparsable_line_not_the_end_of_the_import(cli, tmp_path):
    rollout(tmp_path / "codex", nested=True)
    rollout(tmp_path / "codex", session="0199a1b2-c3d4-7e5f-8a9b-000000000002")
    # was: exit 1, "unexpected RecursionError", on this run and every one after: nothing imported
    summary = cli.json("costs", "import", "--from", "codex", str(tmp_path / "codex"))
    assert (summary["imported"], summary["skipped"]["unparsable"]) == (2, 1)
    # gpt-5: 600 x $1.25 + 400 x $0.125 + 100 x $10 per million = $0.0018 a call
    assert summary["cost"] == pytest.approx(2 * 0.0018, abs=1e-12)


def test_a_deeply_nested_gemini_json_chat_is_named_and_skipped_and_the_others_imported(cli, tmp_path):
    chats = tmp_path / "gemini" / "tmp" / "p" / "chats"
    chats.mkdir(parents=True)
    (chats / "session-deep.json").write_text('{"sessionId": "deep", "messages": ' + NESTED + "}")
    call = {"id": "g1", "timestamp": "2025-10-02T10:00:00Z", "type": "gemini", "model": "gemini-2.5-pro"}
    call["tokens"] = {"input": 1_000, "output": 100, "cached": 0, "thoughts": 0, "tool": 0, "total": 1_100}
    (chats / "session-ok.json").write_text(json.dumps({"sessionId": "ok", "messages": [call]}))
    summary = cli.json("costs", "import", "--from", "gemini", str(tmp_path / "gemini"))
    assert summary["imported"] == 1
    [failed] = summary["skipped"]["files"]
    assert failed.startswith(str((chats / "session-deep.json").resolve()) + ": ")


def test_thinking_that_an_older_llm_gemini_kept_in_token_details_is_output(tmp_path):
    # llm-gemini before 0.19.1 (simonw/llm-gemini 9a1ccac, "Output counts now include thinking tokens",
    # #75) recorded output_tokens = candidatesTokenCount and left thoughtsTokenCount in token_details
    # (candidatesTokenCount popped out of them); Google bills the thinking as output all the same
    db = make_db(tmp_path / "logs.db")
    details = {"thoughtsTokenCount": 700, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1000}]}
    add_response(db, "01je0000000000000000000001", None, model="gemini-2.5-pro", tokens=(1000, 300), details=details)
    # llm-gemini since 0.19.1: the thinking inside output_tokens, candidatesTokenCount left in the details
    details = {"candidatesTokenCount": 300, "thoughtsTokenCount": 700}
    add_response(db, "01je0000000000000000000002", None, model="gemini-2.5-pro", tokens=(1000, 1000), details=details)
    calls = llm.read(db, {}).calls
    assert [(call.input_tokens, call.output_tokens) for call in calls] == [(1000, 1000), (1000, 1000)]


@pytest.mark.slow
def test_ctrl_c_during_a_parallel_import_prints_no_traceback_and_leaves_no_reader(tmp_path):
    folder = tmp_path / "codex"
    for number in range(40):
        rollout(folder, session=f"0199a1b2-c3d4-7e5f-8a9b-{number:012d}", calls=300)
    # the forked readers of a big import (PARALLEL_BYTES), on these few megabytes
    script = (
        "import sys\nfrom agentik_cli.services import usage_import\nusage_import.PARALLEL_BYTES = 0\n"
        "from agentik_cli.cli.app import main\nsys.argv = ['agentik', *sys.argv[1:]]\nmain()\n"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", script, "costs", "import", "--from", "codex", str(folder)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=base_env(),
        start_new_session=True,  # a group of its own, as a terminal's job: Ctrl-C reaches every process of it
    )
    try:
        deadline = time.monotonic() + 30
        while len(_group(process.pid)) < 2:  # the readers are forked
            assert time.monotonic() < deadline and process.poll() is None, "no reader was forked"
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGINT)  # Ctrl-C
        _, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    deadline = time.monotonic() + 5
    while _group(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _group(process.pid) == []


def _group(pgid: int) -> list[str]:
    """The processes still in a process group."""
    found = subprocess.run(["ps", "-o", "pid=", "-g", str(pgid)], capture_output=True, text=True).stdout
    return found.split()


def test_an_agent_of_the_users_own_named_codex_is_not_charged_with_codexs_imported_spend(cli, tmp_path):
    cli("agents", "create", "Codex", "--model", "gpt-4o-mini", "--system", "my own helper")
    [mine] = cli.json("agents", "list")
    rollout(tmp_path / "codex")
    cli.runner.invoke(app, ["costs", "import", "--from", "codex", str(tmp_path / "codex")])  # imports, or refuses
    # the agent the user made for their own chats holds none of Codex's spend, nor its sessions
    assert [row for row in cli.json("costs", "by-agent") if row["agent_id"] == mine["id"]] == []
    assert [s for s in cli.json("sessions", "list") if s["agent_id"] == mine["id"]] == []
    # the import made an agent of its own beside it, and keeps using it
    assert {row["agent"] for row in cli.json("costs", "by-agent")} == {"codex-import"}
    rollout(tmp_path / "codex2")
    cli("costs", "import", "--from", "codex", str(tmp_path / "codex2"))
    assert sorted(a["name"] for a in cli.json("agents", "list")) == ["Codex", "codex-import"]
