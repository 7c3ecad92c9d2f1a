"""Codex's rollouts: `$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<session>.jsonl` (default
`~/.codex`), and the same files moved to `archived_sessions/`. Each line is `{timestamp, type, payload}`
(codex-rs/protocol, `RolloutLine` and `RolloutItem`); a line of a type not known here is counted and
skipped. What is read:

- Spend is on `event_msg` lines whose `payload.type` is `token_count`: `payload.info.total_token_usage`
  is the session's running total (`input_tokens`, `cached_input_tokens`, `output_tokens`,
  `reasoning_output_tokens`, `total_tokens`). A call is an event whose running total grew; its usage is
  the difference. Codex writes the same total more than once (a rate-limit update repeats it, and
  `info` can be null): no growth, no call. A total that shrinks starts a new count (the difference is
  then the total itself).
- Tokens as OpenAI bills them: `input_tokens` is the whole prompt, `cached_input_tokens` (inside it) the
  cache reads; `output_tokens` already holds `reasoning_output_tokens` (Codex's own `blended_total` is
  non-cached input plus output, reasoning not added again), so reasoning is not counted twice. A
  `cache_write_input_tokens` (newer Codex) is a cache write inside the prompt, at the 5-minute price.
- The model is the latest `turn_context` line's `payload.model` (a model changed mid-session prices the
  calls after it); before any, `unknown` (unpriced, never guessed). The session is the first
  `session_meta` line's `payload.id`, else the session id in the file's name; its project the `cwd`;
  its title the first thing the person typed (`event_msg` `user_message`).
- A call's key is the session and the running total's `total_tokens`: the same whatever read finds it.
- Other `event_msg` payloads (Codex has dozens, and adds more: commands run, patches, reasoning) carry
  no spend and are read past; only an unknown line `type` counts as unknown.
- The assistant's words (`event_msg` `agent_message`) go with the next call, the one that reports their
  tokens.
- Forks and subagents (`codex fork`, a `spawn_agent` child) start their file with their own
  `session_meta` (a new `id`), then copy the parent's rollout items into it, `token_count` events and
  the parent's `session_meta` included (codex-rs core, `InitialHistory::Forked`,
  `persist_rollout_items`), and seed their running total with the copy's last
  (`last_token_info_from_rollout`). The copied calls are the parent's, counted from the parent's file:
  in the fork they only move the running total, so the fork's own calls are the differences from it.
  What the file marks explicitly is that it is a fork and when it was made: its first `session_meta`
  names `forked_from_id` (a fork) or `source.subagent.thread_spawn.parent_thread_id` (a subagent), with
  the line's `timestamp`. Where the copy ends no line marks (the copied lines are the parent's own
  items, unchanged), so the end is found by time, as ccusage does (`detect_subagent_replay_second`):
  Codex writes the copy at once as the fork starts, stamped with that moment (or keeping the parent's
  earlier times, in some versions), while a call of the fork's own ends after a model's answer. A
  `token_count` no later than `COPY_WINDOW` after the fork's `session_meta` line is the copy's; the
  first later one ends the copy for good. Anchored on the fork's own `session_meta`, not on two copied
  events sharing a second (ccusage), a copy that keeps the parent's times (ccusage#1460) is skipped as
  well. The cost of the rule: a call of the fork's own that ends within the window is taken for the
  copy; a fork with no time to anchor on is read as any session.
- Incremental reads: the running total, the model, the session and the end of a fork's copy while it
  is still being read are kept in the mark beside the offset, and used only when the read carries on
  from that offset. Words not yet given to a call are not: the mark's offset stays at their line, read
  again with their call (the store's copy of a mark never holds what was said)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from agentik_cli.sources.base import MAX_TEXT, Call, Read, Said, carries_on, count, jsonl, when

name = "codex"
provider = "openai"
model = "gpt-5-codex"

UNKNOWN_MODEL = "unknown"
# line types Codex writes that carry no spend of their own: read past without counting them as unknown
QUIET = frozenset(
    {
        "response_item",
        "compacted",
        "world_state",
        "inter_agent_communication",
        "inter_agent_communication_metadata",
    }
)
TOTALS = ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens", "total_tokens")
# how long after a fork's session_meta line its copy of the parent's events may still be being written
COPY_WINDOW = timedelta(seconds=1)
SESSION_IN_NAME = re.compile(r"([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.IGNORECASE)


def default_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    configured = env.get("CODEX_HOME", "").strip()
    root = Path(configured).expanduser() if configured else home / ".codex"
    return [root / "sessions", root / "archived_sessions"]


def wanted(path: Path) -> bool:
    return path.suffix == ".jsonl" and path.name.startswith("rollout-")


class _State:
    """What a read carries from line to line, and from one read to the next through the mark."""

    def __init__(self, path: Path, mark: dict[str, Any]) -> None:
        kept = mark if carries_on(path, mark) else {}
        found = SESSION_IN_NAME.search(path.stem)
        self.session: str = _text(kept.get("session")) or (found.group(1) if found else path.stem)
        self.named = bool(kept.get("named"))  # the session id came from a session_meta line
        self.model: str = _text(kept.get("model")) or UNKNOWN_MODEL
        self.project: str = _text(kept.get("project"))
        self.titled = bool(kept.get("titled"))
        # the assistant's words not yet given to a call, and the offset of the line they start on: a
        # read that ends before their call marks that line as where the next read starts, so that the
        # mark (kept in the store) never holds what was said
        self.words = ""
        self.words_from: int | None = None
        self.round: int = kept["round"] if type(kept.get("round")) is int else 0
        total = kept.get("total")
        self.total = {key: count(total.get(key)) for key in TOTALS} if type(total) is dict else dict.fromkeys(TOTALS, 0)
        # a fork still being read through its copy of the parent: the latest time a copied line may have
        self.copy_until: datetime | None = when(kept.get("copy_until"))

    def mark(self) -> dict[str, Any]:
        return {
            "session": self.session,
            "named": self.named,
            "model": self.model,
            "project": self.project,
            "titled": self.titled,
            "round": self.round,
            "total": self.total,
            "copy_until": self.copy_until.isoformat() if self.copy_until is not None else None,
        }


def read(path: Path, mark: dict[str, Any]) -> Read:
    found = Read()
    state = _State(path, mark)
    for line in jsonl(path, mark, found):
        if type(line) is not dict:
            if line is not None:
                found.unparsable += 1
            continue
        kind, payload = line.get("type"), line.get("payload")
        if kind in QUIET:
            continue
        if kind not in ("session_meta", "turn_context", "event_msg"):
            found.unknown += 1
            continue
        if type(payload) is not dict:
            found.unparsable += 1
            continue
        if kind == "session_meta":
            if not state.named and isinstance(payload.get("id"), str) and payload["id"]:
                state.session, state.named = payload["id"], True
                # only the file's own (first) session_meta says it is a fork: later ones are copied
                made = when(line.get("timestamp")) or when(payload.get("timestamp"))
                if _forked(payload) and made is not None:
                    state.copy_until = made + COPY_WINDOW
            if not state.project and isinstance(payload.get("cwd"), str):
                state.project = payload["cwd"]
        elif kind == "turn_context":
            if isinstance(payload.get("model"), str) and payload["model"].strip():
                state.model = payload["model"].strip()
            if not state.project and isinstance(payload.get("cwd"), str):
                state.project = payload["cwd"]
        else:
            _event(line, payload, state, found)
    if state.project:
        found.session(state.session).project = state.project
    # jsonl() set the offset and head; what the next read carries on with goes beside them
    found.mark.update(state.mark())
    if state.words and state.words_from is not None:
        found.mark["offset"] = state.words_from  # read again, with their call, next time
    return found


def _event(line: dict[str, Any], payload: dict[str, Any], state: _State, found: Read) -> None:
    event = payload.get("type")
    if event == "token_count":
        _token_count(line, payload, state, found)
    elif event == "agent_message":
        said = payload.get("message")
        if isinstance(said, str) and said.strip():
            if not state.words:
                state.words_from = found.line_start
            state.words = (f"{state.words}\n\n{said}" if state.words else said)[:MAX_TEXT]
    elif event == "user_message":
        said, at = payload.get("message"), when(line.get("timestamp"))
        if not isinstance(said, str) or not said.strip() or at is None:
            return
        text = said.strip()[:MAX_TEXT]
        found.said.append(Said(key=f"{state.session}:{line['timestamp']}", session=state.session, at=at, text=text))
        if not state.titled:
            found.session(state.session).title = " ".join(text.split())[:80]
            state.titled = True


def _token_count(line: dict[str, Any], payload: dict[str, Any], state: _State, found: Read) -> None:
    info = payload.get("info")
    if info is None:
        return  # a rate-limit update with no usage
    usage = info.get("total_token_usage") if type(info) is dict else None
    if type(usage) is not dict:
        found.unparsable += 1
        return
    total = {key: count(usage.get(key)) for key in TOTALS}
    if not total["total_tokens"]:
        total["total_tokens"] = total["input_tokens"] + total["output_tokens"]  # an older line without it
    before = state.total
    if total["total_tokens"] == before["total_tokens"]:
        return  # the same total written again: no call
    if total["total_tokens"] < before["total_tokens"]:
        state.round += 1  # the count started over: the new total is the call's usage
        before = dict.fromkeys(TOTALS, 0)
    at = when(line.get("timestamp"))
    if at is None:
        found.unparsable += 1
        return
    state.total = total
    if state.copy_until is not None:
        if at <= state.copy_until:
            # the parent's call, copied into its fork: the fork's running total carries on from it
            state.words = ""
            return
        state.copy_until = None  # the fork's own first call: the copy is over
    grown = {key: max(total[key] - before[key], 0) for key in TOTALS}
    prompt = grown["input_tokens"]
    cached = min(grown["cached_input_tokens"], prompt)
    written = min(grown["cache_write_input_tokens"], prompt - cached)
    number = f"{state.round}:{total['total_tokens']}" if state.round else str(total["total_tokens"])
    found.calls.append(
        Call(
            key=f"{state.session}:{number}",
            session=state.session,
            at=at,
            model=state.model,
            provider=provider,
            input_tokens=prompt,
            output_tokens=grown["output_tokens"],
            cache_read_tokens=cached,
            cache_write_5m_tokens=written,
            text=state.words,
        )
    )
    state.words = ""


def _forked(meta: dict[str, Any]) -> bool:
    """Whether a session_meta is a fork's (`forked_from_id`) or a spawned subagent's (`source`:
    `{"subagent": {"thread_spawn": {"parent_thread_id": ...}}}`): a file that starts with a copy."""
    if isinstance(meta.get("forked_from_id"), str) and meta["forked_from_id"]:
        return True
    source = meta.get("source")
    subagent = source.get("subagent") if type(source) is dict else None
    spawn = subagent.get("thread_spawn") if type(subagent) is dict else None
    return type(spawn) is dict and isinstance(spawn.get("parent_thread_id"), str) and bool(spawn["parent_thread_id"])


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""
