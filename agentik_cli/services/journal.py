"""The journal: what a database has not taken yet, in the data folder, one JSON line a record, stored
by the next agentik command on that database (recording.replay_journal). Two kinds:

- records a database could not take: the reply of a call that was paid for, when the database was
  full, read-only or otherwise unwritable (one file per database);
- calls in flight (Flight): each model call writes a file of its own as its reply streams (each
  piece written before it is shown; a thread fsyncs what was written, and the usage figures, every
  FLUSH_EVERY seconds), removed once the reply is stored. The file is locked (flock) by its process
  while it lives; a file nobody holds was left by a process that died (kill -9, a power cut), and
  the next command stores the reply as far as the file has it, marked interrupted unless it had
  arrived whole, with an estimated cost row. The cost row carries the file's key, so a call stored
  by its own process just before it died is not stored twice."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agentik_cli import paths

REPLAYING = ".replaying"
CALL = ".call-"
# how often a call's journal takes what has streamed since, and how often (while a call lasts) its
# budget reservation says that its process still runs (services/budgets.py HEARTBEAT_LAPSE)
FLUSH_EVERY = 0.25
HEARTBEAT_EVERY = 30.0


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
    changed = _rewrite_calls(url, change)
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


# ---- calls in flight ----


def _write_all(fd: int, data: bytes) -> None:
    """All of it, or OSError (a write may take part of it: a disk nearly full)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written == 0:
            raise OSError("no room left to write")
        view = view[written:]


Progress = Callable[[], "tuple[str, list[int]]"]  # the reply's text so far, and its usage figures


