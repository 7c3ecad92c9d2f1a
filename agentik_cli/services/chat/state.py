"""A conversation's state: its options, its agent and session, the history the next call sends, and
what it holds for its turns (the provider, the prices, the tools). The turn (chat/turn.py), the
opening (chat/opening.py) and the tool loop (chat/tools.py) read and move it; chat/conversation.py
makes it a Conversation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agentik_cli.providers.base import Provider
from agentik_cli.providers.registry import takes_temperature
from agentik_cli.services.pricing import PriceBook
from agentik_cli.store import sessions as session_store
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent
from agentik_cli.values import DEFAULT_MAX_TOKENS, Priced, ToolResult, Turn, Usage

if TYPE_CHECKING:
    from agentik_cli.skills.approval import Ask
    from agentik_cli.skills.base import Tool
    from agentik_cli.skills.toolbox import Toolbox, ToolRun

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
class ChatState:
    store: Store
    agent: Agent
    options: ChatOptions
    provider: Provider  # with its key, made as the conversation opens (chat/opening.py make_provider)
    session_id: int | None = None
    history: list[Turn] = field(default_factory=list)
    prices: PriceBook | None = None  # read as a turn begins
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
    def agent_id(self) -> int:
        assert self.agent.id is not None
        return self.agent.id

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

    def price_book(self) -> PriceBook:
        return self.prices or PriceBook(self.store)

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
            from agentik_cli.services.reports import spend_of
            from agentik_cli.skills.approval import Approval
            from agentik_cli.skills.base import Context, Rules
            from agentik_cli.skills.toolbox import Toolbox

            agent = self.agent
            rules = Rules.of(agent)
            context = Context(agent.id, agent.name, rules, spend_of(self.store, agent.id), rules.workspace)
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

    def remember(self, turns: list[Turn]) -> None:
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
