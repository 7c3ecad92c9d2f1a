"""The `files` skill: read_file, list_dir and grep, under the agent's folders only.

Every path is resolved (symlinks included) and checked, so neither `../` nor a link can lead out of
the folders; then it is opened from its folder one part at a time without following any link, so a
link swapped in after the check fails instead of leading out (issue 20: the check alone was raced).
A file with a second hard link is refused: the other name may be outside. Files that hold secrets
(skills/secrets.py) are refused wherever they are; FIFOs, sockets and devices are never
opened; binary files and files over the size caps are refused or cut, never sent. grep runs the
model's pattern with RE2, in time linear in the text, and looks at a capped number of files."""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Callable, Generator
from contextlib import closing
from pathlib import Path
from typing import Any

from agentik_cli.skills.base import Builtin, Context, Outcome, Tool
from agentik_cli.skills.secrets import is_secret_file, is_secret_folder

READ_LIMIT = 256 * 1024  # bytes of a file read_file sends
GREP_FILE_LIMIT = 2 * 1024 * 1024  # files larger than this are not searched
GREP_MATCHES = 200
GREP_FILES = 20_000  # files one grep looks at, over its whole walk
LIST_LIMIT = 1000
# no link followed; O_NONBLOCK so that opening a FIFO swapped in after the lstat does not wait for a writer
_OPEN = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    pass


class Unreadable(Exception):
    """Not a folder or a regular file (a FIFO, a socket, a device): never opened."""


def folders(context: Context) -> list[Path]:
    """The folders the agent may read: its --allow-dir folders, else the workspace."""
    chosen = context.rules.allow_dirs or (str(context.workspace),)
    return [Path(d).resolve() for d in chosen]


def _agentik_data() -> Path | None:
    from agentik_cli import paths

    try:
        return paths.data_dir().resolve()
    except OSError:  # pragma: no cover
        return None


def resolve(raw: str, context: Context) -> tuple[Path, Path]:
    """The real path named by `raw` (relative to the first folder), checked: inside a folder once
    every link is followed, not a secret, not agentik's own data. Returns the folder it is in and it."""
    if not isinstance(raw, str) or not raw or "\x00" in raw:
        raise Refused("give a path")
    allowed = folders(context)
    given = Path(os.path.expanduser(raw))
    if not given.is_absolute():
        given = allowed[0] / given
    try:
        real = given.resolve()  # every link followed, as far as the path exists
    except (OSError, RuntimeError) as exc:  # a link loop
        raise Refused(f"cannot read {raw}: {exc}") from None
    folder = next((f for f in allowed if real == f or real.is_relative_to(f)), None)
    if folder is None:
        raise Refused(f"{raw} is outside the agent's folders ({', '.join(map(str, allowed))})")
    if not real.exists():
        raise FileNotFoundError(2, f"no such file or folder: {raw}")
    data = _agentik_data()
    if data is not None and (real == data or real.is_relative_to(data)):
        raise Refused(f"{raw} is in agentik's own data folder")
    if is_secret_file(real) or is_secret_file(given):
        raise Refused(f"{raw} may hold secrets: refused")
    return folder, real


