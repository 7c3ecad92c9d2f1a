"""One model call of a turn: its request, its worst case held against the budgets, the reply
streamed and journaled as it arrives (services/journal.py Flight), then stored with its tokens, cost
and time, complete or as far as it got (Ctrl-C, a dropped connection, a provider error), marked, in
the same transaction as the cost row and the running totals (services/recording.py)."""

from __future__ import annotations

import functools
import gc
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from agentik_cli import environment
from agentik_cli.errors import AgentikError, Interrupted
from agentik_cli.providers.base import CallState
from agentik_cli.services import budgets, journal, recording
from agentik_cli.services.chat.state import INTERRUPTED, ChatState
from agentik_cli.store.unit import Unit
from agentik_cli.values import ChatRequest, Chunk, Priced, Turn, Usage

_Call = TypeVar("_Call", bound=Callable[..., Any])


@dataclass
class Round:
    """One model call of a turn, as stored."""

    message_id: int | None
    content: str
    usage: Usage
    cost: Priced | None
    response_ms: int
    error: str | None = None
    interrupted: bool = False


def request(chat: ChatState, turns: list[Turn], tools: list[Any]) -> ChatRequest:
    return ChatRequest(
        model=chat.model,
        messages=list(turns),
        system=chat.system,
        max_tokens=chat.max_tokens,
        temperature=chat.temperature,
        stream=chat.options.stream,
        tools=tools,
    )


def worst_case(chat: ChatState, request: ChatRequest) -> tuple[int, budgets.WorstCase | None]:
    """The call's worst case: every prompt token it can have (providers.tokens.ceiling_prompt),
    and what that costs at the dearest input rate (cache writes included) with max_tokens at
    the output rate (None when the model has no price)."""
    from agentik_cli.providers.tokens import ceiling_prompt

    tokens = ceiling_prompt(request)
    book = chat.price_book()
    plain = book.price(chat.model, chat.provider_name, Usage(tokens, request.max_tokens))
    written = book.price(chat.model, chat.provider_name, Usage(tokens, request.max_tokens, 0, tokens))
    worst = None
    if plain is not None:
        dearest = written if written is not None and written.total_nd > plain.total_nd else plain
        worst = budgets.WorstCase(
            prompt_nd=dearest.input_nd,
            reply_nd=dearest.output_nd,
            max_tokens=request.max_tokens,
            agent=chat.agent.name,
        )
    return tokens, worst


def reserver(chat: ChatState, request: ChatRequest) -> Callable[[Unit], int | None]:
    """What holds the call's worst case (`worst_case`) against the budgets, in a unit of work."""
    _, worst = worst_case(chat, request)
    agent_id, model, provider = chat.agent_id, chat.model, chat.provider_name
    return lambda unit: budgets.reserve(unit, agent_id, worst, model, provider)


def collect_again() -> None:
    """The garbage collector back on, if a chat's start-up held it back (agentik_cli/entry.py): what
    start-up made is parked first (gc.freeze), so that the collector's passes skip it from now on."""
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _then_collect(function: _Call) -> _Call:
    """`function`, then the garbage collector back on (collect_again), however the call ended."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        finally:
            collect_again()

    return cast(_Call, wrapper)


@_then_collect
def call(
    chat: ChatState,
    request: ChatRequest,
    user_message_id: int,
    turns: list[Turn],
    reservation: int | None,
    *,
    first: bool,
    on_chunk: Callable[[Chunk], None] | None,
) -> tuple[CallState, Round]:
    """One model call, stored complete or as far as it got, and its reply added to `turns`.
    Raises Interrupted on Ctrl-C and ProviderError on failure, after storing what there is. The
    reply is journaled as it streams (services/journal.py Flight), from before the request goes
    out until it is stored: a process killed meanwhile loses at most the last quarter second."""
    state = CallState()
    flight = _flight(chat, request, state, reservation)
    started = time.perf_counter()

    def keep() -> None:
        flight.note(state.text)

    try:
        for chunk in chat.provider.stream(request, state):
            if on_chunk is not None:  # journaled before it is shown, by whoever shows it (Chunk.keep)
                chunk.keep = keep
                on_chunk(chunk)
    except KeyboardInterrupt:
        # the request may have reached the provider, which bills a prompt it has read
        with shielded():
            _finish(chat, request, state, started, reservation, flight, error=INTERRUPTED, interrupted=True)
            turns.append(Turn("assistant", state.text, parts=list(state.parts)))
        raise Interrupted("interrupted", hint=None) from None
    except AgentikError as exc:
        with shielded():
            if state.started:  # the provider was answering: a paid call, stored as far as it got
                _finish(chat, request, state, started, reservation, flight, error=exc.message)
                turns.append(Turn("assistant", state.text, parts=list(state.parts)))
            else:
                if first:  # nothing was answered: the user's message is not re-sent
                    recording.mark_failed(chat.store, user_message_id, exc.message, reservation)
                else:
                    recording.release(chat.store, reservation)
                flight.done()
        raise
    with shielded():
        round_ = _finish(chat, request, state, started, reservation, flight)
    turns.append(Turn("assistant", state.text, parts=list(state.parts)))
    return state, round_


def _flight(chat: ChatState, request: ChatRequest, state: CallState, reservation: int | None) -> journal.Flight:
    """The call's journal: what the next command needs to store the call if this process dies."""
    from agentik_cli.providers.tokens import estimate_prompt, estimate_tokens
    from agentik_cli.timeutil import now_utc

    header = {
        "at": now_utc(),
        "agent_id": chat.agent_id,
        "agent_name": chat.agent.name,
        "session_id": chat.session_id,
        "channel": chat.options.channel,
        "model": chat.model,
        "provider": chat.provider_name,
        "endpoint": chat.provider.endpoint,
        "user_name": environment.current().user,
        "prompt_tokens": estimate_prompt(request),
        "reservation_id": reservation,
    }

    def progress() -> tuple[str, list[int]]:  # read by the journal's thread
        thinking = estimate_tokens(state.thinking) if state.thinking else 0
        figures = [state.input_tokens, state.output_tokens, state.cache_read_tokens, state.cache_write_tokens]
        return state.text, [*figures, int(state.input_reported), int(state.output_reported), thinking]

    beat = None
    if reservation is not None:
        store = chat.store
        beat = lambda: recording.heartbeat(store, reservation)  # noqa: E731
    from agentik_cli.store.engine import sqlite_path

    # the in-memory database ends with its process: there is nothing to store later
    in_memory = chat.store.url.startswith("sqlite") and sqlite_path(chat.store.url) is None
    return journal.Flight(None if in_memory else chat.store.url, header, progress, beat)