class Flight:
    """One model call's journal, written while it streams (see the module's docstring). `progress`
    is read by the writer thread: the text (which only grows) and the usage figures so far;
    `beat`, when given, is called every HEARTBEAT_EVERY seconds in a thread of its own (it writes to
    the database, which may have to wait for its lock: the journal never waits for it)."""

    def __init__(
        self, url: str | None, header: dict[str, Any], progress: Progress, beat: Callable[[], None] | None = None
    ):
        self.key = uuid.uuid4().hex
        self._progress = progress
        self._beat = beat
        self._written = 0
        self._unsynced = False
        self._usage: list[int] | None = None
        self._started = time.monotonic()
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._fd: int | None = None
        self.path: Path | None = None
        if url is not None:
            self._open(url, header)
        if self._fd is not None or beat is not None:  # the heartbeat goes on without a journal
            self._thread = threading.Thread(target=self._run, name="agentik-journal", daemon=True)
            self._thread.start()

    def _open(self, url: str, header: dict[str, Any]) -> None:
        """The journal's file, made, locked and headed; none (the call goes on, kept only by the
        database) when the data folder cannot take it."""
        path = path_for(url).with_name(f"{path_for(url).stem}{CALL}{self.key}.jsonl")
        line = json.dumps({"key": self.key, "url": url, **header}, default=_encode, ensure_ascii=False) + "\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            _write_all(fd, line.encode("utf-8", "surrogatepass"))
        except OSError:
            path.unlink(missing_ok=True)
            os.close(fd)
            return
        self._fd, self.path = fd, path

    def note(self, text: str) -> None:
        """The reply so far, as it arrives, before it is shown: what is new of it is written at once
        (to the system, which keeps it whatever becomes of this process; the thread syncs it to the
        disk), so nothing shown is ever lost with the process."""
        if self._fd is None or len(text) <= self._written:
            return
        with self._lock:
            if self._fd is None:
                return
            line = '{"text": ' + json.dumps(text[self._written :], ensure_ascii=False) + "}\n"
            try:
                _write_all(self._fd, line.encode("utf-8", "surrogatepass"))
            except OSError:
                return  # a full disk: the thread tries again, the database gets the whole reply
            self._written = len(text)
            self._unsynced = True

    def _run(self) -> None:
        beaten = time.monotonic()
        while not self._stop.wait(FLUSH_EVERY):
            self._flush(sync=True)
            if self._beat is not None and time.monotonic() - beaten >= HEARTBEAT_EVERY:
                beaten = time.monotonic()
                threading.Thread(target=self._beat, name="agentik-heartbeat", daemon=True).start()

    def _flush(self, *, sync: bool, complete: bool = False) -> None:
        with self._lock:
            if self._fd is None:
                return
            fd = self._fd
            text, usage = self._progress()
            if len(text) != self._written or usage != self._usage or complete:
                line: dict[str, Any] = {"ms": round((time.monotonic() - self._started) * 1000)}
                if complete:
                    line["complete"] = True
                if len(text) > self._written:
                    line["text"] = text[self._written :]
                if usage != self._usage:
                    line["usage"] = usage
                try:
                    _write_all(fd, (json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass"))
                except OSError:
                    return  # a full disk: what was written stays, the database gets the whole reply
                self._written, self._usage, self._unsynced = len(text), usage, True
        if sync and self._unsynced:
            # outside the lock: the reply goes on being written (and shown) while the disk syncs
            self._unsynced = False
            try:
                os.fsync(fd)
            except OSError:
                self._unsynced = True

    def stop(self, *, complete: bool = False) -> None:
        """The call is over (`complete`: its reply arrived whole): what streamed is written, not
        synced (the database's commit follows; a killed process's writes stay with the system)."""
        if self._stop.is_set():
            return
        self._stop.set()
        if self._fd is not None or self._beat is not None:
            self._thread.join()
        self._flush(sync=False, complete=complete)

    def done(self) -> None:
        """The reply is stored (or the call never went out): the journal goes."""
        self.stop()
        with self._lock:
            if self._fd is None or self.path is None:
                return
            self.path.unlink(missing_ok=True)
            os.close(self._fd)
            self._fd = None


@dataclass
class Abandoned:
    """A call's journal left by a process that died, held (locked) by this process while it is
    stored: its header, the text as far as it got, the last usage figures, the time it ran, and
    whether the reply had arrived whole (the process died as it stored it)."""

    path: Path
    fd: int
    header: dict[str, Any]
    text: str
    usage: list[int] | None
    ms: int
    complete: bool = False

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)
        os.close(self.fd)

    def keep(self) -> None:
        os.close(self.fd)


def _read_call(path: Path, fd: int) -> Abandoned | None:
    with open(fd, encoding="utf-8", errors="surrogatepass", closefd=False) as file:
        lines = file.read().split("\n")
    records = []
    for line in lines:
        if line.strip():
            try:
                records.append(json.loads(line, object_hook=_decode))
            except ValueError:
                continue  # a line cut short by the crash
    if not records or "key" not in records[0]:
        return None
    header, rest = records[0], records[1:]
    usage = None
    for record in rest:
        usage = record.get("usage", usage)
    text = "".join(r.get("text", "") for r in rest)
    ms = max((r.get("ms", 0) for r in rest), default=0)
    return Abandoned(path, fd, header, text, usage, ms, any(r.get("complete") for r in rest))


def _calls(url: str) -> list[Path]:
    path = path_for(url)
    if not path.parent.is_dir():
        return []
    return sorted(path.parent.glob(f"{path.stem}{CALL}*.jsonl"))


def abandoned(url: str) -> Iterator[Abandoned]:
    """The calls whose process died before storing them, each locked by this process until it is
    discarded or kept (a call still running, or taken by another process, is passed over)."""
    for path in _calls(url):
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:  # stored and removed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            continue
        if not os.path.exists(path):  # removed by the process that held it, as the lock was taken
            os.close(fd)
            continue
        found = _read_call(path, fd)
        if found is None:  # not even a whole header: the process died as it began, nothing was sent
            path.unlink(missing_ok=True)
            os.close(fd)
            continue
        yield found


def has_calls(url: str) -> bool:
    return bool(_calls(url))


def _rewrite_calls(url: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """A redaction reaches the calls' journals of processes that died: each is rewritten whole, its
    text in one piece (a secret may have streamed in two)."""
    changed = 0
    for call in abandoned(url):
        try:
            record = {"content": call.text}
            new = change(record)
            if new != record:
                changed += 1
                last = {"ms": call.ms, "text": new["content"], "complete": call.complete}
                if call.usage is not None:
                    last["usage"] = call.usage
                lines = [json.dumps(call.header, default=_encode, ensure_ascii=False), json.dumps(last)]
                temporary = call.path.with_name(call.path.name + ".rewrite")
                fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    handle.write("".join(line + "\n" for line in lines))
                os.replace(temporary, call.path)
        finally:
            call.keep()
    return changed
