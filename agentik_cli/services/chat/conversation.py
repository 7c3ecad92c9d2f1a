"""A conversation: opened once (chat/opening.py), then a turn at a time, each the user's message
stored before the provider is called and the model's calls of the tool loop (chat/tools.py), each
stored complete or as far as it got (chat/turn.py)."""

from __future__ import annotations

from collections.abc import Callable

from agentik_cli.services.chat import opening, tools
from agentik_cli.services.chat.state import ChatOptions, ChatState, TurnResult
from agentik_cli.store.engine import Store
from agentik_cli.values import Attachment, Chunk


class Conversation(ChatState):
    def send(
        self,
        text: str,
        attachments: list[Attachment] | None = None,
        on_chunk: Callable[[Chunk], None] | None = None,
    ) -> TurnResult:
        """One turn. Raises Interrupted on Ctrl-C and ProviderError on failure, after storing what
        there is to store."""
        question = opening.ask(self, text, attachments)
        return tools.run(self, question, on_chunk)


def open_conversation(store: Store, options: ChatOptions) -> Conversation:
    """Everything checked before anything is sent or written: the agent, the session, the key."""
    found = opening.resolve(store, options)
    return Conversation(store, found.agent, options, found.provider, found.session_id, found.history)
