"""A one-shot chat's own start-up cost (issue 22): the garbage collector held back until the first
model call is over, then on again with what start-up made parked (agentik_cli/entry.py,
services/chat/turn.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from agentik_cli.entry import _runs_chat
from tests.conftest import base_env

# Runs the console script as `agentik` does and reports, as it leaves (os._exit), the collections
# that ran and whether the collector is on, with how many objects start-up parked.
PROBE = """
import gc, json, os, sys
POSTGRES = ("sqlalchemy.dialects.postgresql", "asyncpg", "psycopg")
collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info["generation"]))
leave = os._exit
def report(code):
    sys.stderr.write("GC=" + json.dumps({"code": code, "full": collections.count(2), "all": len(collections),
                     "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                     "postgres": sorted(m for m in sys.modules if m.startswith(POSTGRES))}) + "\\n")
    sys.stderr.flush()
    leave(code)
os._exit = report
sys.argv = ["agentik", *sys.argv[1:]]
from agentik_cli.entry import main
main()
"""


def _probe(args: list[str], env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    line = next(line for line in result.stderr.splitlines() if line.startswith("GC="))
    return json.loads(line[3:])


@pytest.mark.parametrize(
    ("args", "chat"),
    [
        (["chat", "helper", "-m", "hi"], True),
        (["--db", "x.db", "chat", "helper"], True),
        (["--db=x.db", "--no-color", "chat"], True),
        (["--no-color", "chat", "--help"], True),
        (["agents", "create", "chat", "--model", "m"], False),
        (["costs", "import", "chat"], False),
        (["--db", "chat", "agents", "list"], False),
        ([], False),
    ],
)
def test_only_a_chat_holds_the_collector_back(args, chat):
    assert _runs_chat(args) is chat


@pytest.mark.slow
@pytest.mark.sqlite_only("what a chat on a SQLite store imports")
def test_a_one_shot_chat_runs_no_full_collection_and_leaves_the_collector_on(cli, fake, tmp_path):
    created = cli("agents", "create", "helper", "--model", "claude-sonnet-4-0")
    assert created.exit_code == 0, created.output
    env = base_env(
        ANTHROPIC_BASE_URL=fake.url, ANTHROPIC_API_KEY="sk-ant-test-key-0123456789", PYTHONPATH=":".join(sys.path)
    )
    found = _probe(["chat", "helper", "-m", "hello"], env)
    assert found["code"] == 0
    # without the collector held back, start-up runs several full passes and hundreds of young ones
    assert found["full"] == 0
    assert found["all"] < 50
    # on again after the call, start-up's objects parked where its passes skip them
    assert found["enabled"] is True
    assert found["frozen"] > 100_000
    assert len(fake.requests) == 1
    # nothing of PostgreSQL on a SQLite store (store/models.py `partial`: a postgresql_where option
    # imported its dialect, asyncpg's too, into every command)
    assert found["postgres"] == []


@pytest.mark.slow
def test_other_commands_keep_the_collector_as_it_is(cli, tmp_path):
    found = _probe(["agents", "list"], base_env(PYTHONPATH=":".join(sys.path)))
    assert found["code"] == 0
    assert found["enabled"] is True
    assert found["frozen"] == 0
