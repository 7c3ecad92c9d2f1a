"""What every skill is: a named set of tools with a risk class, run under the agent's rules.

A skill is built in (files, fetch, shell, time, calc, spend), a command (a TOML file in
AGENTIK_HOME/skills/ naming an argv program) or an MCP server (its tools named `NAME.TOOL`). The
toolbox (skills/toolbox.py) offers an agent's tools to the model, checks each call's
arguments, asks for approval (skills/approval.py), runs the tool and records the run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from agentik_cli.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Callable
    from datetime import datetime

Risk = Literal["read", "network", "exec"]
RISKS: tuple[Risk, ...] = ("read", "network", "exec")
Kind = Literal["builtin", "command", "mcp"]
Decision = Literal["auto", "asked", "flag", "denied"]
Status = Literal["ok", "error", "denied", "timeout", "interrupted"]

# what a tool's output may hold before it is cut (head and tail kept), unless the skill says less
MAX_OUTPUT = 32 * 1024


@dataclass(frozen=True)
class Tool:
    """One tool of a skill: `name` as users and records name it (`read_file`, `calc2.add`)."""

    name: str
    skill: str
    description: str
    parameters: dict[str, Any]  # JSON schema of the arguments object
    risk: Risk


@dataclass
class Outcome:
    """What running a tool gave: the text for the model (and the record), capped."""

    status: Status
    output: str = ""
    truncated: bool = False
    error: str | None = None


@dataclass(frozen=True)
class Rules:
    """An agent's rules for its skills, as stored on the agent."""

    allow_dirs: tuple[str, ...] = ()  # files: the folders it may read (absolute, resolved)
    allow_hosts: tuple[str, ...] = ()  # fetch: hosts allowed although private or loopback
    allow_commands: tuple[str, ...] = ()  # shell: patterns a command must match ("git status", "npm run test:*")
    deny_commands: tuple[str, ...] = ()  # shell: patterns that refuse a command (deny wins)
    sandbox: bool = True  # commands run in the sandbox (skills/sandbox.py) unless turned off

    @classmethod
    def of(cls, agent: Any) -> Rules:
        """An agent's rules, as stored on it."""
        return cls(
            tuple(agent.allow_dirs or ()),
            tuple(agent.allow_hosts or ()),
            tuple(agent.allow_commands or ()),
            tuple(agent.deny_commands or ()),
            bool(getattr(agent, "sandbox", True)),
        )

    @property
    def workspace(self) -> Path:
        """Where commands run and relative paths start: the first folder, else the current one."""
        return Path(self.allow_dirs[0]) if self.allow_dirs else Path.cwd()


@dataclass(frozen=True)
class Spent:
    """What an agent has cost over a window of the ledger."""

    cost_nd: int
    calls: int
    unpriced_calls: int


@dataclass
class Context:
    """Everything a tool may use while it runs. A skill reaches the ledger only through `spend`."""

    agent_id: int | None
    agent_name: str
    rules: Rules
    spend: Callable[[datetime | None], Spent] | None = None  # the agent's spend since a time (None: ever)
    workspace: Path = field(default_factory=Path.cwd)  # where shell runs and relative paths start


class Skill:
    """A skill: its tools, and how to run one of them. `run` never raises for a failure of the tool
    itself (a missing file, a refused address, a non-zero exit): that is an Outcome with status
    "error" or "denied", told to the model. KeyboardInterrupt is the one exception that passes
    through, after the tool's process is killed."""

    name: str
    kind: Kind
    risk: Risk
    description: str

    def tools(self) -> list[Tool]:
        raise NotImplementedError

    def check(self, tool: str, arguments: dict[str, Any], context: Context) -> str | None:
        """A reason to refuse the call before anyone is asked (a command no rule allows), or None."""
        return None

    def describe(self, tool: str, arguments: dict[str, Any]) -> str:
        """The call as a person approving it must see it: the exact command, the URL."""
        import json

        return json.dumps(arguments, ensure_ascii=False)

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        raise NotImplementedError

    def close(self) -> None:
        """Release what the skill holds (an MCP server's process) at the end of a conversation."""


class Builtin(Skill):
    """A skill of agentik's own, named and classed where it is declared:
    `class TimeSkill(Builtin, name="time", risk="read")`."""

    kind = "builtin"

    def __init_subclass__(cls, *, name: str, risk: Risk, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.name, cls.risk = name, risk


def one_text_tool(skill: Skill, description: str, argument: str, about: str, *, required: bool = True) -> Tool:
    """The one tool of a built-in skill that takes one text argument, named as the skill is."""
    schema: dict[str, Any] = {"type": "object", "properties": {argument: {"type": "string", "description": about}}}
    if required:
        schema["required"] = [argument]
    schema["additionalProperties"] = False
    return Tool(skill.name, skill.name, description, schema, skill.risk)


WIRE_NAME = re.compile(r"[^A-Za-z0-9_-]")


def wire_name(name: str) -> str:
    """A tool's name as both APIs accept it (letters, digits, _ and -, at most 64)."""
    return WIRE_NAME.sub("_", name.replace(".", "__"))[:64]


# ---- the user's skills (skills/user.py: commands; skills/mcp.py: MCP servers) ----

NAME = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")


def skills_dir() -> Path:
    from agentik_cli import paths

    return paths.data_dir() / "skills"


def check_name(name: str) -> str:
    if not NAME.match(name):
        raise UsageError(
            f"a skill name is lower-case letters, digits, - and _, starting with a letter (at most 40): not {name!r}"
        )
    return name
