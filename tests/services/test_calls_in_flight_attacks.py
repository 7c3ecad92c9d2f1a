"""Attacks on calls in flight (issue 21, items 2 and 4): real `agentik` processes against the fake
provider, killed or cut off at the moments the journal and the reservations are meant to survive.
Each test here shows a defect found by the attack (see the report on branch attack21)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from tests.conftest import base_env, db_rows
from tests.fakeprovider import Reply
from tests.services.test_calls_in_flight import WORDS, Shown


@pytest.fixture
def helper(cli):
    cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--max-tokens", "2000")


def _can_unshare_pid() -> bool:
    try:
        done = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _can_unshare_pid(), reason="needs unshare --pid (root or user namespaces)")
def test_a_call_running_in_another_pid_namespace_of_this_host_keeps_its_reservation(cli, fake, helper, agentik_home):
    """A container on this host (same host name: `--network host`, a Kubernetes hostNetwork pod, a CI
    runner) numbers its processes from 1: the reservation names pid 1, which the budget check looks
    up in its own /proc, finds another process (or none) and releases it while the call runs, so a
    second call is admitted past the budget. (owner.py: the host name alone does not say which
    processes /proc can see.)"""
    # the reply stops after its first piece until the checks are done: streaming by construction
    # (it was 600 pieces 10 ms apart, 6 s, of which the checks needed the first second)
    checked = threading.Event()
    fake.default = Reply(text=WORDS, gate=checked, input_tokens=40, output_tokens=900)
    cli("budgets", "set", "--daily", "0.05")  # room for one call's worst case ($0.03), not two
    env = base_env(agentik_home, ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789")
    command = [sys.executable, "-m", "agentik_cli", "chat", "helper", "-m", "count"]
    child = subprocess.Popen(
        ["unshare", "--pid", "--fork", "--mount-proc", *command],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        shown = Shown(child)
        shown.wait_for("word0 ")  # the call is streaming: its reservation is held
        [(amount,)] = db_rows(agentik_home, "SELECT amount_nd FROM reservations")
        assert cli.json("budgets", "list")[0]["reserved"] == amount / 1e9
        fake.default = Reply(text="second", input_tokens=40, output_tokens=5)
        cli("chat", "helper", "-m", "another", code=3)  # the first call's worst case still holds the room
        assert db_rows(agentik_home, "SELECT count(*) FROM reservations")[0][0] == 1
    finally:
        checked.set()
        child.wait(timeout=60)


@pytest.mark.slow
def test_a_call_whose_journal_cannot_be_written_still_renews_its_reservations_heartbeat(
    cli, fake, helper, agentik_home, monkeypatch
):
    """When the data folder cannot take the call's journal (read-only, full, `unsaved` not a folder),
    the call goes on "kept only by the database", but the heartbeat lives in the journal's thread
    (journal.Flight returns before starting it): the reservation is never renewed, so after
    HEARTBEAT_LAPSE the status line stops counting it and every budget check on another host
    releases it while the call still runs."""
    from agentik_cli.services import journal

    monkeypatch.setattr(journal, "HEARTBEAT_EVERY", 0.2)
    cli("budgets", "set", "--daily", "5")
    agentik_home.mkdir(parents=True, exist_ok=True)
    (agentik_home / "unsaved").write_text("")  # the journal's folder cannot be made
    fake.default = Reply(text=" ".join(["w"] * 150), delay=0.01)  # a call of about 1.5 s
    seen: set = set()
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.update(row[0] for row in db_rows(agentik_home, "SELECT heartbeat_at FROM reservations"))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        cli("chat", "helper", "-m", "one")
    finally:
        stop.set()
        watcher.join()
    assert db_rows(agentik_home, "SELECT count(*) FROM messages WHERE role = 'assistant'")[0][0] == 1
    assert len(seen) >= 2, f"the heartbeat was never renewed while the call ran: {seen}"