def _open_at(dir_fd: int, name: str, raw: str) -> tuple[int, os.stat_result]:
    """`name` in the folder `dir_fd`, opened without following a link: a folder, or a regular file
    with no other hard link. A FIFO, socket or device is refused by its lstat, before any open:
    opening a FIFO waits for a writer, and opening a device may act on it."""
    before = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    if stat.S_ISLNK(before.st_mode):
        raise Refused(f"{raw} changed after it was checked (a link on its path): not read")
    if not (stat.S_ISDIR(before.st_mode) or stat.S_ISREG(before.st_mode)):
        raise Unreadable(f"{raw} is not a file or a folder (a FIFO, socket or device): not read")
    try:
        fd = os.open(name, _OPEN | (os.O_DIRECTORY if stat.S_ISDIR(before.st_mode) else 0), dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # swapped for a link, or a folder for a file
            raise Refused(f"{raw} changed after it was checked: not read") from None
        raise
    opened = os.fstat(fd)
    if (opened.st_dev, opened.st_ino) != (before.st_dev, before.st_ino) or stat.S_IFMT(opened.st_mode) != stat.S_IFMT(
        before.st_mode
    ):
        os.close(fd)
        raise Refused(f"{raw} changed after it was checked: not read")
    if stat.S_ISREG(opened.st_mode) and opened.st_nlink > 1:
        # the other name may be outside the folders: a hard link is no link to resolve
        os.close(fd)
        raise Refused(f"{raw} has {opened.st_nlink} hard links, and the others may be outside the agent's folders")
    return fd, opened


def _open_below(folder: Path, real: Path, raw: str) -> tuple[int, os.stat_result]:
    """`real` opened from `folder` one part at a time, each relative to the one before and none
    followed if it is a link: what is opened is what `resolve` checked, or nothing is."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    opened = os.fstat(fd)
    try:
        for part in real.relative_to(folder).parts:
            child, opened = _open_at(fd, part, raw)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd, opened


def _text(data: bytes) -> str | None:
    """The bytes as text, or None when they are binary (a NUL byte, or not UTF-8)."""
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start >= len(data) - 4:  # a character cut by the size cap
            return data[: exc.start].decode("utf-8")
        return None


class FilesSkill(Builtin, name="files", risk="read"):
    description = "Read files, list folders and search text, under the agent's folders (--allow-dir)."

    def tools(self) -> list[Tool]:
        path = {"type": "string", "description": "A path, relative to the agent's first folder or absolute"}
        return [
            Tool(
                "read_file",
                self.name,
                f"Read a text file (at most {READ_LIMIT // 1024} KiB from `offset`).",
                {
                    "type": "object",
                    "properties": {"path": path, "offset": {"type": "integer", "minimum": 0}},
                    "required": ["path"],
                    "additionalProperties": False,
                },
                self.risk,
            ),
            Tool(
                "list_dir",
                self.name,
                "List a folder: names, folders marked with a trailing /, sizes.",
                {"type": "object", "properties": {"path": path}, "additionalProperties": False},
                self.risk,
            ),
            Tool(
                "grep",
                self.name,
                "Search text files under a folder for a word or a regular expression: path:line: text.",
                {
                    "type": "object",
                    "properties": {
                        "pattern": {"type": "string"},
                        "path": path,
                        "regex": {"type": "boolean", "description": "the pattern is a regular expression"},
                    },
                    "required": ["pattern"],
                    "additionalProperties": False,
                },
                self.risk,
            ),
        ]

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        try:
            if tool == "read_file":
                return self._read(arguments, context)
            if tool == "list_dir":
                return self._list(arguments, context)
            return self._grep(arguments, context)
        except Refused as exc:
            return Outcome("denied", error=str(exc))
        except Unreadable as exc:
            return Outcome("error", error=str(exc))
        except OSError as exc:
            return Outcome("error", error=f"{exc.strerror or exc}")

    def _read(self, arguments: dict[str, Any], context: Context) -> Outcome:
        raw = arguments["path"]
        fd, st = _open_below(*resolve(raw, context), raw)
        if not stat.S_ISREG(st.st_mode):
            os.close(fd)
            return Outcome("error", error=f"{raw} is not a file")
        size = st.st_size
        offset = min(int(arguments.get("offset") or 0), size)  # past the end reads nothing, as a seek would
        with os.fdopen(fd, "rb") as f:  # read from what was opened, never the path again
            f.seek(offset)
            data = f.read(READ_LIMIT)
        text = _text(data)
        if text is None:
            return Outcome("error", error=f"{raw} is a binary file: not sent")
        truncated = offset + len(data) < size
        if truncated:
            text += f"\n[cut: {size:,} bytes in all; read on with offset {offset + len(data)}]"
        return Outcome("ok", text, truncated=truncated)

    def _list(self, arguments: dict[str, Any], context: Context) -> Outcome:
        raw = arguments.get("path") or "."
        fd, st = _open_below(*resolve(raw, context), raw)
        try:
            if not stat.S_ISDIR(st.st_mode):
                return Outcome("error", error=f"{arguments.get('path')} is not a folder")
            lines = []
            with os.scandir(fd) as found:
                entries = sorted(found, key=lambda e: e.name)
            for entry in entries[:LIST_LIMIT]:
                try:
                    if entry.is_dir():
                        lines.append(entry.name + "/")
                    else:
                        lines.append(f"{entry.name}  {entry.stat().st_size:,} bytes")
                except OSError:
                    lines.append(entry.name)
        finally:
            os.close(fd)
        truncated = len(entries) > LIST_LIMIT
        if truncated:
            lines.append(f"[{len(entries) - LIST_LIMIT:,} more not listed]")
        return Outcome("ok", "\n".join(lines) or "(empty)", truncated=truncated)

    def _grep(self, arguments: dict[str, Any], context: Context) -> Outcome:
        raw = arguments.get("path") or "."
        folder, root = resolve(raw, context)
        pattern = arguments["pattern"]
        matches: Callable[[str], Any]
        if arguments.get("regex"):
            # RE2 runs in time linear in the text: a model's (a+)+$ cannot stall the chat (issue 20)
            import re2

            options = re2.Options()
            options.log_errors = False  # else RE2 writes its complaint to the terminal as well
            try:
                matches = re2.compile(pattern, options).search
            except re2.error as exc:
                why = exc.args[0] if exc.args else exc  # RE2 says why in bytes
                why = why.decode("utf-8", "replace") if isinstance(why, bytes) else str(why)
                return Outcome(
                    "error", error=f"not a regular expression RE2 runs (no backreferences, no lookaround): {why}"
                )
        else:
            matches = lambda line: pattern in line  # noqa: E731 (a word: found as it is)
        found: list[str] = []
        fd, st = _open_below(folder, root, raw)
        try:
            if stat.S_ISREG(st.st_mode):
                if _search(os.dup(fd), st, root.name, matches, found):
                    found.append(f"[stopped at {GREP_MATCHES} matches]")
                    return Outcome("ok", "\n".join(found), truncated=True)
                return Outcome("ok", "\n".join(found) or "no matches")
            looked = 0
            with closing(_walk(fd, root)) as files:
                for dir_fd, name, label in files:
                    looked += 1
                    if looked > GREP_FILES:
                        found.append(f"[stopped after {GREP_FILES:,} files: give a narrower path]")
                        return Outcome("ok", "\n".join(found), truncated=True)
                    try:
                        file_fd, file_st = _open_at(dir_fd, name, label)
                    except (Refused, Unreadable, OSError):
                        continue  # a link, a FIFO, a hard link or a file gone: not searched
                    if _search(file_fd, file_st, label, matches, found):
                        found.append(f"[stopped at {GREP_MATCHES} matches]")
                        return Outcome("ok", "\n".join(found), truncated=True)
        finally:
            os.close(fd)
        return Outcome("ok", "\n".join(found) or "no matches")


def _search(fd: int, st: os.stat_result, label: str, matches: Callable[[str], Any], found: list[str]) -> bool:
    """Add a file's matching lines to `found` (the fd is closed); True once there are enough."""
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(st.st_mode) or st.st_size > GREP_FILE_LIMIT:
            return False
        text = _text(f.read(GREP_FILE_LIMIT + 1))
    if text is None:
        return False
    for number, line in enumerate(text.splitlines(), 1):
        if matches(line):
            found.append(f"{label}:{number}: {line[:300]}")
            if len(found) >= GREP_MATCHES:
                return True
    return False


def _walk(top_fd: int, root: Path) -> Generator[tuple[int, str, str]]:
    """The files under a folder as (folder fd, name, path from the root), links to folders not
    followed (os.fwalk checks each folder it enters is the one it listed), leaving out .git,
    .venv*, secret folders, secret files and agentik's own data."""
    data = _agentik_data()
    for folder, dirs, names, dir_fd in os.fwalk(".", dir_fd=top_fd, follow_symlinks=False):
        here = os.path.normpath(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if d != ".git"
            and not d.startswith(".venv")
            and not is_secret_folder(root / here / d)
            and (root / here / d) != data
        )
        for name in sorted(names):
            label = os.path.normpath(os.path.join(here, name))
            if not is_secret_file(root / label):
                yield dir_fd, name, label
