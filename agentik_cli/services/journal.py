"""The journal of records that a database could not take: the reply of a call that was paid for,
when the database was full, read-only or otherwise unwritable. It lives in the data folder, one file
per database, one JSON line a record, and the next agentik command on that database stores it (see
ledger.replay_journal). Nothing else ever goes through it."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
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
    """The journal files of this database: one being written, and one a replay took but may not
    have finished (a process that died in between)."""
    path = path_for(url)
    return [p for p in (path.with_name(path.name + REPLAYING), path) if p.exists()]


def take(url: str) -> tuple[list[dict[str, Any]], list[Path]]:
    """The records to replay, and the files to remove once they are stored. The live file is renamed
    first, so records appended meanwhile go to a new file and are not lost."""
    path = path_for(url)
    taken = path.with_name(path.name + REPLAYING)
    if path.exists() and not taken.exists():
        try:
            os.replace(path, taken)
        except OSError:
            pass
    records: list[dict[str, Any]] = []
    files = [p for p in (taken,) if p.exists()]
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    records.append(json.loads(line, object_hook=_decode))
                except ValueError:
                    continue  # a line cut short by a crash while it was written
    return records, files
