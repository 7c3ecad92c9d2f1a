"""`agentik chat`: one-shot from -m or piped stdin, or the interactive chat."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from agentik_cli.cli import chat_terminal, complete, render
from agentik_cli.cli.options import Json
from agentik_cli.errors import INTERRUPTED, AgentikError, Interrupted, UsageError
from agentik_cli.services.opening import command_store

HELP = """\
/help      this help
/new       start a new session with the same agent
/cost      tokens and cost of this session so far
/forget    forget your last message and its reply: gone from the session, the search and the file
/exit      leave (Ctrl-D works too)
Ctrl-C stops the reply being streamed, or the tool running, and returns to the prompt.
An agent with skills shows each tool call as it runs; a call that needs approval asks here."""


def turn_json(result: Any) -> dict[str, Any]:
    """The object `chat --json` prints for one turn."""
    from agentik_cli.money import to_usd

    cost = result.cost
    usage = result.usage
    return {
        "session_id": result.session_id,
        "message_id": result.message_id,
        "content": result.content,
        "model": result.model,
        "provider": result.provider,
        "usage": {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_tokens": usage.cache_read_tokens,
            "cache_write_tokens": usage.cache_write_tokens,
            "total_tokens": usage.total_tokens,
            "estimated": usage.estimated,  # agentik's count: the provider's never came
        },
        "cost": {
            "input": to_usd(cost.input_nd) if cost else None,
            "output": to_usd(cost.output_nd) if cost else None,
            "total": to_usd(cost.total_nd) if cost else None,
        },
        "response_ms": result.response_ms,
        "rounds": result.rounds,
        "tool_calls": [run.to_json() for run in result.tool_calls],
    }


def chat(
    agent: Annotated[
        str | None,
        typer.Argument(
            help="The agent (name or id); the default agent when omitted.", autocompletion=complete.agent_names
        ),
    ] = None,
    prompt: Annotated[str | None, typer.Argument(help="The message, as with -m.", show_default=False)] = None,
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="The message; piped text goes before it.")
    ] = None,
    session: Annotated[
        int | None, typer.Option("--session", help="Continue this session.", autocompletion=complete.session_ids)
    ] = None,
    continue_: Annotated[
        bool, typer.Option("--continue", "-c", help="Continue the agent's most recent session.")
    ] = False,
    model: Annotated[
        str | None, typer.Option("--model", help="Use this model for this call.", autocompletion=complete.models)
    ] = None,
    system: Annotated[str | None, typer.Option("--system", help="Use this system prompt for this call.")] = None,
    temperature: Annotated[float | None, typer.Option("--temperature", help="0 to 2, for this call.")] = None,
    max_tokens: Annotated[int | None, typer.Option("--max-tokens", help="Most tokens in the reply.")] = None,
    attach: Annotated[
        list[Path] | None, typer.Option("--attach", help="An image (PNG, JPEG, GIF, WebP) or text file (repeatable).")
    ] = None,
    channel: Annotated[str, typer.Option("--channel", help="Channel recorded with the messages.")] = "cli",
    no_stream: Annotated[bool, typer.Option("--no-stream", help="Wait for the whole reply.")] = False,
    approve: Annotated[
        list[str] | None,
        typer.Option(
            "--approve", help="Run this skill's calls without asking (repeatable).", autocompletion=complete.skill_names
        ),
    ] = None,
    approve_all: Annotated[bool, typer.Option("--approve-all", help="Run every skill's calls without asking.")] = False,
    chain_limit: Annotated[
        int, typer.Option("--chain-limit", help="Most model calls asking for tools in one turn.")
    ] = 5,
    as_json: Json = False,
) -> None:
    """Chat with an agent: one message (PROMPT, -m, piped stdin, or piped text and then the
    message), else the interactive chat.

    Example: agentik chat helper "Summarise RFC 9110 in three lines"

    Example: git diff | agentik chat reviewer -m "Review this diff" -c --json
    """
    from agentik_cli.services import attachments
    from agentik_cli.services.chat import ChatOptions, open_conversation

    options = ChatOptions(
        agent=agent,
        session_id=session,
        continue_session=continue_,
        model=model,
        system=system,
        temperature=temperature,
        max_tokens=max_tokens,
        channel=channel,
        stream=not no_stream,
        approve=list(approve or []),
        approve_all=approve_all,
        chain_limit=chain_limit,
    )
    if prompt is not None and message is not None:
        raise UsageError("give the message once: as PROMPT or with -m, not both")
    message = message if prompt is None else prompt
    if message is not None and not message.strip():
        raise UsageError("the message is empty")
    conversation = open_conversation(command_store(), options)
    text = _message(message)
    if as_json and text is None:
        raise UsageError("--json is for one message", hint='add -m "..." or pipe the message in')
    files = [attachments.load(str(path), conversation.provider_name, render.warn) for path in attach or []]
    if sys.stdin.isatty() and render.err_is_terminal():
        conversation.ask = chat_terminal.ask
    try:
        if text is None:
            _interactive(conversation, files)
        else:
            _one_shot(conversation, text, files, as_json)
    finally:
        conversation.close()


def _message(message: str | None) -> str | None:
    """The message to send: piped text and the message together (the piped text first, then a blank
    line and the message, as llm users give them), either alone, or None for the interactive chat."""
    if sys.stdin is None or sys.stdin.isatty():
        return message
    piped = _piped()
    if message is None:
        if not piped.strip():
            raise UsageError(
                "the message is empty (nothing came in on stdin)", hint='use -m "..." or pipe a message in'
            )
        return piped
    return f"{piped.rstrip()}\n\n{message}" if piped.strip() else message


def _piped() -> str:
    from agentik_cli.text import decode, replaced_note

    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:  # a text-only stdin (a test harness)
        return sys.stdin.read()
    # bytes, decoded by agentik's rule for text (agentik_cli/text.py), not by the locale's
    text, replaced = decode(stream.read())
    if replaced:
        render.warn(replaced_note("stdin", replaced))
    return text


def _warn_unpriced(result: Any) -> None:
    if result.cost is None:
        render.warn(
            f"no price known for {result.model} ({result.provider}): the cost is recorded as unknown; "
            f"`agentik prices set {result.model} --provider {result.provider} --input USD --output USD` sets one"
        )


def _budget_warnings(conversation: Any) -> None:
    for line in conversation.warnings:
        render.warn(line)


def _chain_note(result: Any) -> None:
    if result.chain_limited:
        render.warn(
            f"stopped at the chain limit: {result.rounds} model calls asked for tools "
            "(--chain-limit N allows more); the last calls were not run"
        )


def _usage_line(result: Any) -> None:
    usage = result.usage
    cached = f" ({usage.cache_read_tokens:,} cached)" if usage.cache_read_tokens else ""
    cost = render.money(result.cost.total_nd if result.cost else None)
    mark = " · interrupted" if result.interrupted else (" · failed" if result.error else "")
    if result.rounds > 1:
        count = len(result.tool_calls)
        mark += f" · {result.rounds} calls, {count} tool call{'' if count == 1 else 's'}"
    # tokens agentik counted itself (the server sent no usage) are marked as such
    about = "~" if usage.estimated else ""
    mark += " · tokens estimated" if usage.estimated else ""
    render.note(
        f"{result.model} · {about}{usage.input_tokens:,} in{cached} / {about}{usage.output_tokens:,} out · {cost} · "
        f"{result.response_ms / 1000:.1f} s · session {result.session_id}{mark}"
    )


def _send(conversation: Any, text: str, files: list[Any], stream_out: bool) -> Any:
    from agentik_cli.cli.render_stream import printer
    from agentik_cli.values import Chunk

    out: Any = None
    reader_gone = False
    tools = chat_terminal.ToolLines(render.err_is_terminal())

    def on_chunk(chunk: Chunk) -> None:
        nonlocal reader_gone, out
        if not stream_out:
            return
        if out is None:
            out = printer(render.stdout_is_terminal())
        try:
            if chunk.kind == "text":
                out.text(chunk.text, chunk.keep)
            else:
                out.thinking(chunk.text, chunk.keep)
        except BrokenPipeError:
            reader_gone = True
            raise _ReaderGone from None

    def on_tool_start(tool: Any, shown: str) -> None:
        nonlocal out
        if out is not None:  # the text so far ends before the tool's line
            out.close()
            out = None
        tools.start(tool, shown)

    conversation.on_tool_start = on_tool_start
    conversation.on_tool_end = tools.end
    try:
        return conversation.send(text, files, on_chunk)
    except Interrupted:
        if reader_gone:  # the reply so far is stored, marked; leaving quietly is the boundary's job
            raise BrokenPipeError("stdout was closed") from None
        raise
    finally:
        tools.stop()
        if out is not None and not reader_gone:
            out.close()


class _ReaderGone(KeyboardInterrupt):
    """stdout was closed mid-reply (`agentik chat ... | head -1`). The stream stops as on Ctrl-C, so
    what arrived is stored, marked as interrupted, and no more of the reply is paid for."""


def _one_shot(conversation: Any, text: str, files: list[Any], as_json: bool) -> None:
    try:
        result = _send(conversation, text, files, stream_out=not as_json)
    except Interrupted:
        _budget_warnings(conversation)
        render.note("interrupted: the reply so far is kept in the session")
        raise typer.Exit(INTERRUPTED) from None
    except AgentikError:
        # a tool loop refused by a budget half-way: what its earlier calls spent crossed a warning
        _budget_warnings(conversation)
        raise
    if as_json:
        render.print_json(turn_json(result))
    _usage_line(result)
    _warn_unpriced(result)
    _chain_note(result)
    _budget_warnings(conversation)


def _interactive(conversation: Any, files: list[Any]) -> None:
    from agentik_cli.text import repair, replaced_note

    chat_terminal.preload_sdk(conversation.provider_name)
    chat_terminal.setup_readline()
    # a line that is not UTF-8 arrives with its bad bytes as surrogates, repaired below, instead of
    # ending the chat with a UnicodeDecodeError
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        reconfigure(errors="surrogateescape")
    where = f"session {conversation.session_id}" if conversation.session_id else "new session"
    render.note(
        f"agentik · {conversation.agent.name} ({conversation.model}) · {where} · /help for commands, Ctrl-D to leave"
    )
    while True:
        try:
            line = input("› ")
        except EOFError:
            sys.stdout.write("\n")
            return
        except KeyboardInterrupt:
            sys.stdout.write("\n")
            continue
        line, replaced = repair(line)
        if replaced:
            render.warn(replaced_note("that line", replaced))
        text = line.strip()
        if not text:
            continue
        if text.startswith("/"):
            command = text.split()[0].lower()
            if command in ("/exit", "/quit"):
                return
            if command == "/help":
                render.note(HELP)
                continue
            if command == "/new":
                conversation.new_session()
                render.note(f"new session with {conversation.agent.name}")
                continue
            if command == "/forget":
                forgotten = conversation.forget_last()
                chat_terminal.forget_lines(forgotten)
                render.note("forgot your last message and its reply" if forgotten else "nothing to forget yet")
                continue
            if command == "/cost":
                totals = conversation.totals()
                render.note(
                    f"this session: {totals['messages']} messages · {totals['input_tokens']:,} in / "
                    f"{totals['output_tokens']:,} out · {render.money(totals['cost_nd'], totals['unpriced_calls'])}"
                )
                continue
            if " " not in text:
                render.warn(f"unknown command {command}: /help lists them")
                continue
        try:
            result = _send(conversation, line, files, stream_out=True)
        except Interrupted:
            _budget_warnings(conversation)
            render.note("interrupted: the reply so far is kept")
            continue
        except AgentikError as exc:
            _budget_warnings(conversation)
            render.err().print(f"agentik: error: {exc.message}", style="red", markup=False)
            if exc.hint:
                render.note(f"hint: {exc.hint}")
            continue
        files = []
        _usage_line(result)
        _warn_unpriced(result)
        _chain_note(result)
        _budget_warnings(conversation)
