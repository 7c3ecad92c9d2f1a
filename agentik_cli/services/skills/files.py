"""The `files` skill: read_file, list_dir and grep, under the agent's folders only.

Every path is resolved (symlinks included) before it is checked, so neither `../` nor a link can
lead out of the folders; files that hold secrets are refused wherever they are; binary files and
files over the size caps are refused or cut, never sent."""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Any

from agentik_cli.services.skills.base import Context, Outcome, Skill, Tool

READ_LIMIT = 256 * 1024  # bytes of a file read_file sends
GREP_FILE_LIMIT = 2 * 1024 * 1024  # files larger than this are not searched
GREP_MATCHES = 200
LIST_LIMIT = 1000
# names of files that hold secrets, refused wherever they are
SECRET_NAMES = (
    ".env",
    ".env.*",
    "*.pem",
    "*.key",
    "id_*",
    ".netrc",
    "_netrc",
    ".pgpass",
    "*.p12",
    "*.pfx",
    "keys.json",
)
# folders whose every file is secret
SECRET_DIRS = (".ssh", ".gnupg", ".aws")


class Refused(Exception):
    pass


def is_secret(path: Path) -> bool:
    name = path.name.lower()
    if any(fnmatch.fnmatch(name, pattern) for pattern in SECRET_NAMES):
        return True
    parts = [p.lower() for p in path.parts]
    if any(p in SECRET_DIRS for p in parts):
        return True
    return len(parts) >= 2 and parts[-2] == ".git" and parts[-1] == "config"


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


def resolve(raw: str, context: Context) -> Path:
    """The real path named by `raw` (relative to the first folder), checked: inside a folder once
    every link is followed, not a secret, not agentik's own data."""
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
    if not any(real == folder or real.is_relative_to(folder) for folder in allowed):
        raise Refused(f"{raw} is outside the agent's folders ({', '.join(map(str, allowed))})")
    if not real.exists():
        raise FileNotFoundError(2, f"no such file or folder: {raw}")
    data = _agentik_data()
    if data is not None and (real == data or real.is_relative_to(data)):
        raise Refused(f"{raw} is in agentik's own data folder")
    if is_secret(real) or is_secret(given):
        raise Refused(f"{raw} may hold secrets: refused")
    return real


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


class FilesSkill(Skill):
    name = "files"
    kind = "builtin"
    risk = "read"
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
        except OSError as exc:
            return Outcome("error", error=f"{exc.strerror or exc}")

    def _read(self, arguments: dict[str, Any], context: Context) -> Outcome:
        path = resolve(arguments["path"], context)
        if not path.is_file():
            return Outcome("error", error=f"{arguments['path']} is not a file")
        offset = int(arguments.get("offset") or 0)
        size = path.stat().st_size
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read(READ_LIMIT)
        text = _text(data)
        if text is None:
            return Outcome("error", error=f"{arguments['path']} is a binary file: not sent")
        truncated = offset + len(data) < size
        if truncated:
            text += f"\n[cut: {size:,} bytes in all; read on with offset {offset + len(data)}]"
        return Outcome("ok", text, truncated=truncated)

    def _list(self, arguments: dict[str, Any], context: Context) -> Outcome:
        path = resolve(arguments.get("path") or ".", context)
        if not path.is_dir():
            return Outcome("error", error=f"{arguments.get('path')} is not a folder")
        lines = []
        entries = sorted(path.iterdir(), key=lambda p: p.name)
        for entry in entries[:LIST_LIMIT]:
            try:
                if entry.is_dir():
                    lines.append(entry.name + "/")
                else:
                    lines.append(f"{entry.name}  {entry.stat().st_size:,} bytes")
            except OSError:
                lines.append(entry.name)
        truncated = len(entries) > LIST_LIMIT
        if truncated:
            lines.append(f"[{len(entries) - LIST_LIMIT:,} more not listed]")
        return Outcome("ok", "\n".join(lines) or "(empty)", truncated=truncated)

    def _grep(self, arguments: dict[str, Any], context: Context) -> Outcome:
        root = resolve(arguments.get("path") or ".", context)
        pattern = arguments["pattern"]
        try:
            matcher = re.compile(pattern if arguments.get("regex") else re.escape(pattern))
        except re.error as exc:
            return Outcome("error", error=f"not a regular expression: {exc}")
        allowed = folders(context)
        found: list[str] = []
        files = [root] if root.is_file() else _walk(root)
        for file in files:
            real = file.resolve()
            if not any(real.is_relative_to(f) for f in allowed) or is_secret(real) or is_secret(file):
                continue
            try:
                if real.stat().st_size > GREP_FILE_LIMIT:
                    continue
                text = _text(real.read_bytes())
            except OSError:
                continue
            if text is None:
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if matcher.search(line):
                    found.append(f"{file.relative_to(root) if file != root else file.name}:{number}: {line[:300]}")
                    if len(found) >= GREP_MATCHES:
                        return Outcome(
                            "ok", "\n".join(found) + f"\n[stopped at {GREP_MATCHES} matches]", truncated=True
                        )
        return Outcome("ok", "\n".join(found) or "no matches")


def _walk(root: Path) -> list[Path]:
    """The files under a folder, not following links to folders, leaving out .git and secret folders."""
    out: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in (".git", *SECRET_DIRS) and not d.startswith(".venv"))
        out.extend(Path(folder) / n for n in sorted(names))
        if len(out) > 20_000:
            break
    return out
