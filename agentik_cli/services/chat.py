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
from typing import Any

from agentik_cli import limits
from agentik_cli.errors import AgentikError, Interrupted, NotFound, UsageError
from agentik_cli.providers import registry
from agentik_cli.providers.base import CallState, Provider
from agentik_cli.providers.registry import takes_temperature
from agentik_cli.services import agents, keys, ledger
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import agents as agent_store
from agentik_cli.store import sessions as session_store
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, ChatSession
from agentik_cli.values import DEFAULT_MAX_TOKENS, Attachment, ChatRequest, Chunk, Priced, Turn, Usage

ASSISTANT = "assistant"
INTERRUPTED = "interrupted"


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


@dataclass
class Conversation:
    store: Store
    agent: Agent
    options: ChatOptions
    session_id: int | None = None
    history: list[Turn] = field(default_factory=list)
    _provider: Provider | None = None
    _prices: PriceBook | None = None

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
        # the prices are read (and a prices.toml left by an older agentik moved in, a bad entry
        # refused) before anything is sent or written: pricing after the reply has arrived must not fail
        self._prices = PriceBook(self.store)
        provider = self.provider()
        # The SDK import is not part of the response time. Ctrl-C waits for it (a second or so):
        # cut short, it leaves a half-built client whose clean-up prints a traceback
        with shielded():
            provider.connect()
        turn = Turn("user", text, attachments)
        with shielded():
            self.session_id, user_message_id = ledger.add_user_message(
                self.store,
                agent_id=self.agent_id,
                session_id=self.session_id,
                content=text,
                channel=self.options.channel,
                attachments=[a.meta() for a in attachments],
            )
        request = ChatRequest(
            model=self.model,
            messages=[*self.history, turn],
            system=self.system,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            stream=self.options.stream,
        )
        state = CallState()
        started = time.perf_counter()
        try:
            for chunk in provider.stream(request, state):
                if on_chunk is not None:
                    on_chunk(chunk)
        except KeyboardInterrupt:
            # the request may have reached the provider, which bills a prompt it has read
            with shielded():
                result = self._finish(request, state, started, user_message_id, error=INTERRUPTED, interrupted=True)
            self._remember(turn, result)
            raise Interrupted("interrupted", hint=None) from None
        except AgentikError as exc:
            with shielded():
                if state.started:  # the provider was answering: a paid call, stored as far as it got
                    result = self._finish(request, state, started, user_message_id, error=exc.message)
                    self._remember(turn, result)
                else:
                    ledger.mark_failed(self.store, user_message_id, exc.message)
            raise
        with shielded():
            result = self._finish(request, state, started, user_message_id)
        self._remember(turn, result)
        return result

    @property
    def agent_id(self) -> int:
        assert self.agent.id is not None
        return self.agent.id

    def _finish(
        self,
        request: ChatRequest,
        state: CallState,
        started: float,
        user_message_id: int,
        *,
        error: str | None = None,
        interrupted: bool = False,
    ) -> TurnResult:
        response_ms = round((time.perf_counter() - started) * 1000)
        state.settle(request)
        usage = state.usage()
        priced = (self._prices or PriceBook(self.store)).price(self.model, self.provider_name, usage)
        entry = ledger.CostEntry(
            model=self.model,
            provider=self.provider_name,
            usage=usage,
            priced=priced,
            response_ms=response_ms,
            channel=self.options.channel,
            endpoint=self.provider().endpoint,
        )
        assert self.session_id is not None
        message_id = ledger.add_reply(
            self.store,
            agent_id=self.agent_id,
            agent_name=self.agent.name,
            session_id=self.session_id,
            content=state.text,
            channel=self.options.channel,
            cost=entry,
            error=error,
            interrupted=interrupted,
        )
        return TurnResult(
            session_id=self.session_id,
            message_id=message_id,
            content=state.text,
            model=self.model,
            provider=self.provider_name,
            usage=usage,
            cost=priced,
            response_ms=response_ms,
            interrupted=interrupted,
            error=error,
        )

    def _remember(self, turn: Turn, result: TurnResult) -> None:
        # the reply as the user saw it goes into the history; an empty one is left out
        self.history.append(turn)
        if result.content:
            self.history.append(Turn("assistant", result.content))

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
    whose call failed outright is kept in the log but not re-sent."""
    turns: list[Turn] = []
    with store.read() as session:
        rows = session_store.history(session, session_id)
    for row in rows:
        if row.role == "user" and row.error:
            continue
        if row.role == "assistant" and not row.content:
            continue
        files = [
            Attachment(name=a["name"], mime=a["type"], size=a["size"], sha256=a["sha256"], text=a.get("text"))
            for a in row.attachments
        ]
        turns.append(Turn("user" if row.role == "user" else "assistant", row.content, files))
    return turns


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
