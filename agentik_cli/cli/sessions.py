"""`agentik sessions`: conversations, their transcripts, search."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentik_cli import config
from agentik_cli.cli import complete, render
from agentik_cli.cli.options import Csv, Json, Yes, check_formats, confirm, when

app = typer.Typer(
    help="Conversations: list, read, search, rename, remove.\n\nExample: agentik sessions list --agent helper",
    no_args_is_help=True,
)

SessionArg = Annotated[
    int, typer.Argument(help="The session id.", show_default=False, autocompletion=complete.session_ids)
]
AgentOpt = Annotated[
    str | None, typer.Option("--agent", help="Only this agent's.", autocompletion=complete.agent_names)
]

LIST_COLUMNS = [
    "id",
    "agent",
    "title",
    "channel",
    "messages",
    "input_tokens",
    "output_tokens",
    "total_cost",
    "unpriced_calls",
    "started_at",
    "last_message_at",
]


def _money(usd: float | None, unpriced: int = 0) -> str:
    from agentik_cli.money import to_nd

    return render.money(None if usd is None else to_nd(usd), unpriced)


def transcript(data: dict[str, Any]) -> str:
    """A session as Markdown that reads well in any Markdown viewer."""
    lines = [
        f"# {data['title'] or 'Session ' + str(data['id'])}",
        "",
        f"- Session: {data['id']}",
        f"- Agent: {data['agent']}",
        f"- Channel: {data['channel']}",
        f"- Started: {data['started_at']}",
        f"- Messages: {data['message_count']}",
        f"- Tokens: {data['input_tokens']:,} in / {data['output_tokens']:,} out",
        f"- Cost: {_money(data['total_cost'], data['unpriced_calls'])}",
        "",
    ]
    for m in data["messages"]:
        who = "You" if m["role"] == "user" else data["agent"]
        meta = [m["timestamp"]]
        if m["model"]:
            meta.append(m["model"])
        if m["role"] == "assistant":
            meta.append(_money(m["cost"]))
        lines += [f"## {who}", "", f"*{' · '.join(meta)}*", ""]
        for a in m["attachments"]:
            lines.append(f"> attached: `{a['name']}` ({a['type']}, {a['size']:,} bytes)")
        if m["attachments"]:
            lines.append("")
        lines.append(m["content"] or "*(no text)*")
        if m["error"]:
            lines += ["", f"> **{'Interrupted' if m['interrupted'] else 'Error'}:** {m['error']}"]
        lines.append("")
    return "\n".join(lines)


@app.command("list")
def list_(
    agent: AgentOpt = None,
    channel: Annotated[str | None, typer.Option("--channel", help="Only this channel's.")] = None,
    since: Annotated[str | None, typer.Option("--since", help="Active since WHEN: 2026-11-01, 7d, 24h, today.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.", min=1)] = 50,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """Sessions, most recently active first, with their totals.

    Example: agentik sessions list --since 7d --csv
    """
    from agentik_cli.services import sessions

    check_formats(as_json, as_csv)
    rows = sessions.list_sessions(
        config.store(), agent=agent, channel=channel, since=when(since, "--since"), limit=limit
    )
    if as_json:
        render.print_json(rows)
    elif as_csv:
        render.print_csv(rows, LIST_COLUMNS)
    else:
        render.print_table(
            ["id", "agent", "title", "messages", "tokens in/out", "cost", "last message"],
            (
                [
                    r["id"],
                    r["agent"],
                    r["title"],
                    r["messages"],
                    f"{r['input_tokens']:,}/{r['output_tokens']:,}",
                    _money(r["total_cost"], r["unpriced_calls"]),
                    render.local_time(r["last_message_at"]),
                ]
                for r in rows
            ),
            right=["id", "messages", "tokens in/out", "cost"],
            empty="no sessions yet: agentik chat",
        )


@app.command()
def show(
    session_id: SessionArg,
    as_json: Json = False,
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown transcript.")] = False,
) -> None:
    """One session with all its messages.

    Example: agentik sessions show 12 --markdown > session-12.md
    """
    from agentik_cli.errors import UsageError
    from agentik_cli.services import sessions

    if as_json and markdown:
        raise UsageError("choose one of --json and --markdown")
    data = sessions.get_session(config.store(), session_id)
    if as_json:
        render.print_json(data)
        return
    text = transcript(data)
    if markdown or not render.stdout_is_terminal():
        render.print_line(text)
        return
    from rich.markdown import Markdown

    render.out().print(Markdown(text))


@app.command()
def recent(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many.", min=1)] = 20, as_json: Json = False
) -> None:
    """The latest messages across all sessions.

    Example: agentik sessions recent -n 5
    """
    from agentik_cli.services import sessions

    rows = sessions.recent(config.store(), limit=limit)
    if as_json:
        render.print_json(rows)
        return
    render.print_table(
        ["session", "agent", "when", "who", "message"],
        (
            [
                r["session_id"],
                r["agent"],
                render.local_time(r["timestamp"]),
                r["role"],
                sessions.snippet(r["content"], "", width=70),
            ]
            for r in rows
        ),
        right=["session"],
        empty="no messages yet",
    )


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find in messages.", show_default=False)],
    agent: AgentOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.", min=1)] = 20,
    as_json: Json = False,
) -> None:
    """Full-text search over every message, best matches first.

    Example: agentik sessions search "connection pool" --agent helper
    """
    from agentik_cli.services import sessions

    rows = sessions.search(config.store(), query, agent=agent, limit=limit)
    if as_json:
        render.print_json(rows)
        return
    if not rows:
        render.note(f"nothing matches '{query}'")
        return
    import re

    from rich.table import Table
    from rich.text import Text

    words = [w for w in re.findall(r"\w+", query) if w]
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for header in ("session", "agent", "when", "match"):
        table.add_column(header, justify="right" if header == "session" else "left", overflow="fold")
    for r in rows:
        snippet = Text(r["snippet"])
        snippet.highlight_words(words, style="bold yellow", case_sensitive=False)
        table.add_row(str(r["session_id"]), render.literal(r["agent"]), render.local_time(r["timestamp"]), snippet)
    render.out().print(table)


@app.command()
def rename(session_id: SessionArg, title: Annotated[str, typer.Argument(help="The new title.")]) -> None:
    """Give a session a title.

    Example: agentik sessions rename 12 "Release notes for 2.0"
    """
    from agentik_cli.services import sessions

    sessions.rename(config.store(), session_id, title)
    render.note(f"session {session_id} renamed")


@app.command()
def remove(session_id: SessionArg, yes: Yes = False) -> None:
    """Remove a session and its messages; the cost ledger keeps every row.

    Example: agentik sessions remove 12 --yes
    """
    from agentik_cli.services import sessions

    store = config.store()
    row: Any = sessions.describe(store, session_id)
    confirm(f"Remove session {session_id} ({row.title!r}) and its {row.message_count} messages?", yes)
    sessions.remove(store, session_id)
    render.note(f"removed session {session_id} and its {row.message_count} messages (its costs stay in the ledger)")
