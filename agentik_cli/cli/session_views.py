"""How sessions are shown: the CSV columns of their listings, a session as a Markdown transcript, and
a message as one line of `sessions tail`."""

from __future__ import annotations

from typing import Any

from agentik_cli import environment
from agentik_cli.cli import render
from agentik_cli.records import COST_KEYS, TOKEN_KEYS, show_json

LIST_COLUMNS = [
    "id",
    "agent",
    "title",
    "channel",
    "messages",
    *TOKEN_KEYS[:2],
    *COST_KEYS,
    "started_at",
    "last_message_at",
    # last, not beside `agent` as in the JSON: added after scripts had read the columns by position
    "agent_id",
]
# the keys of message_json (agentik_cli/records.py), for the CSV of listings of messages
MESSAGE_COLUMNS = [
    "id",
    "role",
    "content",
    "timestamp",
    "user",
    "model",
    "input_tokens",
    "output_tokens",
    "cost",
    "response_ms",
    "error",
    "interrupted",
    "attachments",
    "skills_used",
    "tool_calls",
    "redacted",
]
RECENT_COLUMNS = ["session_id", "agent", "title", *MESSAGE_COLUMNS]
SEARCH_COLUMNS = ["session_id", "message_id", "agent", "title", "role", "user", "timestamp", "snippet", "content"]


def transcript(row: Any, messages: list[Any]) -> str:
    """A session as Markdown that reads well in any Markdown viewer."""
    data = show_json(row, messages)
    lines = [
        f"# {data['title'] or 'Session ' + str(data['id'])}",
        "",
        f"- Session: {data['id']}",
        f"- Agent: {data['agent']}",
        f"- Channel: {data['channel']}",
        f"- Started: {data['started_at']}",
        f"- Messages: {data['message_count']}",
        f"- Tokens: {data['input_tokens']:,} in / {data['output_tokens']:,} out",
        f"- Cost: {render.money(row.cost_nd, row.unpriced_calls)}",
        "",
    ]
    me = environment.current().user
    for record, m in zip(messages, data["messages"], strict=True):
        # on a team store others write in the same sessions: their messages carry their names
        who = ("You" if m["user"] in ("", me) else m["user"]) if m["role"] == "user" else data["agent"]
        meta = [m["timestamp"]]
        if m["model"]:
            meta.append(m["model"])
        if m["role"] == "assistant":
            meta.append(render.money(record.cost_nd))
        lines += [f"## {who}", "", f"*{' · '.join(meta)}*", ""]
        for a in m["attachments"]:
            lines.append(f"> attached: `{a['name']}` ({a['type']}, {a['size']:,} bytes)")
        if m["attachments"]:
            lines.append("")
        if m["content"] or not m["tool_calls"]:
            lines.append(m["content"] or "*(no text)*")
        for call in m["tool_calls"]:
            lines += ["", *_tool_call_lines(call)]
        if m["error"]:
            lines += ["", f"> **{'Interrupted' if m['interrupted'] else 'Error'}:** {m['error']}"]
        lines.append("")
    return "\n".join(lines)


def _tool_call_lines(call: dict[str, Any]) -> list[str]:
    """A tool call in a transcript: what was called, the decision, the outcome, the output's start."""
    import json

    arguments = json.dumps(call["arguments"], ensure_ascii=False)
    if len(arguments) > 200:
        arguments = arguments[:199] + "…"
    name = f"{call['skill']}.{call['tool']}" if call["skill"] and call["skill"] != call["tool"] else call["tool"]
    outcome = f"{call['status']} · {call['decision']} · {call['duration_ms']:,} ms"
    lines = [f"> ⚙ `{name}` `{arguments}` · {outcome}"]
    text = call["output"] or call["error"] or ""
    if call["error"] and call["status"] != "ok":
        lines.append(f"> {call['error']}")
        text = call["output"]
    if text:
        shown = text.splitlines()[:8]
        more = len(text.splitlines()) - len(shown)
        fence = "````" if "```" in text else "```"
        lines += ["", fence, *shown, *([f"… {more} more lines"] if more > 0 else []), fence]
    return lines


def tail_line(m: Any, width: int | None) -> str:
    """A message as `sessions tail` shows it on a terminal: one line, control characters escaped,
    cut with … to `width` cells. A line longer than the terminal would wrap, and a followed tail
    would become a wall of half lines in which no message starts at the left edge."""
    from rich.text import Text

    from agentik_cli.services.sessions import snippet

    when = m.timestamp.astimezone().strftime("%H:%M:%S")
    flag = " (interrupted)" if m.interrupted else (" (error)" if m.error else "")
    # escaped before it is measured: `\x1b` takes four cells where ESC took none
    line = render.safe_text(f"{when}  {m.agent} #{m.session_id}  {m.role}{flag}: {snippet(m.content, '', width=100)}")
    if width is None:
        return line
    text = Text(line)
    text.truncate(max(width, 1), overflow="ellipsis")
    return text.plain


def minute(value: Any) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")
