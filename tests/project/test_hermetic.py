"""The suite passes in the shell of whoever runs it. Their keys and base URLs, proxies, colour and
terminal settings, time zone, locale, data folders and warning policy must not reach the tests: a
slice of the suite that meets each of them (SDK calls in-process, programs on a pseudo-terminal and in
subprocesses) runs here, in a child pytest, with all of them set to values that break the tests if
they get through."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests import pgserver

ROOT = Path(__file__).resolve().parents[2]

UNREACHABLE = "http://127.0.0.1:9"
HOSTILE = {
    # keys, base URLs and settings of both SDKs
    "ANTHROPIC_API_KEY": "sk-ant-real-looking-key-aaaaaaaa",
    "OPENAI_API_KEY": "sk-real-bbbbbbbbbb",
    "ANTHROPIC_AUTH_TOKEN": "x",
    "ANTHROPIC_BASE_URL": UNREACHABLE,
    "OPENAI_BASE_URL": UNREACHABLE + "/v1",
    "ANTHROPIC_CUSTOM_HEADERS": "x-from-the-shell: 1",
    "OPENAI_ORG_ID": "org-from-the-shell",
    "OPENAI_PROJECT_ID": "proj-from-the-shell",
    "ANTHROPIC_LOG": "debug",
    "OPENAI_LOG": "debug",
    # the HTTP stack
    "HTTP_PROXY": UNREACHABLE,
    "HTTPS_PROXY": UNREACHABLE,
    "ALL_PROXY": UNREACHABLE,
    "http_proxy": UNREACHABLE,
    "SSL_CERT_FILE": "/nonexistent/ca.pem",
    # agentik's own
    "AGENTIK_DB": "/nonexistent/x.db",
    "AGENTIK_HOME": "/nonexistent/agentik",
    "AGENTIK_TIMEOUT": "0.001",
    "AGENTIK_DEBUG": "1",
    # the terminal, colour, time and language
    "COLUMNS": "47",
    "LINES": "13",
    "TERM": "dumb",
    "NO_COLOR": "1",
    "FORCE_COLOR": "1",
    "TTY_COMPATIBLE": "1",
    "TZ": "Pacific/Chatham",
    "LANG": "C",
    "LC_ALL": "C",
    "INPUTRC": "/nonexistent/inputrc",
    "XDG_DATA_HOME": "/nonexistent/data",
    "PYTHONWARNINGS": "error",
}

# One in-process chat through each SDK, Markdown and a tall reply on a 100x30 pseudo-terminal, and a
# completion subprocess.
SLICE = [
    "tests/services/test_chat.py::test_anthropic_one_shot_request_and_log",
    "tests/services/test_chat.py::test_openai_one_shot_request_and_cost",
    "tests/terminal/test_chat.py::test_markdown_is_rendered_on_a_terminal",
    "tests/terminal/test_chat.py::test_a_long_reply_renders_once_on_a_small_terminal",
    "tests/cli/test_completion.py::test_completion_imports_nothing_heavy",
    # Ctrl-C on a pseudo-terminal, and completion installed from sh
    "tests/terminal/test_chat.py::test_ctrl_c_during_one_shot_exits_130_and_keeps_the_partial_reply",
    "tests/cli/test_completion.py::test_install_completion",
]
# the slice's test count: test_install_completion runs from sh and from bash
SLICE_TESTS = len(SLICE) + 1


# Slow by nature: a child pytest running a slice of the suite (pseudo-terminals, subprocesses).
@pytest.mark.slow
@pytest.mark.both_stores
def test_the_suite_ignores_the_environment_it_is_run_in(tmp_path, agentik_store):
    """Run as a background job of sh (a script's `pytest &`, a Makefile, a CI step): sh starts it
    with SIGINT ignored, which every child inherits unless the suite resets it."""
    # Built here rather than with the suite's own helper, so that this test checks that helper too.
    env = {name: os.environ[name] for name in ("PATH", "TMPDIR") if name in os.environ}
    env.update(HOSTILE, HOME=str(tmp_path / "user"))
    # the slice on this test's store; on PostgreSQL, on the run's server (see tests/pgserver.py)
    store = "sqlite" if agentik_store == "sqlite" else "postgres"
    if store == "postgres":
        env[pgserver.ENV_SERVER] = pgserver.socket()
    inner = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "-n",
        "0",
        f"--basetemp={tmp_path / 'inner'}",
        f"--store={store}",
        *SLICE,
    ]
    result = subprocess.run(
        ["/bin/sh", "-c", f"{shlex.join(inner)} </dev/null & wait $!"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0 and re.search(rf"\b{SLICE_TESTS} passed\b", summary), (
        result.stdout[-6000:] + result.stderr[-2000:]
    )
