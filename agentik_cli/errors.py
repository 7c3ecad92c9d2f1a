"""Domain errors. The library raises these; only the CLI's error boundary turns them into a
one-line message and an exit code (see cli/app.py)."""

from __future__ import annotations

OK = 0
FAILED = 1  # an operation failed: provider, network, store, not found
USAGE = 2  # bad usage, invalid input or configuration, found before anything is sent or written
BUDGET = 3  # refused by a budget: the call would have gone over, so it was not sent
INTERRUPTED = 130


class AgentikError(Exception):
    exit_code = FAILED

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class UsageError(AgentikError):
    """Bad input or configuration; nothing was sent or written."""

    exit_code = USAGE


class NotFound(AgentikError):
    exit_code = FAILED


class StoreError(AgentikError):
    exit_code = FAILED


class ProviderError(AgentikError):
    """The provider answered with an error, or could not be reached."""

    exit_code = FAILED


class BudgetRefused(AgentikError):
    """A call refused by a budget before it was sent."""

    exit_code = BUDGET


class Interrupted(AgentikError):
    exit_code = INTERRUPTED
