"""The sandbox around everything an agent runs (agentik_cli/skills/sandbox.py): a command
cannot read agentik's environment, write outside its folders, reach the network without `network`
risk, or outlive its timeout through `setsid`; where no sandbox can run, agentik says so once and
still kills what a command leaves behind."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

from agentik_cli.skills import sandbox
from tests.skills.test_user import write_skill

pytestmark = [
    pytest.mark.sqlite_only("commands an agent runs: no store involved"),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed (.ci/run installs it)"),
]

KEY = "sk-ant-test-key-0123456789"


def script_skill(home: Path, name: str, script: str, risk: str = "read", timeout: int = 10) -> None:
    """A command skill running `script` in this Python, taking no arguments."""
    write_skill(
        home,
        name,
        f'name = "{name}"\ndescription = "a test skill"\nrisk = "{risk}"\ntimeout = {timeout}\n'
        f"command = {json.dumps([sys.executable, '-c', script])}\n"
        '[parameters]\ntype = "object"\n',
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    path = tmp_path / "proj"
    path.mkdir()
    return path


def agent(cli, folder: Path, *skills: str, sandboxed: bool = True) -> None:
    options = [arg for skill in skills for arg in ("--skill", skill)]
    cli("agents", "create", "a", "--model", "claude-sonnet-4-0", "--allow-dir", str(folder), *options,
        *([] if sandboxed else ["--no-sandbox"]))  # fmt: skip


def run(cli, tool: str, code: int = 0) -> dict:
    return json.loads(cli("skills", "test", tool, "--args", "{}", "--agent", "a", "--json", code=code).stdout)


def test_a_command_cannot_read_agentiks_environment(cli, agentik_home, folder, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    script_skill(
        agentik_home,
        "snoop",
        "import glob\n"
        "for path in sorted(glob.glob('/proc/[0-9]*/environ')):\n"
        "    try: print(path, open(path, 'rb').read())\n"
        "    except OSError as exc: print(path, exc)\n"
        "print('pids', sorted(int(p.split('/')[2]) for p in glob.glob('/proc/[0-9]*')))\n",
    )
    agent(cli, folder, "snoop")
    result = run(cli, "snoop")
    assert result["status"] == "ok", result
    assert KEY not in result["output"] and "ANTHROPIC_API_KEY" not in result["output"]
    # its own PID namespace: bwrap's init (1) and the command, not agentik nor any host process
    pids = json.loads(result["output"].split("pids ", 1)[1])
    assert max(pids) < 10 and os.getpid() not in pids or os.getpid() < 10, pids


def test_a_command_cannot_write_outside_its_folders(cli, agentik_home, folder, tmp_path):
    outside = Path(__file__).with_name("sandbox-escape.txt")  # outside /tmp, which is its own
    script_skill(
        agentik_home,
        "scribble",
        "import os\n"
        f"open({str(folder / 'inside.txt')!r}, 'w').write('ok')\n"
        "open('/tmp/agentik-sandbox-private', 'w').write('private')\n"
        f"for path in ({str(outside)!r}, {str(Path.home() / 'x')!r}, '/etc/agentik-x'):\n"
        "    try: open(path, 'w').write('escaped'); print('wrote', path)\n"
        "    except OSError as exc: print('refused', path, exc.errno)\n",
    )
    agent(cli, folder, "scribble")
    result = run(cli, "scribble")
    assert result["status"] == "ok", result
    assert (folder / "inside.txt").read_text() == "ok"
    assert "wrote" not in result["output"] and not outside.exists(), result["output"]
    assert not Path("/tmp/agentik-sandbox-private").exists()  # its /tmp was its own


def test_the_data_folder_is_not_there_but_its_skills(cli, agentik_home, folder):
    script_skill(
        agentik_home,
        "peek",
        "import os\n"
        f"print(sorted(os.listdir({str(agentik_home)!r})))\n"
        f"print(os.path.exists({str(agentik_home / 'keys.json')!r}))\n",
    )
    agent(cli, folder, "peek")
    (agentik_home / "keys.json").write_text('{"anthropic": "sk-ant-stored-key-0123456789"}')
    result = run(cli, "peek")
    assert result["output"] == "['skills']\nFalse\n", result


@pytest.mark.parametrize("risk", ["read", "network"])
def test_the_network_only_with_network_risk(cli, agentik_home, folder, risk):
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    script_skill(
        agentik_home,
        "dial",
        "import socket\n"
        f"try: socket.create_connection(('127.0.0.1', {port}), timeout=3); print('connected')\n"
        "except OSError as exc: print('no network', exc.errno)\n",
        risk=risk,
    )
    agent(cli, folder, "dial")
    output = run(cli, "dial")["output"]
    server.close()
    assert output.startswith("connected" if risk == "network" else "no network"), output


@pytest.mark.slow
@pytest.mark.parametrize("sandboxed", [True, False])
def test_a_setsid_child_does_not_outlive_the_timeout(cli, agentik_home, folder, sandboxed):
    """A child in a session of its own escapes a process-group kill: the sandbox's PID namespace
    takes it down with the command; without the sandbox, agentik (a child subreaper) kills it."""
    mark = folder / "mark"
    script_skill(
        agentik_home,
        "escape",
        "import subprocess, time\n"
        f"subprocess.Popen(['sh', '-c', 'sleep 2; touch {mark}'], start_new_session=True)\n"
        "time.sleep(30)\n",
        timeout=1,
    )
    agent(cli, folder, "escape", sandboxed=sandboxed)
    started = time.monotonic()
    assert run(cli, "escape", code=1)["status"] == "timeout"
    assert time.monotonic() - started < 10
    time.sleep(3)
    assert not mark.exists(), "a setsid child outlived the timeout"


def test_show_says_which_protection_applies(cli, agentik_home, folder):
    agent(cli, folder, "shell")
    assert "bubblewrap sandbox" in cli("agents", "show", "a").stdout
    assert cli.json("agents", "show", "a")["sandbox"] is True
    cli("agents", "update", "a", "--no-sandbox")
    assert cli.json("agents", "show", "a")["sandbox"] is False
    assert "no sandbox (turned off for this agent)" in cli("agents", "show", "a").stdout
    shown = cli.json("skills", "show", "shell")
    assert "bubblewrap" in shown["protection"]


def test_without_bubblewrap_it_says_so_once_and_still_reaps(cli, agentik_home, folder, monkeypatch):
    monkeypatch.setattr(sandbox, "BWRAP", "bwrap-not-installed")
    monkeypatch.setattr(sandbox, "_warned", False)
    sandbox.unavailable.cache_clear()
    try:
        script_skill(agentik_home, "hello", "print('hi')")
        agent(cli, folder, "hello")
        first = cli("skills", "test", "hello", "--args", "{}", "--agent", "a")
        assert first.stdout.strip() == "hi"
        warnings = [line for line in first.stderr.splitlines() if "without a sandbox" in line]
        assert warnings == [
            "agentik: warning: commands run without a sandbox: bubblewrap is not installed "
            "(Debian and Ubuntu: apt install bubblewrap)"
        ]
        assert "no sandbox: bubblewrap is not installed" in cli("agents", "show", "a").stdout
    finally:
        sandbox.unavailable.cache_clear()


def test_agentik_is_not_dumpable_once_a_tool_ran(cli, agentik_home, folder):
    import ctypes

    script_skill(agentik_home, "hello", "print('hi')")
    agent(cli, folder, "hello")
    run(cli, "hello")
    assert ctypes.CDLL(None).prctl(3, 0, 0, 0, 0) == 0  # PR_GET_DUMPABLE


def test_a_program_under_tmp_is_still_found(cli, agentik_home, folder, tmp_path):
    """The sandbox's /tmp is its own: a program living under the host's /tmp (a virtualenv or a
    checkout made there) is bound back, read-only."""
    tool = tmp_path / "venv" / "bin" / "hello-tool"
    tool.parent.mkdir(parents=True)
    tool.write_text("#!/bin/sh\necho hello from tmp\n")
    tool.chmod(0o755)
    write_skill(
        agentik_home,
        "hello",
        f'name = "hello"\ndescription = "a test skill"\nrisk = "read"\ncommand = ["{tool}"]\n'
        '[parameters]\ntype = "object"\n',
    )
    agent(cli, folder, "hello")
    assert run(cli, "hello")["output"] == "hello from tmp\n"
