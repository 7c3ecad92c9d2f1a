"""What a command runs in: who runs it, what time it is, which store it uses, its standard streams,
which of them are terminals, and whether to colour. One object per command, in place of module
globals read here and there, as httpie's `Environment` is (httpie/context.py): by default it
describes the real process, and every part can be given instead (tests freeze the clock, set the
user, or play a terminal with `use`).

The streams are looked up when used, not when the object is made: a test runner swaps sys.stdout
for each command it runs, and what is written must go where the runner looks."""

from __future__ import annotations

import getpass
import os
import sys
from contextlib import contextmanager
from datetime import UTC, datetime

from agentik_cli.errors import UsageError

TYPE_CHECKING = False  # the status line imports this module, and typing would cost it milliseconds
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import IO, Any

MAX_USER = 200


def _system_clock() -> datetime:
    return datetime.now(UTC)


def check_user(name: str, where: str = "AGENTIK_USER") -> str:
    """A user name as recorded on every message and cost row."""
    cleaned = name.strip()
    if not cleaned:
        raise UsageError(f"{where} is empty", hint="set it to your name, or unset it to use your login name")
    if len(cleaned) > MAX_USER or any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in cleaned):
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


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):  # closed, or not a file at all
        return False


class Environment:
    """Every argument left out (None) is the real process's own."""

    def __init__(
        self,
        *,
        clock: Callable[[], datetime] | None = None,
        user: str | None = None,
        db: str | None = None,
        no_color: bool = False,
        stdin: IO[str] | None = None,
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
        stdin_isatty: bool | None = None,
        stdout_isatty: bool | None = None,
        stderr_isatty: bool | None = None,
    ) -> None:
        self.clock = clock or _system_clock
        self._user = None if user is None else check_user(user, "the user")
        self.db = db  # `--db`; None: $AGENTIK_DB, else the data folder (store/engine.py resolve_url)
        self.no_color = no_color  # `--no-color`
        self._stdin, self._stdout, self._stderr = stdin, stdout, stderr
        self._stdin_isatty, self._stdout_isatty, self._stderr_isatty = stdin_isatty, stdout_isatty, stderr_isatty

    def copy(self) -> Environment:
        """The same environment, for one command to set its root options on."""
        twin = object.__new__(Environment)
        twin.__dict__.update(self.__dict__)
        return twin

    @property
    def user(self) -> str:
        """The user given, else AGENTIK_USER or the login name, read each time (cheap, and never
        stale when a test changes the variable): cli/app.py checks it once before a command runs."""
        return self._user if self._user is not None else login_user()

    def now(self) -> datetime:
        """The current time, UTC-aware."""
        return self.clock()

    @property
    def stdin(self) -> IO[str]:
        return self._stdin if self._stdin is not None else sys.stdin

    @property
    def stdout(self) -> IO[str]:
        return self._stdout if self._stdout is not None else sys.stdout

    @property
    def stderr(self) -> IO[str]:
        return self._stderr if self._stderr is not None else sys.stderr

    @property
    def stdin_isatty(self) -> bool:
        return self._stdin_isatty if self._stdin_isatty is not None else _isatty(self.stdin)

    @property
    def stdout_isatty(self) -> bool:
        return self._stdout_isatty if self._stdout_isatty is not None else _isatty(self.stdout)

    @property
    def stderr_isatty(self) -> bool:
        return self._stderr_isatty if self._stderr_isatty is not None else _isatty(self.stderr)

    def given_isatty(self, stream: str) -> bool | None:
        """Whether "stdin", "stdout" or "stderr" was declared a terminal (or not) when this
        environment was made; None: left to the stream (and to rich's FORCE_COLOR and the like)."""
        value: bool | None = getattr(self, f"_{stream}_isatty")
        return value

    @property
    def color(self) -> bool:
        """Colour is allowed (each stream still needs to be a terminal): not with --no-color nor
        NO_COLOR (https://no-color.org: set and not empty)."""
        return not self.no_color and not os.environ.get("NO_COLOR")

    def __repr__(self) -> str:
        return f"<Environment db={self.db!r} user={self._user!r} no_color={self.no_color}>"


_current: Environment | None = None


def current() -> Environment:
    global _current
    if _current is None:
        _current = Environment()
    return _current


@contextmanager
def use(env: Environment) -> Iterator[Environment]:
    """Run with `env` as the environment (tests: a frozen clock, another user, a terminal)."""
    global _current
    before, _current = _current, env
    try:
        yield env
    finally:
        _current = before
