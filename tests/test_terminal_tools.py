"""Tools at a terminal, through a real pseudo-terminal: the approval question (answered yes, then
no), and Ctrl-C during a slow tool, which kills it, records it, and returns to the prompt."""

from __future__ import annotations

import json
import os
import sys
import time

import pexpect

from tests.conftest import db_rows
from tests.fakeprovider import Reply
from tests.test_terminal import PROMPT, term  # noqa: F401 - the fixture


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


def test_ctrl_c_during_a_slow_tool_kills_it_and_the_chat_goes_on(term, fake, agentik_home, cli, tmp_path):  # noqa: F811
    pid_file = tmp_path / "slow.pid"
    skills = agentik_home / "skills"
    skills.mkdir(parents=True, exist_ok=True)
    script = f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(120)"
    command = json.dumps([sys.executable, "-c", script])
    (skills / "slow.toml").write_text(
        f'name = "slow"\ndescription = "Takes its time"\nrisk = "read"\ntimeout = 300\ncommand = {command}\n'
    )
    cli("agents", "create", "waiter", "--model", "claude-sonnet-4-0", "--skill", "slow")
    fake.add(Reply(text="Waiting.", tool_calls=[{"id": "s", "name": "slow", "arguments": {}}]), Reply(text="Next."))
    child = term("chat", "waiter")
    child.expect(PROMPT)
    child.sendline("wait for it")
    child.expect("slow")
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    child.sendintr()
    child.expect("interrupted")
    child.expect(PROMPT)
    # the tool's process is gone, and the call is recorded as interrupted
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
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
