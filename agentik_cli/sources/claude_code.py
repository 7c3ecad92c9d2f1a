"""Claude Code's transcripts: `~/.claude/projects/<folder>/<session>.jsonl` (and
`~/.config/claude/projects/`, or `$CLAUDE_CONFIG_DIR/projects`, each of a comma-separated list), with
subagents' transcripts under `<session>/subagents/` (nested folders too). Its maintainers say the
format is not a stable interface: what is read is only what the rules below need, and a line of a type
not known here is counted and skipped.

- Spend is on `type: "assistant"` lines that carry `message.usage`. One response is written as several
  lines (one a content block) with the same `message.id` and `requestId`: it is one call, counted once,
  from its largest snapshot (the last one holds the final output count); the text of its blocks is
  joined. A line whose model is `<synthetic>` (Claude Code's own messages) is no call.
- Tokens: `input_tokens` plus `cache_creation_input_tokens` plus `cache_read_input_tokens` is the
  prompt; the cache writes split by lifetime from `cache_creation.ephemeral_5m_input_tokens` and
  `ephemeral_1h_input_tokens` (all 5-minute when the split is not given).
- `costUSD`, when a line has it, is kept beside agentik's own price.
- A session is the line's `sessionId` (a subagent's lines carry their parent's); its title is the
  `summary` line's text, else the first thing the person typed; its project the `cwd`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agentik_cli import limits
from agentik_cli.money import NANO
from agentik_cli.sources.base import MAX_TEXT, Call, Read, Said, count, jsonl, text_of, when

name = "claude-code"
provider = "anthropic"
model = "claude-sonnet-4-5"

# line types Claude Code writes that carry no spend: read past without counting them as unknown
QUIET = frozenset({"user", "summary", "system", "file-history-snapshot", "queue-operation", "progress"})


def default_paths(env: Mapping[str, str], home: Path) -> list[Path]:
    configured = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if configured:
        return [Path(part.strip()).expanduser() / "projects" for part in configured.split(",") if part.strip()]
    return [home / ".claude" / "projects", home / ".config" / "claude" / "projects"]


def wanted(path: Path) -> bool:
    return path.suffix == ".jsonl"


def read(path: Path, mark: dict[str, Any]) -> Read:
    found = Read()
    calls: dict[str, Call] = {}
    summaries: list[tuple[Any, str]] = []
    sessions_of: dict[Any, str] = {}  # a line's uuid -> its session, for the summaries that name a line
    for line in jsonl(path, mark, found, skip=_tool_result):
        if type(line) is not dict:
            if line is not None:
                found.unparsable += 1
            continue
        kind = line.get("type")
        if isinstance(line.get("sessionId"), str):
            sessions_of[line.get("uuid")] = line["sessionId"]
        if kind == "assistant":
            _assistant(line, calls, found)
        elif kind == "user":
            _user(line, found)
        elif kind == "summary":
            summary = line.get("summary")
            if isinstance(summary, str) and summary.strip():
                summaries.append((line.get("leafUuid"), " ".join(summary.split())[:200]))
        elif kind not in QUIET:
            found.unknown += 1
    for leaf, summary in summaries:
        # a summary names the last line it sums up (often in this file), else it is the file's session's
        session = sessions_of.get(leaf) if leaf is not None else None
        found.session(session or path.stem).title = summary
    found.calls = list(calls.values())
    return found


def _tool_result(line: bytes) -> bool:
    """A user line that carries a tool's output and no words of the person: most of a transcript's
    bytes, and nothing an import keeps, so it is not parsed."""
    return b'"tool_result"' in line and b'"usage"' not in line


def _assistant(line: dict[str, Any], calls: dict[str, Call], found: Read) -> None:
    message = line.get("message")
    session = line.get("sessionId")
    if type(message) is not dict or not isinstance(session, str):
        found.unparsable += 1
        return
    usage = message.get("usage")
    model = message.get("model")
    at = when(line.get("timestamp"))
    if type(usage) is not dict or not isinstance(model, str) or model == "<synthetic>":
        return  # no spend: Claude Code's own message, or one without usage
    if at is None:
        found.unparsable += 1
        return
    message_id = message.get("id")
    request_id = line.get("requestId")
    key = f"{message_id or line.get('uuid')}:{request_id or ''}"
    written = count(usage.get("cache_creation_input_tokens"))
    by_lifetime = usage.get("cache_creation")
    one_hour = count(by_lifetime.get("ephemeral_1h_input_tokens")) if type(by_lifetime) is dict else 0
    one_hour = min(one_hour, written)
    read_tokens = count(usage.get("cache_read_input_tokens"))
    cost = line.get("costUSD")
    call = Call(
        key=key,
        session=session,
        at=at,
        model=model,
        provider=provider,
        input_tokens=count(usage.get("input_tokens")) + written + read_tokens,
        output_tokens=count(usage.get("output_tokens")),
        cache_read_tokens=read_tokens,
        cache_write_5m_tokens=written - one_hour,
        cache_write_1h_tokens=one_hour,
        source_cost_nd=_cost_nd(cost),
        text=text_of(message.get("content")),
    )
    info = found.session(session)
    if not info.project and isinstance(line.get("cwd"), str):
        info.project = line["cwd"]
    earlier = calls.get(key)
    if earlier is None:
        calls[key] = call
        return
    text = earlier.text if not call.text else (f"{earlier.text}\n\n{call.text}" if earlier.text else call.text)
    if call.size() >= earlier.size():
        call.text = text[:MAX_TEXT]
        if call.source_cost_nd is None:
            call.source_cost_nd = earlier.source_cost_nd
        calls[key] = call
    else:
        earlier.text = text[:MAX_TEXT]


def _cost_nd(cost: Any) -> int | None:
    """`costUSD` in nano-dollars, when it is a cost one call can have (not infinite, not absurd)."""
    if type(cost) not in (int, float) or not math.isfinite(cost) or cost < 0:
        return None
    nd = round(cost * NANO)
    return nd if nd <= limits.MAX_CALL_COST_ND else None


def _user(line: dict[str, Any], found: Read) -> None:
    """What the person typed (tool results, which Claude Code also writes as user lines, are not)."""
    message, session, at = line.get("message"), line.get("sessionId"), when(line.get("timestamp"))
    if type(message) is not dict or not isinstance(session, str) or at is None or line.get("isMeta"):
        return
    content = message.get("content")
    text = text_of(content).strip()
    if not text:
        return
    uuid = line.get("uuid")
    found.said.append(Said(key=str(uuid) if uuid else f"{session}:{at.isoformat()}", session=session, at=at, text=text))
    info = found.session(session)
    if not info.title:
        info.title = " ".join(text.split())[:80]
    if not info.project and isinstance(line.get("cwd"), str):
        info.project = line["cwd"]
