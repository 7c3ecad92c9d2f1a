"""Several agentik processes writing the same database at once: all succeed, nothing is lost."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import base_env, db_rows
from tests.fakeprovider import Reply


# Eight processes that each import both SDKs: over ten seconds on two cores.
@pytest.mark.slow
def test_eight_concurrent_chats_lose_nothing(cli, fake, agentik_home):
    cli("agents", "create", "claude", "--model", "claude-sonnet-4-0")
    cli("agents", "create", "gpt", "--model", "gpt-4o-mini")
    fake.default = Reply(text="a reply streamed in several pieces to overlap the writers", delay=0.005)
    env = base_env(
        agentik_home,
        ANTHROPIC_BASE_URL=fake.url,
        OPENAI_BASE_URL=fake.url + "/v1",
        ANTHROPIC_API_KEY="sk-ant-test-key-0123456789",
        OPENAI_API_KEY="sk-openai-test-key-0123456789",
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "agentik_cli", "chat", "claude" if i % 2 else "gpt", "-m", f"message {i}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    results = [(p.wait(timeout=600), p.stderr.read()) for p in procs]
    assert [code for code, _ in results] == [0] * 8, results
    assert db_rows(agentik_home, "SELECT count(*) FROM sessions") == [(8,)]
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(16,)]
    assert db_rows(agentik_home, "SELECT count(*) FROM costs") == [(8,)]
    sent = sorted(row[0] for row in db_rows(agentik_home, "SELECT content FROM messages WHERE role='user'"))
    assert sent == sorted(f"message {i}" for i in range(8))
    # the running totals were moved by every writer
    assert db_rows(agentik_home, "SELECT sum(stat_sessions), sum(stat_messages) FROM agents") == [(8, 16)]
    assert db_rows(agentik_home, "SELECT sum(message_count) FROM sessions") == [(16,)]
