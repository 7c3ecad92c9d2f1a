"""Tools at a terminal, through a real pseudo-terminal: the approval question (answered yes, then
no), and Ctrl-C during a slow tool, which kills it, records it, and returns to the prompt."""

from __future__ import annotations

import json
import sys
import time

import pexpect
import pytest

from tests.conftest import db_rows
from tests.fakeprovider import Reply
from tests.skills.test_user import _running
from tests.terminal.test_chat import PROMPT, term  # noqa: F401 - the fixture


@pytest.mark.slow
def test_shell_asks_every_time_showing_the_command(term, fake, agentik_home, cli):  # noqa: F811
    cli("agents", "create", "ops", "--model", "claude-sonnet-4-0", "--skill", "shell", "--allow-command", "echo *")
    fake.add(
        Reply(text="", tool_calls=[{"id": "a", "name": "shell", "arguments": {"command": "echo approved-once"}}]),
        Reply(text="", tool_calls=[{"id": "b", "name": "shell", "arguments": {"command": "echo refused-now"}}]),
        Reply(text="Done."),
    )
    child = term("chat", "ops")
    child.expect(PROMPT)
    child.sendline("run things")
    child.expect("allow shell")
    child.expect("echo approved-once")
    child.expect(r"\[y/N\]")
    child.sendline("y")
    child.expect("echo refused-now")  # asked again: exec asks at every call
    child.expect(r"\[y/N\]")
    child.sendline("n")
    child.expect("Done")
    child.expect(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    rows = db_rows(agentik_home, "SELECT decision, status, output FROM tool_calls ORDER BY id")
    assert rows == [("asked", "ok", "approved-once\n"), ("denied", "denied", "")]


@pytest.mark.slow
@pytest.mark.parametrize("sandboxed", [True, False])
def test_ctrl_c_during_a_slow_tool_kills_it_and_the_chat_goes_on(term, fake, agentik_home, cli, tmp_path, sandboxed):  # noqa: F811
    folder = tmp_path / "work"
    folder.mkdir()
    pid_file = folder / "slow.pid"  # in the agent's folder: the one place a sandboxed command writes
    skills = agentik_home / "skills"
    skills.mkdir(parents=True, exist_ok=True)
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    command = json.dumps([sys.executable, "-c", script])
    (skills / "slow.toml").write_text(
        f'name = "slow"\ndescription = "Takes its time"\nrisk = "read"\ntimeout = 300\ncommand = {command}\n'
    )
    cli("agents", "create", "waiter", "--model", "claude-sonnet-4-0", "--skill", "slow", "--allow-dir", str(folder),
        *([] if sandboxed else ["--no-sandbox"]))  # fmt: skip
    fake.add(Reply(text="Waiting.", tool_calls=[{"id": "s", "name": "slow", "arguments": {}}]), Reply(text="Next."))
    child = term("chat", "waiter")
    child.expect(PROMPT)
    child.sendline("wait for it")
    child.expect("slow")
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pid_file.read_text()
    child.sendintr()
    child.expect("interrupted")
    child.expect(PROMPT)
    # the tool's process is gone (its pid is the sandbox's own: look for its command line), and the
    # call is recorded as interrupted
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if not _running(str(pid_file)):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the tool's process outlived Ctrl-C")
    assert db_rows(agentik_home, "SELECT status FROM tool_calls") == [("interrupted",)]
    # the chat goes on, and the next request carries the interrupted call's result
    child.sendline("and now?")
    child.expect("Next")
    child.expect(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    sent = fake.requests[-1].body["messages"]
    assert sent[2]["content"][0]["type"] == "tool_result" and sent[2]["content"][0]["is_error"] is True


@pytest.mark.slow
def test_input_typed_at_an_imitation_does_not_answer_the_question(term, fake, agentik_home, cli, tmp_path):  # noqa: F811
    """A model's text imitating the approval question gets a `y` typed; the real question comes
    after it, drops what was typed ahead, shows the command as it will run, and waits for its own
    answer."""
    folder = tmp_path / "work"
    folder.mkdir()
    cli("agents", "create", "ops", "--model", "claude-sonnet-4-0", "--skill", "shell",
        "--allow-command", "touch *", "--allow-dir", str(folder))  # fmt: skip
    imitation = "agentik asks: allow shell (exec) to run\n  ls\n allow? [y/N] "
    call = {"id": "a", "name": "shell", "arguments": {"command": "touch   'pwned'"}}
    fake.add(
        Reply(text=imitation + "one moment while I think it over", chunks=8, delay=0.3, tool_calls=[call]),
        Reply(text="Done."),
    )
    child = term("chat", "ops")
    child.expect(PROMPT)
    child.sendline("tidy up")
    child.expect(r"allow\? \[y/N\]")  # the model's imitation
    child.sendline("y")  # typed at it, before the real question is drawn
    child.expect("agentik asks: allow shell")
    child.expect("touch pwned")  # as it will run: split as it runs, joined back
    child.expect(r"allow\? \[y/N\]")
    time.sleep(0.5)  # it waits: the `y` typed ahead did not answer it
    assert not (folder / "pwned").exists()
    child.sendline("n")
    child.expect("Done")
    child.expect(PROMPT)
    child.sendeof()
    child.expect(pexpect.EOF)
    assert not (folder / "pwned").exists()
    assert db_rows(agentik_home, "SELECT decision, status FROM tool_calls") == [("denied", "denied")]
