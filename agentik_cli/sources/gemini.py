"""Gemini CLI's chat recordings: `~/.gemini/tmp/<project>/chats/` (`$GEMINI_CLI_HOME/.gemini/tmp` when
set), a subagent's under `chats/<parent session>/` (packages/core/src/services/chatRecordingService.ts).
Two formats:

- `session-*.json` (older): one JSON document, `{sessionId, projectHash, startTime, lastUpdated,
  messages: [...]}`, rewritten whole as the chat goes on. It is read whole every time it changed (the
  mark's offset means nothing to it; the keys keep what was stored once), and a file that does not
  parse as a whole is skipped, nothing of it kept.
- `*.jsonl` (newer): appended records, read on from the mark: a first metadata record
  (`sessionId`, `projectHash`, ...), then messages, a message written again under its `id` when it
  changes (its tokens come later than its text), `{"$set": {...}}` updates (which can carry a whole
  `messages` list) and `{"$rewindTo": id}` (the person rewound: the calls it drops were made and paid
  for all the same, so they stay).

A message is `{id, timestamp, type, content, ...}`: `type` is `user`, `gemini`, `info`, `error` or
`warning` (another is counted as unknown). A `gemini` message with `tokens` is a call:
`tokens = {input, output, cached, thoughts, tool, total}`, the API's `promptTokenCount`,
`candidatesTokenCount`, `cachedContentTokenCount`, `thoughtsTokenCount`, `toolUsePromptTokenCount` and
`totalTokenCount`. As Google bills them: `input` is the whole prompt and holds `cached` (the cache
reads); the tool-use prompt is input beside it (the API's total is prompt + candidates + tool-use +
thoughts); thinking is output. Its model is the message's `model`. A call's key is the session and the
message id; a `user` message is what the person said. The project is the folder named in the project's
`.project_root` file (newer Gemini CLI), when there is one."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentik_cli.sources.base import MAX_TEXT, Call, Read, Said, carries_on, count, jsonl, when

name = "gemini"
provider = "google"
model = "gemini-2.5-pro"

UNKNOWN_MODEL = "unknown"
QUIET = frozenset({"info", "error", "warning"})  # message types that are neither words nor calls
# a .json chat larger than this is not read whole into memory
MAX_DOCUMENT = 512 * 1024 * 1024


def default_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    configured = env.get("GEMINI_CLI_HOME", "").strip()
    return [(Path(configured).expanduser() if configured else home) / ".gemini" / "tmp"]


def wanted(path: Path) -> bool:
    return path.suffix in (".json", ".jsonl") and "chats" in path.parent.parts


class _State:
    def __init__(self, path: Path, mark: dict[str, Any]) -> None:
        kept = mark if path.suffix == ".jsonl" and carries_on(path, mark) else {}
        self.session: str = _text(kept.get("session")) or path.stem
        self.model: str = _text(kept.get("model")) or UNKNOWN_MODEL
        self.titled = bool(kept.get("titled"))
        self.calls: dict[str, Call] = {}
        self.said: dict[str, Said] = {}

    def mark(self) -> dict[str, Any]:
        return {"session": self.session, "model": self.model, "titled": self.titled}


def read(path: Path, mark: dict[str, Any]) -> Read:
    found = Read()
    state = _State(path, mark)
    if path.suffix == ".json":
        _document(path, state, found)
        if found.failed:
            return found  # nothing of it read: the document parses whole or not at all
    else:
        for record in jsonl(path, mark, found):
            if type(record) is not dict:
                if record is not None:
                    found.unparsable += 1
                continue
            _record(record, state, found)
        found.mark.update(state.mark())
    found.calls = list(state.calls.values())
    found.said = list(state.said.values())
    project = _project(path)
    if project and (found.calls or found.said or state.session in found.sessions):
        found.session(state.session).project = project
    return found


def _document(path: Path, state: _State, found: Read) -> None:
    """A whole .json chat, or `found.failed` saying why not."""
    if os.stat(path).st_size > MAX_DOCUMENT:
        found.failed = "too large to read whole"
        return
    try:
        document = json.loads(path.read_bytes())
    except ValueError as exc:
        found.failed = f"not valid JSON ({exc})"
        return
    except RecursionError:
        found.failed = "not valid JSON (nested too deep)"
        return
    if type(document) is not dict or type(document.get("messages")) is not list:
        found.failed = "not a Gemini CLI chat (no messages list)"
        return
    if isinstance(document.get("sessionId"), str) and document["sessionId"]:
        state.session = document["sessionId"]
    for message in document["messages"]:
        found.lines += 1
        _message(message, state, found)


def _record(record: dict[str, Any], state: _State, found: Read) -> None:
    if "$rewindTo" in record:
        return  # the calls it drops were made (and billed) all the same
    if "$set" in record:
        update = record["$set"]
        if type(update) is not dict:
            found.unparsable += 1
            return
        if isinstance(update.get("sessionId"), str) and update["sessionId"]:
            state.session = update["sessionId"]
        for message in update.get("messages") or ():
            _message(message, state, found)
        return
    if isinstance(record.get("id"), str):
        _message(record, state, found)
        return
    if isinstance(record.get("sessionId"), str) and record["sessionId"]:  # the metadata record
        state.session = record["sessionId"]
        for message in record.get("messages") or ():
            _message(message, state, found)
        return
    found.unknown += 1


def _message(message: Any, state: _State, found: Read) -> None:
    if type(message) is not dict or not isinstance(message.get("id"), str):
        found.unparsable += 1
        return
    kind = message.get("type")
    if kind == "gemini":
        _gemini(message, state, found)
    elif kind == "user":
        at, text = when(message.get("timestamp")), _words(message.get("content")).strip()
        if at is None or not text:
            return
        key = f"{state.session}:{message['id']}"
        state.said[key] = Said(key=key, session=state.session, at=at, text=text)
        if not state.titled:
            found.session(state.session).title = " ".join(text.split())[:80]
            state.titled = True
    elif kind not in QUIET:
        found.unknown += 1


def _gemini(message: dict[str, Any], state: _State, found: Read) -> None:
    if isinstance(message.get("model"), str) and message["model"].strip():
        state.model = message["model"].strip()
    tokens = message.get("tokens")
    if tokens is None:
        return  # its tokens come with a later copy of it
    at = when(message.get("timestamp"))
    if type(tokens) is not dict or at is None:
        found.unparsable += 1
        return
    prompt = count(tokens.get("input"))
    key = f"{state.session}:{message['id']}"
    call = Call(
        key=key,
        session=state.session,
        at=at,
        model=_text(message.get("model")).strip() or state.model,
        provider=provider,
        input_tokens=prompt + count(tokens.get("tool")),
        output_tokens=count(tokens.get("output")) + count(tokens.get("thoughts")),
        cache_read_tokens=min(count(tokens.get("cached")), prompt),
        text=_words(message.get("content")),
    )
    earlier = state.calls.get(key)
    if earlier is None or call.size() >= earlier.size():
        state.calls[key] = call


def _words(content: Any) -> str:
    """The text of a message's content: a string, a part (`{text}`), or a list of them."""
    if isinstance(content, str):
        return content[:MAX_TEXT]
    if type(content) is dict:
        content = [content]
    if isinstance(content, list):
        parts = [part.get("text") if type(part) is dict else part for part in content]
        return "".join(part for part in parts if isinstance(part, str))[:MAX_TEXT]
    return ""


def _project(path: Path) -> str:
    """The project's folder, from `<project>/.project_root` beside its `chats` folder."""
    for folder in path.parents:
        if folder.name == "chats":
            try:
                return (folder.parent / ".project_root").read_text(encoding="utf-8").strip()[:1000]
            except (OSError, UnicodeDecodeError):
                return ""
    return ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
