"""Who approves a tool call. Read-only skills run; a network skill is asked about once per session;
an exec skill at every call; `--approve SKILL` and `--approve-all` approve in advance (decision
"flag"). With no one to ask (no terminal), a call that needs approval is denied, and the model is
told so. A skill's own rules (shell's --allow-command) are checked first: a call they refuse is
denied without asking anyone."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from agentik_cli.skills.base import Context, Decision, Skill, Tool

# (tool, arguments, the call as a person must see it) -> approved?
Ask = Callable[[Tool, dict[str, Any], str], bool]
NEEDS_APPROVAL = "denied: needs approval (--approve {skill} or --approve-all)"


class Approval:
    def __init__(self, approve: Iterable[str] = (), approve_all: bool = False, ask: Ask | None = None) -> None:
        self.approve = set(approve)
        self.approve_all = approve_all
        self.ask = ask
        self.session_approved: set[str] = set()  # network skills approved for this session

    def new_session(self) -> None:
        self.session_approved.clear()

    def decide(
        self, skill: Skill, tool: Tool, arguments: dict[str, Any], context: Context
    ) -> tuple[Decision, bool, str | None]:
        """(decision, allowed, why not)."""
        refusal = skill.check(tool.name, arguments, context)
        if refusal:
            return "denied", False, refusal
        if tool.risk == "read":
            return "auto", True, None
        if self.approve_all or skill.name in self.approve:
            return "flag", True, None
        if tool.risk == "network" and skill.name in self.session_approved:
            return "asked", True, None
        if self.ask is None:
            return "denied", False, NEEDS_APPROVAL.format(skill=skill.name)
        if self.ask(tool, arguments, skill.describe(tool.name, arguments)):
            if tool.risk == "network":
                self.session_approved.add(skill.name)
            return "asked", True, None
        return "denied", False, "denied: the user said no"
