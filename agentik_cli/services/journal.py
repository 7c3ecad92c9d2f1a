"""The journal of records that a database could not take: the reply of a call that was paid for,
when the database was full, read-only or otherwise unwritable. It lives in the data folder, one file
per database, one JSON line a record, and the next agentik command on that database stores it (see
ledger.replay_journal). Nothing else ever goes through it."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from agentik_cli import paths

REPLAYING = ".replaying"


def path_for(url: str) -> Path:
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]
    return paths.data_dir() / "unsaved" / f"{digest}.jsonl"


def _encode(value: Any) -> Any:
    if isinstance(value, datetime):
        return {"$time": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not JSON")


def _decode(value: dict[str, Any]) -> Any:
    return datetime.fromisoformat(value["$time"]) if set(value) == {"$time"} else value


def keep(url: str, record: dict[str, Any]) -> Path:
    """Append one record, flushed to disk before returning. Raises OSError when even that fails."""
    path = path_for(url)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"id": uuid.uuid4().hex, "url": url, **record}, default=_encode, ensure_ascii=False)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return path


def pending(url: str) -> list[Path]:
    """The journal files of this database: the one being written, and those a replay took (one of a
    process that died before it finished, or of one replaying now)."""
    path = path_for(url)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(path.name + REPLAYING + ".*")) + ([path] if path.exists() else [])


def take(url: str) -> tuple[list[dict[str, Any]], list[Path]]:
    """The records to replay, and the files they came from, to remove once they are stored (only
    those: a file another process takes meanwhile is its own). The live file is renamed first, to a
    name of this process's, so records appended meanwhile go to a new file and are not lost."""
    path = path_for(url)
    try:
        os.replace(path, path.with_name(f"{path.name}{REPLAYING}.{os.getpid()}"))
    except OSError:
        pass  # none, or another process took it first
    records: list[dict[str, Any]] = []
    files = [p for p in pending(url) if p != path]
    for file in list(files):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:  # stored and removed by another process meanwhile
            files.remove(file)
            continue
        for line in lines:
            if line.strip():
                try:
                    records.append(json.loads(line, object_hook=_decode))
                except ValueError:
                    continue  # a line cut short by a crash while it was written
    return records, files


def rewrite(url: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Pass every record still waiting in this database's journal through `change` (a redaction:
    the journal is a copy agentik keeps too). Each file is replaced whole, atomically; a record a
    replay stores meanwhile is stored once all the same (replay_journal notes the ids it stored).
    Returns how many records changed."""
    changed = 0
    for file in pending(url):
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:  # stored and removed by a replay meanwhile
            continue
        out = []
        for line in lines:
            try:
                record = json.loads(line, object_hook=_decode)
            except ValueError:
                out.append(line)  # a line cut short by a crash: replay skips it too
                continue
            new = change(record)
            changed += new != record
            out.append(json.dumps(new, default=_encode, ensure_ascii=False))
        if out != lines:
            temporary = file.with_name(file.name + ".rewrite")
            fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write("".join(line + "\n" for line in out))
            os.replace(temporary, file)
    return changed
