"""`agentik sessions`: conversations, their transcripts, search."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, render, session_views
from agentik_cli.cli.agents import visible
from agentik_cli.cli.options import Csv, Json, Yes, confirm, when
from agentik_cli.cli.views import Column, View, output
from agentik_cli.records import match_json, recent_json, session_json, show_json
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Conversations: list, read, follow, search, rename, remove; forget and redact messages.\n\n"
    "Example: agentik sessions list --agent helper",
    no_args_is_help=True,
)

SessionArg = Annotated[
    int, typer.Argument(help="The session id.", show_default=False, autocompletion=complete.session_ids)
]
AgentOpt = Annotated[
    str | None, typer.Option("--agent", help="Only this agent's.", autocompletion=complete.agent_names)
]


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
    from agentik_cli.services import listings

    fmt = output(as_json, as_csv)
    SESSIONS.show(listings.sessions(agent=agent, channel=channel, since=when(since, "--since"), limit=limit), fmt)


SESSIONS = View(
    (
        Column("id", lambda r: r.id, right=True),
        Column("agent", lambda r: r.agent),
        Column("title", lambda r: r.title),
        Column("messages", lambda r: r.messages, right=True),
        Column("tokens in/out", lambda r: f"{r.input_tokens:,}/{r.output_tokens:,}", right=True),
        Column("cost", lambda r: render.money(r.cost_nd, r.unpriced_calls), right=True),
        Column("last message", lambda r: session_views.minute(r.last_message_at)),
    ),
    session_views.LIST_COLUMNS,
    empty="no sessions yet: agentik chat",
    shape=session_json,
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
    row, messages = sessions.get_session(command_store(), session_id)
    if as_json:
        render.print_json(show_json(row, messages))
        return
    text = session_views.transcript(row, messages)
    if markdown or not render.stdout_is_terminal():
        render.print_line(text)
        return
    from rich.markdown import Markdown

    render.out().print(Markdown(visible(text)))


@app.command()
def recent(
    limit: Annotated[int, typer.Option("--limit", "-n", help="How many.", min=1)] = 20,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """The latest messages across all sessions.

    In the CSV, attachments, skills_used and tool_calls are JSON text.

    Example: agentik sessions recent -n 5
    """
    from agentik_cli.services import sessions

    fmt = output(as_json, as_csv)
    View(
        (
            Column("session", lambda r: r.session_id, right=True),
            Column("agent", lambda r: r.agent),
            Column("when", lambda r: session_views.minute(r.timestamp)),
            Column("who", lambda r: r.role),
            Column("message", lambda r: sessions.snippet(r.content, "", width=70)),
        ),
        session_views.RECENT_COLUMNS,
        empty="no messages yet",
        nested_json=True,
        shape=recent_json,
    ).show(sessions.recent(command_store(), limit=limit), fmt)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find in messages.", show_default=False)],
    agent: AgentOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many.", min=1)] = 20,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """Full-text search over every message, best matches first.

    Example: agentik sessions search "connection pool" --agent helper
    """
    from agentik_cli.services import sessions

    fmt = output(as_json, as_csv)
    found = sessions.search(command_store(), query, agent=agent, limit=limit)
    rows = [match_json(m, sessions.snippet(m.content, query)) for m in found]
    if rows or fmt != "table":
        View((), session_views.SEARCH_COLUMNS, shape=dict, table=lambda rows: _matches(rows, query)).show(rows, fmt)
    else:
        render.note(f"nothing matches '{query}'")


def _matches(rows: list[dict[str, Any]], query: str) -> None:
    """The matches, each snippet's words that match in bold."""
    import re

    from rich.table import Table
    from rich.text import Text

    words = [w for w in re.findall(r"\w+", query) if w]
    table = Table(box=None, show_header=True, header_style="bold", pad_edge=False)
    for header in ("session", "agent", "when", "match"):
        table.add_column(header, justify="right" if header == "session" else "left", overflow="fold")
    for r in rows:
        snippet = Text(visible(r["snippet"]))
        snippet.highlight_words(words, style="bold yellow", case_sensitive=False)
        table.add_row(
            str(r["session_id"]), render.literal(visible(r["agent"])), render.local_time(r["timestamp"]), snippet
        )
    render.out().print(table)


@app.command()
def rename(session_id: SessionArg, title: Annotated[str, typer.Argument(help="The new title.")]) -> None:
    """Give a session a title.

    Example: agentik sessions rename 12 "Release notes for 2.0"
    """
    from agentik_cli.services import sessions

    sessions.rename(command_store(), session_id, title)
    render.note(f"session {session_id} renamed")


@app.command()
def remove(session_id: SessionArg, yes: Yes = False) -> None:
    """Remove a session and its messages; the cost ledger keeps every row.

    Example: agentik sessions remove 12 --yes
    """
    from agentik_cli.services import sessions

    store = command_store()
    row = sessions.describe(store, session_id)
    confirm(f"Remove session {session_id} ({visible(row.title)!r}) and its {row.messages} messages?", yes)
    removed = sessions.remove(store, session_id)
    # the count of what went, taken in the removal's own transaction (a chat may have added to it)
    render.note(f"removed session {session_id} and its {removed.messages} messages (its costs stay in the ledger)")


