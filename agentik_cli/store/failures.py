"""A database failure in one line (no traceback, no SQL, never the password), and a database URL fit
to print in it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.exc import ArgumentError, DBAPIError

from agentik_cli.errors import StoreError, UsageError


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for the in-memory database."""
    path_text = url.split("///", 1)[1] if "///" in url else ""
    return Path(path_text) if path_text and path_text != ":memory:" else None


def mask_url(url: str) -> str:
    """A database URL fit to print: the password masked (in the user part, whatever characters it
    holds, and as a `password=` parameter); a SQLite file as its path."""
    if url.startswith("sqlite"):
        path = sqlite_path(url)
        return str(path) if path is not None else ":memory:"
    import re
    from urllib.parse import unquote

    scheme, found, rest = url.partition("://")
    if not found:
        return url.split(":", 1)[0] + ":…"
    # the authority ends at the first / or ? (a password is not allowed either unescaped, but one
    # holding an @ must still not show: the user part ends at the authority's last @)
    end = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" in authority:
        userinfo, host = authority.rsplit("@", 1)
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        authority = f"{userinfo}@{host}"
    tail = re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", tail)
    # unquoted for reading (?host=/run/postgresql, not %2Frun%2Fpostgresql); the password is
    # masked first, so nothing of it is unquoted
    return unquote(f"{scheme}://{authority}{tail}")


def _password(url: str) -> str | None:
    if url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    try:
        password = make_url(url).password
    except Exception:
        return None
    return str(password) if password else None


# What a PostgreSQL client says when the server cannot be reached, and when it was reached but the
# URL is wrong (no such database or user, a wrong password): the first may pass (exit 1), the second
# is the user's to fix (exit 2).
_UNREACHABLE = (
    "connection refused",
    "no such file or directory",
    "timeout expired",
    "could not translate host",
    "failed to resolve host",
)
_WRONG_URL = ("does not exist", "password authentication failed", "no password supplied", "authentication failed")


@contextmanager
def translate_errors(url: str | None = None) -> Iterator[None]:
    """Database errors as agentik's one-line errors: no traceback, no SQL, never the password."""
    try:
        yield
    except ArgumentError as exc:  # a URL SQLAlchemy cannot read (port=notaport)
        raise UsageError(
            f"{mask_url(url) if url else 'the database URL'} is not a usable database URL: {exc}",
            hint="check the URL given with --db or AGENTIK_DB",
        ) from None
    except DBAPIError as exc:
        message = str(getattr(exc, "orig", exc)) or exc.__class__.__name__
        if "invalid connection option" in message or "invalid dsn" in message.lower():
            raise UsageError(
                f"{mask_url(url) if url else 'the database URL'} is not a usable database URL: {sentences(message)}",
                hint="check the URL given with --db or AGENTIK_DB",
            ) from None
        if "file is not a database" in message:
            raise UsageError("the database file is not a SQLite database") from exc
        if "unable to open database" in message:
            raise UsageError(f"cannot open the database: {message}") from exc
        # psycopg's messages run over several lines (DETAIL, HINT, the socket tried...)
        line = sentences(message)
        password = _password(url) if url else None
        if password:
            line = line.replace(password, "***")
        lowered = line.lower()
        where = mask_url(url) if url else "the database"
        unreachable = any(part in lowered for part in _UNREACHABLE)
        if exc.connection_invalidated or unreachable or "connection" in lowered and "failed" in lowered:
            if any(part in lowered for part in _WRONG_URL):
                raise UsageError(
                    f"cannot open {where}: {_reason(line)}", hint="check the URL given with --db or AGENTIK_DB"
                ) from None
            if unreachable or exc.connection_invalidated:
                raise StoreError(
                    f"cannot reach the database server at {where}: {_reason(line)}",
                    hint="is the server running? (the URL comes from --db or AGENTIK_DB)",
                ) from None
        raise StoreError(f"the database failed: {line}") from exc


def sentences(message: str) -> str:
    """libpq's lines made one line of sentences: "Connection refused" and "Is the server running
    ...?" on two lines become "Connection refused. Is the server running ...?", not run together."""
    lines = [" ".join(line.split()) for line in message.splitlines()]
    lines = [line for line in lines if line]
    ended = [line if line.endswith((".", "?", "!", ":", ";")) else line + "." for line in lines[:-1]]
    return " ".join([*ended, *lines[-1:]])


def _reason(line: str) -> str:
    """The server's own words, after psycopg's 'connection to server at ... failed:' preamble."""
    reason = line.rsplit(" failed: ", 1)[-1]
    return reason.removeprefix("FATAL: ").strip()
