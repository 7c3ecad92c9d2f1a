"""What a source reads from another tool's logs, and the shape every source has.

A source finds its files (`default_paths`, `wanted`) and reads one file from where the last read of it
ended (`read(path, mark)`): the mark is the source's own (an offset, a running total, a row id), kept
by the importer beside the file's identity and written in the transaction that stores what was read,
so a read is stored once or not at all. A call carries the key that makes it the same call however it
is read again (a rotated file, a copy of a session in another file, a snapshot written later): the
importer stores a key once, and keeps the largest snapshot of it."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO, Protocol

# a JSONL line longer than this is not read (a log line of a tool's output can be large; one of
# 64 MiB is not a usage record)
MAX_LINE = 64 * 1024 * 1024
# text kept of one message: the search index and `sessions show` need the words, not megabytes
MAX_TEXT = 100_000


@dataclass(slots=True)
class Call:
    """One model call another tool made. Tokens as agentik's ledger counts them: `input_tokens` is the
    whole prompt, cache reads and writes included; the cache writes split by lifetime."""

    key: str  # unique within the source: the same call read twice has the same key
    session: str  # the source's session id
    at: datetime  # UTC-aware
    model: str
    provider: str
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    # what the tool itself said the call cost (Claude Code's costUSD), in nano-dollars
    source_cost_nd: int | None = None
    text: str = ""
    # the log gave the call's token counts (an llm response of an older llm, or of a plugin that
    # reports none, has none): a call without them is unpriced, never $0
    usage_known: bool = True

    @property
    def cache_write_tokens(self) -> int:
        return self.cache_write_5m_tokens + self.cache_write_1h_tokens

    def size(self) -> tuple[int, int]:
        """How far a snapshot of the call got: the larger is the later, fuller one."""
        return (self.output_tokens, self.input_tokens)


@dataclass(slots=True)
class Said:
    """Words of the person (or, with no call of their own, the tool) in a session: a user message."""

    key: str  # unique within the source
    session: str
    at: datetime
    text: str
    role: str = "user"


@dataclass(slots=True)
class SessionInfo:
    key: str
    title: str = ""
    project: str = ""  # the folder the tool ran in, when the log says


@dataclass
class Read:
    """What one read of one file found, and where the next read starts."""

    calls: list[Call] = field(default_factory=list)
    said: list[Said] = field(default_factory=list)
    sessions: dict[str, SessionInfo] = field(default_factory=dict)
    lines: int = 0  # records read (lines, messages, rows)
    unknown: int = 0  # records of a type the source does not know (skipped)
    unparsable: int = 0  # records that did not parse (skipped)
    mark: dict[str, Any] = field(default_factory=dict)
    failed: str | None = None  # why the whole file was skipped, when it was (nothing of it is stored)
    line_start: int = 0  # jsonl(): the offset of the line it yielded last

    def session(self, key: str) -> SessionInfo:
        found = self.sessions.get(key)
        if found is None:
            found = self.sessions[key] = SessionInfo(key)
        return found


class Source(Protocol):
    name: str  # claude-code, codex, gemini, llm: the channel of its sessions and the name of its agent
    provider: str  # the provider of its calls when a call does not say
    model: str  # its agent's model, until a call names one

    def default_paths(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Where the tool keeps its logs (folders or files), whether or not they exist."""
        ...

    def wanted(self, path: Path) -> bool:
        """Whether a file found under one of the paths is one of the tool's logs."""
        ...

    def read(self, path: Path, mark: dict[str, Any]) -> Read:
        """The calls and words in a file since the mark (empty: from the start)."""
        ...


# ---- helpers the sources share ----


def when(value: Any) -> datetime | None:
    """An ISO time (`Z` or an offset; naive is UTC, as the tools write it), or epoch seconds or
    milliseconds, as an aware UTC datetime; None when it is not a time."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 1e11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00") if value.endswith("Z") else value)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def count(value: Any) -> int:
    """A token count as the log has it: a non-negative integer, anything else 0."""
    return value if type(value) is int and value > 0 else 0


def text_of(content: Any) -> str:
    """The text of a message's content: a string, or a list of blocks of which the text ones count."""
    if isinstance(content, str):
        return content[:MAX_TEXT]
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") in ("text", "input_text", "output_text"):
                value = block.get("text")
                if isinstance(value, str):
                    parts.append(value)
        return "\n\n".join(parts)[:MAX_TEXT]
    return ""


def file_id(path: Path) -> tuple[str, int, int] | None:
    """(identity, size, mtime in ns) of a file: identity names the file itself (device and inode), so
    a log rotated to another name, or replaced by a new one, is told from one appended to."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return f"{st.st_dev}:{st.st_ino}", st.st_size, st.st_mtime_ns


# the first bytes of a file, kept in its mark: a file that no longer starts with them is another file
HEAD = 256


def jsonl(path: Path, mark: dict[str, Any], read: Read, skip: Callable[[bytes], bool] | None = None) -> Iterator[Any]:
    """Each complete line of an append-only JSONL file after the mark's offset, parsed (None for a line
    that does not parse, counted as such), and the mark of where the next read starts set on `read`.
    From the start when the file is not the one the mark was made on (it no longer starts with the
    same bytes, or it is shorter than the offset: rotated, truncated, rewritten); the keys of its
    calls keep what was stored once. A last line without its newline is being written: it is left
    for the next read. A line `skip` says holds nothing the source reads is counted and not parsed."""
    with path.open("rb") as handle:
        head = handle.read(HEAD)
        offset = start(handle, head, mark)
        handle.seek(offset)
        position = offset
        try:
            for line in handle:
                if not line.endswith(b"\n"):
                    break
                read.line_start = position
                position += len(line)
                if not line.strip():
                    continue
                read.lines += 1
                if skip is not None and skip(line):
                    continue
                value = loads(line) if len(line) <= MAX_LINE else None
                if value is None:
                    read.unparsable += 1
                yield value
        finally:
            read.mark = {"offset": position, "head": fingerprint(head), "head_bytes": len(head)}


def start(handle: BinaryIO, head: bytes, mark: dict[str, Any]) -> int:
    """Where a read of an open file from the mark starts: the mark's offset, or 0 when the file is not
    the one the mark was made on (it no longer starts with the same bytes, or is shorter)."""
    offset = int(mark.get("offset", 0))
    length = mark.get("head_bytes")
    if not offset or type(length) is not int or length < 0:
        return 0
    if fingerprint(head[:length]) != mark.get("head") or offset > os.fstat(handle.fileno()).st_size:
        return 0
    return offset


def fingerprint(data: bytes) -> str:
    """A file's first bytes as a mark keeps them: their hash (the bytes may be words someone said)."""
    return hashlib.sha256(data).hexdigest()


def carries_on(path: Path, mark: dict[str, Any]) -> bool:
    """Whether `jsonl(path, mark, ...)` will read on from the mark rather than from the start: a
    source that keeps state in its mark (a running total) uses that state only then."""
    try:
        with path.open("rb") as handle:
            return start(handle, handle.read(HEAD), mark) > 0
    except OSError:
        return False


def loads(line: bytes) -> Any:
    """A JSON line, or None when it does not parse (nested deeper than Python recurses included). A
    byte that is not UTF-8 (in a message's text) does not lose the line's spend: it reads as U+FFFD."""
    try:
        return json.loads(line)
    except UnicodeDecodeError:
        pass
    except (ValueError, RecursionError):
        return None
    try:
        return json.loads(line.decode("utf-8", "replace"))
    except (ValueError, RecursionError):
        return None
