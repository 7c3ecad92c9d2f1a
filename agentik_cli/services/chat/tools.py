"""The tool loop of a turn: the model's tool calls run (each approved, or denied, by the agent's
toolbox), their results logged on the message that asked for them and sent back in the next call,
checked against the budgets before it goes, until a reply asks for none or the chain limit is
reached."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agentik_cli.errors import Interrupted
from agentik_cli.services import budgets, recording
from agentik_cli.services.chat.opening import Question
from agentik_cli.services.chat.state import ChatState, TurnResult
from agentik_cli.services.chat.turn import Round, call, request, reserver, shielded
from agentik_cli.values import Chunk, Priced, Turn, Usage

if TYPE_CHECKING:
    from agentik_cli.skills.toolbox import ToolRun


def run(chat: ChatState, question: Question, on_chunk: Callable[[Chunk], None] | None) -> TurnResult:
    """The turn's model calls, from the first (its message stored by chat/opening.py ask) to the
    last. Raises Interrupted on Ctrl-C and ProviderError on failure, after storing what there is."""
    turns, toolbox, tools = question.turns, question.toolbox, question.tools
    next_request, reservation = question.request, question.reservation
    rounds: list[Round] = []
    runs: list[ToolRun] = []
    asked = 0  # model calls of this turn that asked for tools
    chain_limited = False
    try:
        while True:
            if rounds:  # a follow-up call of the loop: checked against the budgets before it goes
                next_request = request(chat, turns, tools)
                with shielded():
                    reservation = recording.reserve(chat.store, reserver(chat, next_request))
            state, round_ = call(
                chat, next_request, question.message_id, turns, reservation, first=not rounds, on_chunk=on_chunk
            )
            rounds.append(round_)
            chat.warnings += budgets.warnings(chat.store, chat.agent_id)
            calls = state.tool_calls
            if not calls or toolbox is None or round_.message_id is None:
                break
            asked += 1
            if asked >= chat.options.chain_limit:
                reason = f"not run: the chain limit of {chat.options.chain_limit} model calls was reached"
                done = [toolbox.not_run(c, "denied", reason) for c in calls]
                _log_runs(chat, round_.message_id, done, runs, turns)
                chain_limited = True
                break
            done = []
            try:
                for tool_call in calls:
                    done_run = toolbox.run(tool_call, chat.on_tool_start)
                    done.append(done_run)
                    if chat.on_tool_end is not None:
                        chat.on_tool_end(done_run)
            except KeyboardInterrupt as exc:
                from agentik_cli.skills.toolbox import ToolInterrupted

                if isinstance(exc, ToolInterrupted):
                    done.append(exc.run)
                    if chat.on_tool_end is not None:
                        chat.on_tool_end(exc.run)
                done += [toolbox.not_run(c, "interrupted", "not run: interrupted") for c in calls[len(done) :]]
                with shielded():
                    _log_runs(chat, round_.message_id, done, runs, turns)
                raise Interrupted("interrupted", hint=None) from None
            _log_runs(chat, round_.message_id, done, runs, turns)
    finally:
        chat.remember(turns)
    return _result(chat, rounds, runs, chain_limited)


def _log_runs(chat: ChatState, message_id: int, done: list[ToolRun], runs: list[ToolRun], turns: list[Turn]) -> None:
    recording.add_tool_calls(chat.store, message_id, [r.to_json() for r in done])
    runs.extend(done)
    turns.append(Turn("tool", results=[r.result() for r in done]))


def _result(chat: ChatState, rounds: list[Round], runs: list[ToolRun], chain_limited: bool) -> TurnResult:
    assert chat.session_id is not None
    last = rounds[-1]
    usage = Usage(
        sum(r.usage.input_tokens for r in rounds),
        sum(r.usage.output_tokens for r in rounds),
        sum(r.usage.cache_read_tokens for r in rounds),
        sum(r.usage.cache_write_tokens for r in rounds),
        any(r.usage.estimated for r in rounds),
    )
    cost = None
    if all(r.cost is not None for r in rounds):
        priced = [r.cost for r in rounds if r.cost is not None]
        cost = Priced(sum(p.input_nd for p in priced), sum(p.output_nd for p in priced), priced[-1].prices)
    return TurnResult(
        session_id=chat.session_id,
        message_id=last.message_id,
        content="\n\n".join(r.content for r in rounds if r.content),
        model=chat.model,
        provider=chat.provider_name,
        usage=usage,
        cost=cost,
        response_ms=sum(r.response_ms for r in rounds),
        interrupted=last.interrupted,
        error=last.error,
        rounds=len(rounds),
        tool_calls=runs,
        chain_limited=chain_limited,
    )