def _finish(
    chat: ChatState,
    request: ChatRequest,
    state: CallState,
    started: float,
    reservation: int | None,
    flight: journal.Flight,
    *,
    error: str | None = None,
    interrupted: bool = False,
) -> Round:
    flight.stop(complete=error is None and not interrupted)
    response_ms = round((time.perf_counter() - started) * 1000)
    state.settle(request)
    usage = state.usage()
    priced = chat.price_book().price(chat.model, chat.provider_name, usage)
    ceiling, worst = worst_case(chat, request)
    beyond = over_limit(state, request.max_tokens, ceiling)
    entry = recording.CostEntry(
        model=chat.model,
        provider=chat.provider_name,
        usage=usage,
        priced=priced,
        response_ms=response_ms,
        channel=chat.options.channel,
        endpoint=chat.provider.endpoint,
        over_limit=bool(beyond),
        call_key=flight.key if flight.path is not None else None,
    )
    if beyond:
        chat.warnings.append(_over_limit_warning(beyond, priced, worst))
    assert chat.session_id is not None
    # the parts are kept when there is more to them than the text: reasoning, tool calls
    keep_parts = any(p.kind != "text" for p in state.parts)
    message_id = recording.add_reply(
        chat.store,
        agent_id=chat.agent_id,
        agent_name=chat.agent.name,
        session_id=chat.session_id,
        content=state.text,
        channel=chat.options.channel,
        cost=entry,
        error=error,
        interrupted=interrupted,
        parts=[p.to_json() for p in state.parts] if keep_parts else None,
        reservation_id=reservation,
    )
    flight.done()  # stored, or kept in the journal of records the database could not take
    return Round(message_id, state.text, usage, priced, response_ms, error, interrupted)


def over_limit(state: CallState, max_tokens: int, prompt_ceiling: int) -> list[str]:
    """What the provider reported beyond the call's worst case, the one agentik held against the
    budgets (`worst_case`, services/budgets.py WorstCase); [] when nothing was.
    Beyond it means: output tokens above the request's max_tokens, or prompt tokens (every one,
    cache reads and writes included, as Usage.input_tokens counts them) above the ceiling the
    reservation used (providers.tokens.ceiling_prompt). Within both, the call cannot cost more than
    its worst case; past either it may, and the row is recorded as reported all the same (it is
    what the provider bills) and marked `over_limit`. Only the provider's own counts are compared:
    agentik's estimate of a call cut short errs high by design, is marked as an estimate, and is
    never over limit. Imported and recorded usage had no worst case, so it never is either."""
    found = []
    if state.output_reported and state.output_tokens > max_tokens:
        found.append(f"{state.output_tokens:,} output tokens for a call allowed {max_tokens:,} (max tokens)")
    if state.input_reported and state.input_tokens > prompt_ceiling:
        found.append(
            f"{state.input_tokens:,} prompt tokens for a prompt of at most {prompt_ceiling:,} (its bytes and framing)"
        )
    return found


def _over_limit_warning(beyond: list[str], priced: Priced | None, worst: budgets.WorstCase | None) -> str:
    """One line for a call beyond its worst case: both numbers, in tokens, and in dollars when priced."""
    from agentik_cli.money import fmt_usd

    line = f"the server reported {' and '.join(beyond)}: recorded as reported"
    if priced is not None and worst is not None:
        line += f" ({fmt_usd(priced.total_nd)}, against a worst case of {fmt_usd(worst.total_nd)})"
    return line


@contextmanager
def shielded() -> Iterator[None]:
    """Hold Ctrl-C while a record is written, so a second Ctrl-C never leaves half a turn. A Ctrl-C
    while the write waits for another process's lock ends the wait: the record goes to the journal,
    which the next command stores, and the turn ends as interrupted."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    from agentik_cli.store.engine import stop_waiting

    pending: list[bool] = []

    def hold(*_: object) -> None:
        pending.append(True)
        # a write waiting for another process's lock stops waiting: its record goes to the journal
        stop_waiting()

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        stop_waiting(False)
    if pending:
        raise KeyboardInterrupt
