"""An agent's tools in a conversation: offered to the model under wire names both APIs accept, and
each call the model makes checked (the tool exists, the arguments fit its schema), approved, run,
timed, capped and returned as a record (`ToolRun`) for the log and a result for the model."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentik_cli.services.skills import registry
from agentik_cli.services.skills.approval import Approval
from agentik_cli.services.skills.base import MAX_OUTPUT, Context, Decision, Outcome, Skill, Status, Tool
from agentik_cli.values import ToolCall, ToolResult, ToolSpec

WIRE_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass
class ToolRun:
    """One tool call as recorded: what was asked, what was decided, what came of it."""

    id: str  # the provider's id for the call
    skill: str
    tool: str
    arguments: dict[str, Any]
    decision: Decision
    status: Status
    duration_ms: int = 0
    output: str = ""
    truncated: bool = False
    error: str | None = None

    def result(self) -> ToolResult:
        """What the model is told."""
        if self.status == "ok":
            return ToolResult(self.id, self.output or "(no output)")
        parts = [self.error or self.status]
        if self.output:
            parts.append(self.output)
        return ToolResult(self.id, "\n".join(parts), is_error=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "skill": self.skill,
            "tool": self.tool,
            "arguments": self.arguments,
            "decision": self.decision,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "output": self.output,
            "truncated": self.truncated,
            "error": self.error,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToolRun:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


class ToolInterrupted(KeyboardInterrupt):
    """Ctrl-C while a tool ran: the tool was stopped, and `run` records it."""

    def __init__(self, run: ToolRun) -> None:
        super().__init__("interrupted")
        self.run = run


def cap(text: str, limit: int) -> tuple[str, bool]:
    """At most `limit` characters, keeping the head and the tail."""
    if len(text) <= limit:
        return text, False
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half:,} characters cut ...]\n{text[-half:]}", True


def wire_names(tools: list[Tool]) -> dict[str, Tool]:
    """Each tool under a name both APIs accept (letters, digits, _ and -, at most 64), unique."""
    named: dict[str, Tool] = {}
    for tool in tools:
        base = WIRE_NAME.sub("_", tool.name.replace(".", "__"))[:64]
        name, n = base, 1
        while name in named:
            n += 1
            name = f"{base[: 64 - len(str(n)) - 1]}_{n}"
        named[name] = tool
    return named


def check_arguments(schema: dict[str, Any], arguments: dict[str, Any]) -> str | None:
    """What is wrong with the arguments, by the tool's JSON schema, or None."""
    import jsonschema

    try:
        validator = jsonschema.Draft202012Validator(schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(arguments))
    except jsonschema.SchemaError as exc:
        return f"the tool's own schema is broken: {exc.message}"
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"bad arguments{' at ' + where if where else ''}: {error.message}"


class Toolbox:
    def __init__(self, skill_names: list[str], context: Context, approval: Approval) -> None:
        self.context = context
        self.approval = approval
        known = registry.all_skills()
        # a skill removed (or broken) since the agent was given it is left out: it cannot be offered
        self.skills: dict[str, Skill] = {n: known[n] for n in skill_names if n in known}
        self.missing = [n for n in skill_names if n not in known]
        self.tools: dict[str, Tool] = wire_names([t for s in self.skills.values() for t in s.tools()])

    def specs(self) -> list[ToolSpec]:
        return [ToolSpec(name, t.description, t.parameters) for name, t in self.tools.items()]

    def _tool(self, call: ToolCall) -> Tool | None:
        return self.tools.get(call.name) or next((t for t in self.tools.values() if t.name == call.name), None)

    def not_run(self, call: ToolCall, status: Status, reason: str) -> ToolRun:
        tool = self._tool(call)
        return ToolRun(
            call.id,
            tool.skill if tool else "",
            tool.name if tool else call.name,
            call.arguments,
            "denied" if status == "denied" else "auto",
            status,
            error=reason,
        )

    def run(self, call: ToolCall, on_start: Callable[[Tool, str], None] | None = None) -> ToolRun:
        """Check, approve and run one call. Never raises, but for ToolInterrupted (Ctrl-C)."""
        tool = self._tool(call)
        if tool is None:
            return ToolRun(
                call.id, "", call.name, call.arguments, "denied", "error", error=f"no tool named {call.name}"
            )
        skill = self.skills[tool.skill]
        record = ToolRun(call.id, skill.name, tool.name, call.arguments, "auto", "error")
        problem = call.arguments_error or check_arguments(tool.parameters, call.arguments)
        if problem:
            record.error = problem
            return record
        try:
            decision, allowed, why = self.approval.decide(skill, tool, call.arguments, self.context)
        except KeyboardInterrupt:  # Ctrl-C at the question is a no
            decision, allowed, why = "denied", False, "denied: the user said no"
        record.decision = decision
        if not allowed:
            record.status, record.error = "denied", why
            return record
        if on_start is not None:
            on_start(tool, skill.describe(tool.name, call.arguments))
        started = time.monotonic()
        try:
            outcome = skill.run(tool.name, call.arguments, self.context)
        except KeyboardInterrupt:
            record.duration_ms = round((time.monotonic() - started) * 1000)
            record.status, record.error = "interrupted", "interrupted by Ctrl-C"
            raise ToolInterrupted(record) from None
        except Exception as exc:  # a skill's own bug must not end the turn: the model is told
            outcome = Outcome("error", error=f"{type(exc).__name__}: {exc}")
        record.duration_ms = round((time.monotonic() - started) * 1000)
        limit = min(getattr(skill, "max_output", MAX_OUTPUT), MAX_OUTPUT * 32)
        record.output, cut = cap(outcome.output, limit)
        record.truncated = outcome.truncated or cut
        record.status, record.error = outcome.status, outcome.error
        return record

    def close(self) -> None:
        for skill in self.skills.values():
            skill.close()
