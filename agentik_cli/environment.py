"""What a command runs in: who is running it, and what time it is. One object per process, made on
first use and replaceable as a whole (tests freeze the clock or set the user with `use`), in place
of module globals read here and there."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agentik_cli.errors import UsageError

MAX_USER = 200


def _system_clock() -> datetime:
    return datetime.now(UTC)


def check_user(name: str, where: str = "AGENTIK_USER") -> str:
    """A user name as recorded on every message and cost row."""
    cleaned = name.strip()
    if not cleaned:
        raise UsageError(f"{where} is empty", hint="set it to your name, or unset it to use your login name")
    if len(cleaned) > MAX_USER or any(ord(ch) < 32 or ord(ch) == 127 for ch in cleaned):
        raise UsageError(f"{where} is not a usable user name", hint=f"use at most {MAX_USER} printable characters")
    return cleaned


def login_user() -> str:
    """AGENTIK_USER, else the login name, else "unknown" (a container may have no name for its uid)."""
    given = os.environ.get("AGENTIK_USER")
    if given is not None:
        return check_user(given)
    try:
        return getpass.getuser() or "unknown"
    except (KeyError, OSError):
        return "unknown"


@dataclass
class Environment:
    clock: Callable[[], datetime] = _system_clock
    _user: str | None = field(default=None, repr=False)

    @property
    def user(self) -> str:
        if self._user is None:
            self._user = login_user()
        return self._user

    def now(self) -> datetime:
        """The current time, UTC-aware."""
        return self.clock()


_current: Environment | None = None


def current() -> Environment:
    global _current
    if _current is None:
        _current = Environment()
    return _current


@contextmanager
def use(env: Environment) -> Iterator[Environment]:
    """Run with `env` as the environment (tests: a frozen clock, another user)."""
    global _current
    before, _current = _current, env
    try:
        yield env
    finally:
        _current = before
