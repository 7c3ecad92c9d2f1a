"""Every test runs in its own AGENTIK_HOME, offline, with no real keys, and sees none of the
environment of whoever runs the suite (tests/test_hermetic.py keeps that true); child processes
start from `base_env()`."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.testing
from typer.testing import CliRunner

from agentik_cli import config
from agentik_cli.cli.app import app
from agentik_cli.store import engine

# From the environment of whoever runs the suite, only what finding programs and writing temporary
# files needs is kept: everything else (keys and base URLs of every SDK, proxies, NO_COLOR, FORCE_COLOR,
# COLUMNS, LINES, TERM, TZ, LANG, HOME, XDG_*, INPUTRC, PYTHONWARNINGS, AGENTIK_*...) is dropped, so
# an allowlist rather than a list of names that would miss the next variable an SDK starts to read.
_KEEP = ("PATH", "TMPDIR", "SYSTEMROOT")
_KEEP_PREFIXES = ("PYTEST_", "COV_CORE_", "COVERAGE_")


def base_env(home: Path | str | None = None, **extra: str) -> dict[str, str]:
    """The environment every test and every child process starts from: a fixed base, never the
    user's environment wholesale. `home` is the AGENTIK_HOME (default: the current test's)."""
    env = {name: os.environ[name] for name in _KEEP if name in os.environ}
    env.update(
        HOME=os.environ.get("HOME", ""),  # the test's own (see agentik_home), for platformdirs and readline
        LANG="C.UTF-8",
        TZ=os.environ.get("TZ", "UTC"),
        AGENTIK_HOME=str(home) if home is not None else os.environ.get("AGENTIK_HOME", ""),
    )
    env.update(extra)
    return env


@pytest.fixture(autouse=True)
def agentik_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    zone = os.environ.get("AGENTIK_TEST_TZ", "UTC")
    home = tmp_path / "agentik-home"
    user_home = tmp_path / "home"
    user_home.mkdir()
    for name in list(os.environ):
        if name not in _KEEP and not name.startswith(_KEEP_PREFIXES):
            monkeypatch.delenv(name)
    for name, value in base_env(home, HOME=str(user_home)).items():
        monkeypatch.setenv(name, value)
    set_tz(monkeypatch, zone)
    engine.reset_stores()
    yield home
    engine.reset_stores()


def set_tz(monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    import time

    monkeypatch.setenv("TZ", name)
    time.tzset()


# CliRunner builds the Click command tree from the Typer app on every invoke (25 ms, a tenth of a
# typical test); the console script builds it once a process, and so does the suite, once a session.
typer.testing._get_command = functools.cache(typer.testing._get_command)


def _one_tls_context_per_session() -> None:
    """Every SDK client loads the system's CA bundle (35 ms), a client a chat: the console script
    makes one client a process, the suite hundreds, and the fake provider speaks plain HTTP anyway."""
    try:
        import httpcore2
    except ImportError:  # an SDK on plain httpx: no shortcut, only slower
        return
    httpcore2.default_ssl_context = functools.cache(httpcore2.default_ssl_context)


_one_tls_context_per_session()


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


@pytest.fixture(scope="session")
def fake_server():
    from tests.fakeprovider import FakeProvider

    server = FakeProvider().start()
    yield server
    server.stop()


@pytest.fixture
def fake(fake_server, monkeypatch: pytest.MonkeyPatch):
    """The fake provider server, with both SDKs pointed at it and test keys in the environment.
    One server for the session (20 ms to start and stop one, 3 s of the suite), its
    script, default reply and record of requests made new for every test."""
    from tests.fakeprovider import Reply

    server = fake_server
    with server.lock:
        server.script.clear()
        server.requests.clear()
        server.default = Reply()
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-key-0123456789")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai-test-key-0123456789")
    return server


def db_rows(home: Path, sql: str, params: tuple = ()) -> list[tuple]:
    import sqlite3

    with sqlite3.connect(home / "agentik.db") as db:
        return db.execute(sql, params).fetchall()
