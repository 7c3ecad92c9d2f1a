"""Hostile review 29b: `costs import FILE` of a big JSONL file on SQLite, parsed by forked processes
(services/costs.py `_parsed`, a ProcessPoolExecutor with fork). SIGTERM (a service manager's stop,
`timeout`, `kill`) ends the importer by its default action, before its `finally` shuts the pool: the
parsers, blocked reading the pool's call queue (whose write end each of them holds too, inherited),
are orphaned and wait for ever. Before the forked parsing, SIGTERM left nothing behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentik_cli.services import costs
from tests.conftest import base_env

pytestmark = pytest.mark.sqlite_only("the forked parsers run on SQLite only")

MAIN = "import sys; from agentik_cli.entry import main; sys.argv[0] = 'agentik'; sys.exit(main())"


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads a process's children from /proc")
def test_sigterm_during_a_forked_import_leaves_no_parser_behind(tmp_path, agentik_home):
    good = {"model": "gpt-4o-mini", "provider": "openai", "input_tokens": 10, "output_tokens": 1}
    line = json.dumps({**good, "at": "2025-03-01T10:00:00Z", "channel": "x" * 60}) + "\n"
    path = tmp_path / "big.jsonl"
    path.write_text(line * (3 * costs.PARALLEL_BYTES // len(line)))  # three times the threshold
    importer = subprocess.Popen(
        [sys.executable, "-c", MAIN, "costs", "import", str(path)],
        env=base_env(agentik_home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    parsers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while len(parsers) < costs.PARSERS and importer.poll() is None and time.monotonic() < deadline:
            parsers = _children(importer.pid)
            time.sleep(0.005)
        assert len(parsers) == costs.PARSERS, "the import forked its parsers"
        importer.send_signal(signal.SIGTERM)
        assert importer.wait(timeout=30) != 0
        time.sleep(2)
        assert [pid for pid in parsers if _alive(pid)] == []
    finally:  # what the test started, and only that
        if importer.poll() is None:
            importer.kill()
            importer.wait()
        for pid in parsers:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


WORKER_PARENT = """
import multiprocessing, os, sys, time
from concurrent.futures import ProcessPoolExecutor
from agentik_cli.services import workers
pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"), initializer=workers.started)
print(pool.submit(os.getpid).result(), flush=True)
time.sleep(60)
"""


@pytest.mark.slow
def test_a_forked_worker_ends_when_its_command_is_killed_outright():
    """The kin, for every pool of forked workers (the readers of `costs import --from` too): a
    command killed by SIGKILL runs no clean-up at all, and its workers go by themselves."""
    parent = subprocess.Popen([sys.executable, "-c", WORKER_PARENT], stdout=subprocess.PIPE, text=True)
    worker = int(parent.stdout.readline())
    try:
        parent.kill()
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and _alive(worker):
            time.sleep(0.05)
        assert not _alive(worker), "the worker outlived its command"
    finally:
        if _alive(worker):
            os.kill(worker, signal.SIGKILL)