@app.command()
def tail(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing messages as they are stored.")] = False,
    agent: AgentOpt = None,
    count: Annotated[int, typer.Option("--lines", "-n", help="How many to show first.", min=1)] = 10,
    as_json: Json = False,
) -> None:
    """The latest messages; with -f, each new one as it is stored, by any process.

    Ctrl-C ends it. Piped or with --json: one JSON object a line.

    Example: agentik sessions tail -f --agent helper
    """
    from agentik_cli.errors import INTERRUPTED
    from agentik_cli.services import sessions

    store = command_store()
    as_lines = as_json or not render.stdout_is_terminal()
    agent_id, rows = sessions.tail(store, agent, count)
    last = _print_tail(rows, as_lines, 0)
    if not rows and not as_lines:
        render.note("no messages yet" + (": waiting for the first" if follow else ""))
    if not follow:
        return
    from agentik_cli.store.changes import Watcher

    try:
        with Watcher(store.url) as watcher:
            while True:
                watcher.wait(60.0)
                while rows := sessions.newer(store, last, agent_id):
                    last = _print_tail(rows, as_lines, last)
    except KeyboardInterrupt:
        raise typer.Exit(INTERRUPTED) from None


def _print_tail(rows: list[Any], as_lines: bool, last: int) -> int:
    """Print messages, as JSON lines or one line each; returns the last one's id."""
    from agentik_cli.records import placed_message_json

    # the terminal's width now: it may have been resized while following
    width = None if as_lines else render.out().width
    for m in rows:
        if as_lines:
            render.print_line(render.to_json(placed_message_json(m), indent=None))
        else:
            render.print_line(session_views.tail_line(m, width))
        last = max(last, m.id)
    return last


@app.command()
def forget(
    message_ids: Annotated[list[int], typer.Argument(help="The ids of the messages.", show_default=False)],
    keep_replies: Annotated[
        bool, typer.Option("--keep-replies", help="Keep the replies to a forgotten message of yours.")
    ] = False,
    yes: Yes = False,
) -> None:
    """Forget messages: gone from the sessions, the search index and the database file.

    The reply that answered a forgotten message goes too (unless --keep-replies); the cost rows stay.

    Example: agentik sessions forget 1234 --yes
    """
    from agentik_cli.services import forget as forgetting

    store = command_store()
    forgetting.check_messages(store, message_ids)
    confirm(f"Forget message{'s' if len(message_ids) > 1 else ''} {', '.join(map(str, message_ids))}?", yes)
    outcome, _ = forgetting.forget(store, message_ids, keep_replies)
    render.note(
        f"forgot {outcome.messages} message{'s' if outcome.messages != 1 else ''} "
        f"in {outcome.sessions} session{'s' if outcome.sessions != 1 else ''}"
    )
    _wal_note(outcome)


@app.command()
def redact(
    pattern: Annotated[
        str, typer.Argument(help="The text to redact (with --regex, a Python regex).", show_default=False)
    ],
    regex: Annotated[bool, typer.Option("--regex", help="PATTERN is a regular expression.")] = False,
    session: Annotated[
        int | None, typer.Option("--session", help="In this session.", autocompletion=complete.session_ids)
    ] = None,
    agent: AgentOpt = None,
    every: Annotated[bool, typer.Option("--all", help="In every session.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Show what would change; change nothing.")] = False,
    yes: Yes = False,
    as_json: Json = False,
) -> None:
    """Redact a pasted secret: every occurrence of PATTERN, wherever agentik keeps it.

    In messages, attached files, tool calls and session titles, the search index, the database file
    and the chat's line history, each match becomes \\[redacted].

    Example: agentik sessions redact 'sk-ant-api03-' --all --dry-run
    """
    from agentik_cli.services import forget as forgetting

    store = command_store()
    scope = forgetting.scope_of(store, session, agent, every)

    def ask(would: Any) -> None:
        confirm(f"Redact {_counted(would)}?", yes)

    outcome, plan = forgetting.redact(store, pattern, regex=regex, scope=scope, dry_run=dry_run, confirm=ask)
    if as_json:
        render.print_json(outcome.to_json())
    elif dry_run:
        for where, preview in plan.previews:
            render.print_line(f"{where}: {visible(preview)}")
        render.note(f"would redact {_counted(outcome)} (nothing was changed)")
    else:
        render.note(f"redacted {_counted(outcome)}")
    _wal_note(outcome)


def _counted(outcome: Any) -> str:
    messages, sessions = outcome.messages, outcome.sessions
    return f"{messages} message{'s' if messages != 1 else ''} in {sessions} session{'s' if sessions != 1 else ''}"


def _wal_note(outcome: Any) -> None:
    if not outcome.wal_emptied:
        render.warn(
            "another agentik process was reading the database: its write-ahead log (agentik.db-wal) may "
            "still hold old pages until that process ends; run the command again then to be sure"
        )
