"""The files of another tool's logs: which source reads them (agentik_cli/sources/), where the tool
keeps them, which of them a `costs import --from` reads, and one file read from its mark."""

from __future__ import annotations

import importlib
import os
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from agentik_cli.errors import UsageError
from agentik_cli.sources.base import Read

SOURCES = {
    "claude-code": "agentik_cli.sources.claude_code",
    "codex": "agentik_cli.sources.codex",
    "gemini": "agentik_cli.sources.gemini",
    "llm": "agentik_cli.sources.llm",
}


def source(name: str) -> ModuleType:
    if name not in SOURCES:
        raise UsageError(f"unknown source '{name}'", hint=f"use one of: {', '.join(SOURCES)}")
    return importlib.import_module(SOURCES[name])


def default_roots(module: ModuleType, env: Mapping[str, str] | None = None) -> list[Path]:
    """Where the tool keeps its logs, whether or not they exist."""
    env = os.environ if env is None else env
    return list(module.default_paths(env, Path(env.get("HOME") or Path.home())))


def files(module: ModuleType, given: list[str], env: Mapping[str, str] | None = None) -> list[Path]:
    """The source's log files under the paths given (each a file or a folder, walked), else under the
    tool's own folders (those that exist)."""
    if given:
        roots = [Path(p).expanduser() for p in given]
        for root in roots:
            if not root.exists():
                raise UsageError(f"{root}: no such file or folder")
    else:
        roots = [root for root in default_roots(module, env) if root.exists()]
    found: dict[str, Path] = {}
    for root in roots:
        if root.is_file():
            found[str(root.resolve())] = root.resolve()
            continue
        for folder, _, names in os.walk(root):
            for name in names:
                path = Path(folder) / name
                if module.wanted(path) and path.is_file():
                    found[str(path.resolve())] = path.resolve()
    return [found[key] for key in sorted(found)]


def read_file(name: str, path: Path, mark: dict[str, Any]) -> Read:
    """One file read by its source from its mark; a file that cannot be read is skipped whole."""
    try:
        return source(name).read(path, mark)
    except (OSError, UnicodeDecodeError) as exc:
        return Read(failed=exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc))
