"""A chat turn: the user's message is stored before the provider is called; the reply is stored
with its tokens, cost and time, complete or as far as it got (Ctrl-C, a dropped connection, a
provider error), marked, in the same transaction as the cost row and the running totals."""

from __future__ import annotations

import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentik_cli import environment, limits
from agentik_cli.errors import AgentikError, Interrupted, NotFound, UsageError
from agentik_cli.providers import registry
from agentik_cli.providers.base import CallState, Provider
from agentik_cli.providers.registry import takes_temperature
from agentik_cli.services import agents, budgets, journal, keys, recording
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import agents as agent_store
from agentik_cli.store import sessions as session_store
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, ChatSession
from agentik_cli.store.unit import Unit
from agentik_cli.values import (
    DEFAULT_MAX_TOKENS,
    Attachment,
    ChatRequest,
    Chunk,
    Part,
    Priced,
    ToolResult,
    Turn,
    Usage,
)

if TYPE_CHECKING:
    from agentik_cli.services.skills.approval import Ask
    from agentik_cli.services.skills.base import Tool
    from agentik_cli.services.skills.toolbox import Toolbox, ToolRun

ASSISTANT = "assistant"
INTERRUPTED = "interrupted"
DEFAULT_CHAIN_LIMIT = 5
MAX_CHAIN_LIMIT = 100
NO_RESULT = "no result was recorded for this call"


@dataclass
class ChatOptions:
    agent: str | None = None
    session_id: int | None = None
    continue_session: bool = False
    model: str | None = None
    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    channel: str = "cli"
    stream: bool = True
    approve: list[str] = field(default_factory=list)  # skills approved in advance (--approve)
    approve_all: bool = False
    chain_limit: int = DEFAULT_CHAIN_LIMIT


@dataclass
class TurnResult:
    session_id: int
    message_id: int | None  # None: the database could not take the reply, so it waits in the journal
    content: str
    model: str
    provider: str
    usage: Usage
    cost: Priced | None
    response_ms: int
    interrupted: bool = False
    error: str | None = None
    rounds: int = 1  # model calls made in the turn
    tool_calls: list[ToolRun] = field(default_factory=list)
    chain_limited: bool = False  # the turn ended at the chain limit


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


