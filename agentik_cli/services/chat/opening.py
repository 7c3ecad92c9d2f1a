"""Opening a conversation: everything checked before anything is sent or written (the options, the
session, the agent, created on first use, its key and its provider, the history the next call
sends); then, as each turn begins, the user's message stored before the provider is called, with
the call's worst case held against the budgets in the same transaction."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agentik_cli import limits
from agentik_cli.errors import NotFound, UsageError
from agentik_cli.providers import registry
from agentik_cli.providers.base import Provider
from agentik_cli.services import agents, keys, recording
from agentik_cli.services.chat.state import ASSISTANT, MAX_CHAIN_LIMIT, NO_RESULT, ChatOptions, ChatState
from agentik_cli.services.chat.turn import request, reserver, shielded
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import agents as agent_store
from agentik_cli.store import sessions as session_store
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, ChatSession
from agentik_cli.values import Attachment, ChatRequest, Part, ToolResult, Turn

if TYPE_CHECKING:
    from agentik_cli.skills.toolbox import Toolbox


@dataclass
class Opening:
    """What a conversation opens with (chat/conversation.py open_conversation)."""

    agent: Agent
    provider: Provider
    session_id: int | None
    history: list[Turn]


def resolve(store: Store, options: ChatOptions) -> Opening:
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
    provider = make_provider(agent)  # the key is checked here, before the user's message is stored
    session_id = None
    if options.continue_session:
        assert agent.id is not None
        with store.read() as session:
            session_id = session_store.latest_id(session, agent.id)
    elif session_row is not None:
        session_id = session_row.id
    history = _history(store, session_id) if session_id is not None else []
    return Opening(agent, provider, session_id, history)


@dataclass
class Question:
    """The user's message of a turn, stored, and what the turn's first call sends."""

    turns: list[Turn]  # the history and the message: each call's reply and tool results join them
    toolbox: Toolbox | None
    tools: list[Any]
    request: ChatRequest
    message_id: int
    reservation: int | None


def ask(chat: ChatState, text: str, attachments: list[Attachment] | None) -> Question:
    """A turn begins: the message checked, the prices read, the provider connected, the agent's
    skills read; then the message is stored, opening a session when there is none, with the first
    call's worst case held against the budgets (refused, neither is kept)."""
    if not text.strip() and not attachments:
        raise UsageError("the message is empty")
    attachments = attachments or []
    chat.warnings = []
    # the prices are read (and a prices.toml left by an older agentik moved in, a bad entry
    # refused) before anything is sent or written: pricing after the reply has arrived must not fail
    chat.prices = PriceBook(chat.store)
    # The SDK import is not part of the response time. Ctrl-C waits for it (a second or so):
    # cut short, it leaves a half-built client whose clean-up prints a traceback
    with shielded():
        chat.provider.connect()
    toolbox = chat.toolbox()  # the agent's skills read before anything is written
    tools = toolbox.specs() if toolbox is not None else []
    turns = [*chat.history, Turn("user", text, attachments)]
    first = request(chat, turns, tools)
    with shielded():
        chat.session_id, message_id, reservation = recording.add_user_message(
            chat.store,
            agent_id=chat.agent_id,
            session_id=chat.session_id,
            content=text,
            channel=chat.options.channel,
            attachments=[a.meta() for a in attachments],
            reserve=reserver(chat, first),
        )
    return Question(turns, toolbox, tools, first, message_id, reservation)


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
    from agentik_cli.skills.toolbox import ToolRun

    return ToolRun.from_json(record).result()
