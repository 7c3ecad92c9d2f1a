"""Every test runs in its own AGENTIK_HOME, offline, with no real keys."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agentik_cli import config
from agentik_cli.cli.app import app
from agentik_cli.store import engine

_SCRUB = (
    "AGENTIK_DB",
    "AGENTIK_DEBUG",
    "ANTHROPIC_API_KEY",
    "OPENAI_API_KEY",
    "ANTHROPIC_BASE_URL",
    "OPENAI_BASE_URL",
    "NO_COLOR",
    "ANTHROPIC_AUTH_TOKEN",
)


@pytest.fixture(autouse=True)
def agentik_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "agentik-home"
    monkeypatch.setenv("AGENTIK_HOME", str(home))
    for name in _SCRUB:
        monkeypatch.delenv(name, raising=False)
    set_tz(monkeypatch, os.environ.get("AGENTIK_TEST_TZ", "UTC"))
    engine.reset_stores()
    config.settings.db = None
    config.settings.no_color = False
    yield home
    engine.reset_stores()


def set_tz(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    import time

    monkeypatch.setenv("TZ", name)
    time.tzset()


class Runner:
    """Runs the CLI in-process, through the same error boundary as the console script."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, input: str | None = None, env: dict[str, str] | None = None, code: int = 0):
        result = self.runner.invoke(app, [str(a) for a in args], input=input, env=env)
        assert result.exit_code == code, (
            f"exit {result.exit_code} != {code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
            f"\nexception: {result.exception!r}"
        )
        return result

    def json(self, *args: str, **kwargs):
        return json.loads(self(*args, "--json", **kwargs).stdout)


@pytest.fixture
def cli() -> Runner:
    return Runner()


@pytest.fixture
def store():
    return config.store()


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch):
    """The fake provider server, with both SDKs pointed at it and test keys in the environment."""
    from tests.fakeprovider import FakeProvider

    server = FakeProvider().start()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test-key-0123456789")
    yield server
    server.stop()


def db_rows(home: Path, sql: str, params: tuple = ()) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(home / "agentik.db") as db:
        return db.execute(sql, params).fetchall()
