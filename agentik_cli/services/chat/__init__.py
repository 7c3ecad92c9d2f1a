"""A chat: a conversation opened (opening.py), its turns (conversation.py), each turn's model calls
(turn.py) and its tool loop (tools.py), over the conversation's state (state.py)."""

from agentik_cli.services.chat.conversation import Conversation, open_conversation
from agentik_cli.services.chat.opening import env_timeout, make_provider
from agentik_cli.services.chat.state import ChatOptions, TurnResult
from agentik_cli.services.chat.turn import over_limit, shielded

__all__ = [
    "ChatOptions",
    "Conversation",
    "TurnResult",
    "env_timeout",
    "make_provider",
    "open_conversation",
    "over_limit",
    "shielded",
]