@dataclass
class Conversation:
    store: Store
    agent: Agent
    options: ChatOptions
    session_id: int | None = None
    history: list[Turn] = field(default_factory=list)
    _provider: Provider | None = None
    _prices: PriceBook | None = None
    _toolbox: Toolbox | None = None
    # set by the CLI: who approves a call (None: no one, so a call that needs approval is denied),
    # and what to show as a tool starts and ends
    ask: Ask | None = None
    warnings: list[str] = field(default_factory=list)  # what the last turn has to warn of (budgets, skills)
    on_tool_start: Callable[[Tool, str], None] | None = None
    on_tool_end: Callable[[ToolRun], None] | None = None

    @property
    def model(self) -> str:
        return self.options.model or self.agent.model

    @property
    def provider_name(self) -> str:
        return self.agent.provider

    @property
    def max_tokens(self) -> int:
        return self.options.max_tokens or self.agent.max_tokens or DEFAULT_MAX_TOKENS

    @property
    def temperature(self) -> float | None:
        value = self.options.temperature if self.options.temperature is not None else self.agent.temperature
        return value if takes_temperature(self.provider_name) else None

    @property
    def system(self) -> str | None:
        return self.options.system if self.options.system is not None else (self.agent.system_prompt or None)

    def provider(self) -> Provider:
        if self._provider is None:
            self._provider = make_provider(self.agent)
        return self._provider

    def new_session(self) -> None:
        self.session_id = None
        self.history = []
        if self._toolbox is not None:
            self._toolbox.approval.new_session()

    def toolbox(self) -> Toolbox | None:
        """The agent's tools, made on first use (None for an agent without skills)."""
        if not self.agent.skills:
            return None
        if self._toolbox is None:
            from agentik_cli.services.skills.approval import Approval
            from agentik_cli.services.skills.base import Context, Rules
            from agentik_cli.services.skills.toolbox import Toolbox

            agent = self.agent
            rules = Rules.of(agent)
            context = Context(agent.id, agent.name, rules, store=self.store, workspace=rules.workspace)
            approval = Approval(self.options.approve, self.options.approve_all, self.ask)
            self._toolbox = Toolbox(list(agent.skills), context, approval)
            for name in self._toolbox.missing:
                self.warnings.append(
                    f"{agent.name} has the skill {name}, which no longer exists or cannot be read: "
                    "it is left out (`agentik skills list`)"
                )
        return self._toolbox

    def close(self) -> None:
        if self._toolbox is not None:
            self._toolbox.close()

    def send(
        self,
        text: str,
        attachments: list[Attachment] | None = None,
        on_chunk: Callable[[Chunk], None] | None = None,
    ) -> TurnResult:
        """One turn. Raises Interrupted on Ctrl-C and ProviderError on failure, after storing what
        there is to store."""
        if not text.strip() and not attachments:
            raise UsageError("the message is empty")
        attachments = attachments or []
        self.warnings = []
        # the prices are read (and a prices.toml left by an older agentik moved in, a bad entry
        # refused) before anything is sent or written: pricing after the reply has arrived must not fail
        self._prices = PriceBook(self.store)
        provider = self.provider()
        # The SDK import is not part of the response time. Ctrl-C waits for it (a second or so):
        # cut short, it leaves a half-built client whose clean-up prints a traceback
        with shielded():
            provider.connect()
        toolbox = self.toolbox()  # the agent's skills read before anything is written
        tools = toolbox.specs() if toolbox is not None else []
        turn = Turn("user", text, attachments)
        turns = [*self.history, turn]
        request = self._request(turns, tools)
        with shielded():
            # the call's worst case is held against the budgets with the message: refused, neither is kept
            self.session_id, user_message_id, reservation = recording.add_user_message(
                self.store,
                agent_id=self.agent_id,
                session_id=self.session_id,
                content=text,
                channel=self.options.channel,
                attachments=[a.meta() for a in attachments],
                reserve=self._reserver(request),
            )
        rounds: list[Round] = []
        runs: list[ToolRun] = []
        asked = 0  # model calls of this turn that asked for tools
        chain_limited = False
        try:
            while True:
                if rounds:  # a follow-up call of the loop: checked against the budgets before it goes
                    request = self._request(turns, tools)
                    with shielded():
                        reservation = recording.reserve(self.store, self._reserver(request))
                state, round_ = self._call(
                    provider, request, user_message_id, turns, reservation, first=not rounds, on_chunk=on_chunk
                )
                rounds.append(round_)
                self.warnings += budgets.warnings(self.store, self.agent_id)
                calls = state.tool_calls
                if not calls or toolbox is None or round_.message_id is None:
                    break
                asked += 1
                if asked >= self.options.chain_limit:
                    reason = f"not run: the chain limit of {self.options.chain_limit} model calls was reached"
                    done = [toolbox.not_run(c, "denied", reason) for c in calls]
                    self._log_runs(round_.message_id, done, runs, turns)
                    chain_limited = True
                    break
                done = []
                try:
                    for call in calls:
                        run = toolbox.run(call, self.on_tool_start)
                        done.append(run)
                        if self.on_tool_end is not None:
                            self.on_tool_end(run)
                except KeyboardInterrupt as exc:
                    from agentik_cli.services.skills.toolbox import ToolInterrupted

                    if isinstance(exc, ToolInterrupted):
                        done.append(exc.run)
                        if self.on_tool_end is not None:
                            self.on_tool_end(exc.run)
                    done += [toolbox.not_run(c, "interrupted", "not run: interrupted") for c in calls[len(done) :]]
                    with shielded():
                        self._log_runs(round_.message_id, done, runs, turns)
                    raise Interrupted("interrupted", hint=None) from None
                self._log_runs(round_.message_id, done, runs, turns)
        finally:
            self._remember(turns)
        return self._result(rounds, runs, chain_limited)

    def _request(self, turns: list[Turn], tools: list[Any]) -> ChatRequest:
        return ChatRequest(
            model=self.model,
            messages=list(turns),
            system=self.system,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stream=self.options.stream,
            tools=tools,
        )

    def _worst_case(self, request: ChatRequest) -> tuple[int, budgets.WorstCase | None]:
        """The call's worst case: every prompt token it can have (providers.base.ceiling_prompt),
        and what that costs at the dearest input rate (cache writes included) with max_tokens at
        the output rate (None when the model has no price)."""
        from agentik_cli.providers.base import ceiling_prompt

        tokens = ceiling_prompt(request)
        book = self._prices or PriceBook(self.store)
        plain = book.price(self.model, self.provider_name, Usage(tokens, request.max_tokens))
        written = book.price(self.model, self.provider_name, Usage(tokens, request.max_tokens, 0, tokens))
        worst = None
        if plain is not None:
            dearest = written if written is not None and written.total_nd > plain.total_nd else plain
            worst = budgets.WorstCase(
                prompt_nd=dearest.input_nd,
                reply_nd=dearest.output_nd,
                max_tokens=request.max_tokens,
                agent=self.agent.name,
            )
        return tokens, worst

    def _reserver(self, request: ChatRequest) -> Callable[[Unit], int | None]:
        """What holds the call's worst case (`_worst_case`) against the budgets, in a unit of work."""
        _, worst = self._worst_case(request)
        agent_id, model, provider = self.agent_id, self.model, self.provider_name
        return lambda unit: budgets.reserve(unit, agent_id, worst, model, provider)

    def _call(
        self,
        provider: Provider,
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
        flight = self._flight(request, state, reservation)
        started = time.perf_counter()
        try:
            for chunk in provider.stream(request, state):
                flight.note(state.text)  # journaled before it is shown
                if on_chunk is not None:
                    on_chunk(chunk)
        except KeyboardInterrupt:
            # the request may have reached the provider, which bills a prompt it has read
            with shielded():
                self._finish(request, state, started, reservation, flight, error=INTERRUPTED, interrupted=True)
                turns.append(Turn("assistant", state.text, parts=list(state.parts)))
            raise Interrupted("interrupted", hint=None) from None
        except AgentikError as exc:
            with shielded():
                if state.started:  # the provider was answering: a paid call, stored as far as it got
                    self._finish(request, state, started, reservation, flight, error=exc.message)
                    turns.append(Turn("assistant", state.text, parts=list(state.parts)))
                else:
                    if first:  # nothing was answered: the user's message is not re-sent
                        recording.mark_failed(self.store, user_message_id, exc.message, reservation)
                    else:
                        recording.release(self.store, reservation)
                    flight.done()
            raise
        with shielded():
            round_ = self._finish(request, state, started, reservation, flight)
        turns.append(Turn("assistant", state.text, parts=list(state.parts)))
        return state, round_

    def _flight(self, request: ChatRequest, state: CallState, reservation: int | None) -> journal.Flight:
        """The call's journal: what the next command needs to store the call if this process dies."""
        from agentik_cli.providers.base import estimate_prompt, estimate_tokens
        from agentik_cli.timeutil import now_utc

        header = {
            "at": now_utc(),
            "agent_id": self.agent_id,
            "agent_name": self.agent.name,
            "session_id": self.session_id,
            "channel": self.options.channel,
            "model": self.model,
            "provider": self.provider_name,
            "endpoint": self.provider().endpoint,
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
            store = self.store
            beat = lambda: recording.heartbeat(store, reservation)  # noqa: E731
        from agentik_cli.store.engine import sqlite_path

        # the in-memory database ends with its process: there is nothing to store later
        in_memory = self.store.url.startswith("sqlite") and sqlite_path(self.store.url) is None
        return journal.Flight(None if in_memory else self.store.url, header, progress, beat)

    def _log_runs(self, message_id: int, done: list[ToolRun], runs: list[ToolRun], turns: list[Turn]) -> None:
        recording.add_tool_calls(self.store, message_id, [r.to_json() for r in done])
        runs.extend(done)
        turns.append(Turn("tool", results=[r.result() for r in done]))

    def _result(self, rounds: list[Round], runs: list[ToolRun], chain_limited: bool) -> TurnResult:
        assert self.session_id is not None
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
            session_id=self.session_id,
            message_id=last.message_id,
            content="\n\n".join(r.content for r in rounds if r.content),
            model=self.model,
            provider=self.provider_name,
            usage=usage,
            cost=cost,
            response_ms=sum(r.response_ms for r in rounds),
            interrupted=last.interrupted,
            error=last.error,
            rounds=len(rounds),
            tool_calls=runs,
            chain_limited=chain_limited,
        )

    @property
    def agent_id(self) -> int:
        assert self.agent.id is not None
        return self.agent.id

    def _finish(
        self,
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
        priced = (self._prices or PriceBook(self.store)).price(self.model, self.provider_name, usage)
        ceiling, worst = self._worst_case(request)
        beyond = over_limit(state, request.max_tokens, ceiling)
        entry = recording.CostEntry(
            model=self.model,
            provider=self.provider_name,
            usage=usage,
            priced=priced,
            response_ms=response_ms,
            channel=self.options.channel,
            endpoint=self.provider().endpoint,
            over_limit=bool(beyond),
            call_key=flight.key if flight.path is not None else None,
        )
        if beyond:
            self.warnings.append(_over_limit_warning(beyond, priced, worst))
        assert self.session_id is not None
        # the parts are kept when there is more to them than the text: reasoning, tool calls
        keep_parts = any(p.kind != "text" for p in state.parts)
        message_id = recording.add_reply(
            self.store,
            agent_id=self.agent_id,
            agent_name=self.agent.name,
            session_id=self.session_id,
            content=state.text,
            channel=self.options.channel,
            cost=entry,
            error=error,
            interrupted=interrupted,
            parts=[p.to_json() for p in state.parts] if keep_parts else None,
            reservation_id=reservation,
        )
        flight.done()  # stored, or kept in the journal of records the database could not take
        return Round(message_id, state.text, usage, priced, response_ms, error, interrupted)

    def _remember(self, turns: list[Turn]) -> None:
        """The turn as the user saw it goes into the history; an empty reply is left out (and the
        user's message too, when nothing answered it). An exchange of tool calls stays whole."""
        new = turns[len(self.history) :]
        if not any(t.role == "assistant" for t in new):  # nothing answered: not re-sent
            return
        kept: list[Turn] = []
        for turn in new:
            if turn.role == "assistant" and not turn.content and not turn.tool_calls:
                continue
            kept.append(turn)
        if kept and kept[-1].role == "assistant" and kept[-1].tool_calls:
            # the calls were never answered (stopped before they ran): say so, as each API requires
            kept.append(Turn("tool", results=[ToolResult(c.id, NO_RESULT, True) for c in kept[-1].tool_calls]))
        self.history.extend(kept)

    def forget_last(self) -> list[str]:
        """/forget: the last exchange goes from the store (services/forget.py) and from what the
        next call sends. Returns the forgotten messages of yours (the chat drops them from its line
        history); [] when there was nothing to forget."""
        from agentik_cli.services import forget

        if self.session_id is None:
            return []
        done = forget.forget_last(self.store, self.session_id)
        if done is None:
            return []
        while self.history and self.history[-1].role != "user":
            self.history.pop()
        if self.history:
            self.history.pop()
        return [d.content for d in done[1] if d.role == "user"]

    def totals(self) -> dict[str, Any]:
        if self.session_id is None:
            found = session_store.Totals()
        else:
            with self.store.read() as session:
                found = session_store.totals(session, self.session_id)
        return {
            "messages": found.messages,
            "input_tokens": found.input_tokens,
            "output_tokens": found.output_tokens,
            "cost_nd": found.cost_nd,
            "unpriced_calls": found.unpriced_calls,
        }


def over_limit(state: CallState, max_tokens: int, prompt_ceiling: int) -> list[str]:
    """What the provider reported beyond the call's worst case, the one agentik held against the
    budgets (`Conversation._worst_case`, services/budgets.py WorstCase); [] when nothing was.
    Beyond it means: output tokens above the request's max_tokens, or prompt tokens (every one,
    cache reads and writes included, as Usage.input_tokens counts them) above the ceiling the
    reservation used (providers.base.ceiling_prompt). Within both, the call cannot cost more than
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


def make_provider(agent: Agent, timeout: float | None = None) -> Provider:
    """The provider for an agent, with its key. A server of the agent's own (--base-url) gets the key
    named by --api-key-env, or none: a provider's key never goes to another host."""
    import os

    if agent.base_url:
        api_key = None
        if agent.api_key_env:
            api_key = os.environ.get(agent.api_key_env)
            if not api_key:
                raise UsageError(
                    f"agent {agent.name} takes its key from ${agent.api_key_env}, which is not set",
                    hint=f"export {agent.api_key_env}=...",
                )
            keys.check_key(api_key, f"${agent.api_key_env}")
    else:
        api_key = keys.require_key(agent.provider)
    if timeout is None:
        timeout = env_timeout()
    return registry.make(agent.provider, api_key=api_key, base_url=agent.base_url, timeout=timeout)


MAX_TIMEOUT = limits.MAX_TIMEOUT


def env_timeout() -> float | None:
    """AGENTIK_TIMEOUT, checked: the SDKs take 0, a negative or an infinite timeout without a word
    and then fail every call, or overflow."""
    import os

    text = os.environ.get("AGENTIK_TIMEOUT")
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= MAX_TIMEOUT:  # nan fails this too
        raise UsageError(f"AGENTIK_TIMEOUT takes a number of seconds above 0, up to {MAX_TIMEOUT:,}, not {text!r}")
    return seconds


def _validate(options: ChatOptions) -> None:
    if options.temperature is not None and not 0 <= options.temperature <= 2:
        raise UsageError(f"temperature must be between 0 and 2, not {options.temperature:g}")
    if options.max_tokens is not None and options.max_tokens <= 0:
        raise UsageError(f"max tokens must be a positive number, not {options.max_tokens}")
    if options.max_tokens is not None and options.max_tokens > limits.MAX_TOKENS:
        raise UsageError(f"max tokens: {options.max_tokens} is more than any reply can have")
    if options.session_id is not None and options.continue_session:
        raise UsageError("give --session or --continue, not both")
    if not options.channel.strip():
        raise UsageError("the channel cannot be empty")
    if not 1 <= options.chain_limit <= MAX_CHAIN_LIMIT:
        raise UsageError(f"--chain-limit takes 1 to {MAX_CHAIN_LIMIT}, not {options.chain_limit}")


def _looks_like_a_message(words: str) -> bool:
    return " " in words.strip() or words.rstrip().endswith(("?", "!", "."))


def _choose_agent(store: Store, options: ChatOptions, session_row: ChatSession | None) -> Agent:
    with store.read() as session:
        if options.agent is not None:
            agent = agents.find(session, options.agent)
            if agent is None and agents.id_ref(options.agent) is not None:
                agent = agents.resolve(session, options.agent)  # raises what is wrong with the id
            if agent is None:
                hint = (
                    f'to send a message, use -m: agentik chat -m "{options.agent}"'
                    if _looks_like_a_message(options.agent)
                    else "`agentik agents list` shows the agents"
                )
                raise NotFound(f"no agent named '{options.agent}'", hint=hint)
            return agent
        if session_row is not None:
            found = agent_store.by_id(session, session_row.agent_id)
            assert found is not None
            return found
        default_id = agents.get_default_id(session)
        if default_id is not None and (found := agent_store.by_id(session, default_id)) is not None:
            return found
        if (found := agents.find(session, ASSISTANT)) is not None:
            return found
        everyone = agent_store.first_agents(session, 2)
    if len(everyone) == 1:
        return everyone[0]
    if everyone:
        raise UsageError(
            "which agent? there is no default agent",
            hint="name one (`agentik chat NAME`) or set one with `agentik agents default NAME`",
        )
    return _create_assistant(store)


def _create_assistant(store: Store) -> Agent:
    """First use with no agents at all: an agent called `assistant` on the provider whose key is set."""
    for provider in registry.names():
        if keys.get_key(provider):
            fields = agents.AgentFields(
                name=ASSISTANT,
                model=registry.get(provider).default_model,
                provider=provider,
                description="Created by agentik on first use",
                system_prompt="You are a helpful assistant.",
            )
            try:
                return agents.create(store, fields)
            except UsageError:
                # another first chat (another terminal, another machine) created it a moment ago
                with store.read() as session:
                    if (found := agents.find(session, ASSISTANT)) is not None:
                        return found
                raise
    raise UsageError(
        "no agents yet, and no provider key to create one with",
        hint=f"set {' or '.join(keys.key_env(p) for p in registry.names())} "
        f"(or `agentik keys set {registry.names()[0]}`), "
        "or create an agent: agentik agents create NAME --model MODEL",
    )


def _load_session(store: Store, options: ChatOptions) -> ChatSession | None:
    if options.session_id is None:
        return None
    with store.read() as session:
        row = session_store.get(session, options.session_id)
    if row is None:
        raise NotFound(f"no session {options.session_id}", hint="`agentik sessions list` shows the sessions")
    return row


def _history(store: Store, session_id: int) -> list[Turn]:
    """The session as the user saw it: replies cut short are in (the empty ones out); a user message
    whose call failed outright is kept in the log but not re-sent. An assistant message that asked
    for tools is followed by their results, as recorded."""
    turns: list[Turn] = []
    with store.read() as session:
        rows = session_store.history(session, session_id)
    for row in rows:
        if row.role == "user" and row.error:
            continue
        parts = [Part.from_json(p) for p in row.parts or []]
        if row.role == "assistant":
            turn = Turn("assistant", row.content, parts=parts)
            if not row.content and not turn.tool_calls:
                continue
            turns.append(turn)
            if turn.tool_calls:
                recorded = {c["id"]: c for c in row.tool_calls}
                turns.append(
                    Turn("tool", results=[_recorded_result(c.id, recorded.get(c.id)) for c in turn.tool_calls])
                )
            continue
        files = [
            Attachment(name=a["name"], mime=a["type"], size=a["size"], sha256=a["sha256"], text=a.get("text"))
            for a in row.attachments
        ]
        turns.append(Turn("user", row.content, files))
    return turns


def _recorded_result(call_id: str, record: dict[str, Any] | None) -> ToolResult:
    if record is None:
        return ToolResult(call_id, NO_RESULT, True)
    from agentik_cli.services.skills.toolbox import ToolRun

    return ToolRun.from_json(record).result()


def open_conversation(store: Store, options: ChatOptions) -> Conversation:
    """Everything checked before anything is sent or written: the agent, the session, the key."""
    _validate(options)
    env_timeout()  # before the first use creates an agent
    session_row = _load_session(store, options)
    agent = _choose_agent(store, options, session_row)
    if session_row is not None and session_row.agent_id != agent.id:
        raise UsageError(
            f"session {session_row.id} belongs to another agent",
            hint=f"leave out the agent name, or use `agentik chat --session {session_row.id}`",
        )
    if agent.status != "active":
        import shlex

        raise UsageError(
            f"{agent.name} is {agent.status}: "
            f"`agentik agents update {shlex.quote(agent.name)} --status active` lets it chat again"
        )
    unknown = [name for name in options.approve if name not in (agent.skills or [])]
    if unknown:
        raise UsageError(
            f"--approve {unknown[0]}: agent {agent.name} has no such skill",
            hint=f"its skills: {', '.join(agent.skills)}" if agent.skills else "it has no skills",
        )
    conversation = Conversation(store=store, agent=agent, options=options)
    conversation.provider()  # the key is checked here, before the user's message is stored
    if options.continue_session:
        assert agent.id is not None
        with store.read() as session:
            conversation.session_id = session_store.latest_id(session, agent.id)
    elif session_row is not None:
        conversation.session_id = session_row.id
    if conversation.session_id is not None:
        conversation.history = _history(store, conversation.session_id)
    return conversation
