"""Which skills exist: the built-ins (skills/builtin.py), and the user's (command and MCP)
from the data folder's `skills/`. Light to import: no skill's heavy dependency is imported until a
tool runs."""

from __future__ import annotations

from collections.abc import Callable

from agentik_cli.errors import UsageError
from agentik_cli.skills import user
from agentik_cli.skills.base import NAME, Skill, Tool
from agentik_cli.skills.builtin import BUILTIN

# the skills that read private data, and the risks that can send it out
PRIVATE = ("files",)
EGRESS = ("network", "exec")


def all_skills(warn: Callable[[str], None] | None = None) -> dict[str, Skill]:
    found: dict[str, Skill] = {name: cls() for name, cls in BUILTIN.items()}
    for skill in user.load_all(warn):
        if skill.name in found:
            if warn is not None:
                warn(f"the user skill {skill.name} has a built-in skill's name: skipped")
            continue
        found[skill.name] = skill
    return found


def get(name: str) -> Skill:
    if name in BUILTIN:
        return BUILTIN[name]()
    found = all_skills().get(name)
    if found is None:
        why = user.broken(name) if NAME.match(name) else None
        raise UsageError(why or f"unknown skill {name!r}", hint="`agentik skills list` shows the skills")
    return found


def check_names(names: list[str]) -> list[str]:
    """The skill names an agent is given, each one known (exit 2 otherwise), without repeats."""
    known = all_skills()
    out: list[str] = []
    for name in names:
        name = name.strip()
        if name not in known:
            get(name)  # raises what is wrong
        if name not in out:
            out.append(name)
    return out


def find_tool(tool_name: str, skills: dict[str, Skill] | None = None) -> tuple[Skill, Tool]:
    """A tool by the name users and records give it (`read_file`, `calc2.add`)."""
    for skill in (skills or all_skills()).values():
        for tool in skill.tools():
            if tool.name == tool_name:
                return skill, tool
    raise UsageError(f"no tool named {tool_name!r}", hint="`agentik skills show SKILL` lists a skill's tools")


def exfiltration_warning(names: list[str]) -> str | None:
    """An agent that can read private files and also reach the network or run programs can be led,
    by text it reads, to send those files out: that pair is how prompt injection exfiltrates."""
    names = list(names or [])
    private = [n for n in names if n in PRIVATE]
    if not private:
        return None
    known = all_skills()
    egress = [n for n in names if n in known and known[n].risk in EGRESS]
    if not egress:
        return None
    return (
        f"this agent holds {', '.join(private)} (reads private data) and {', '.join(egress)} (can send data out): "
        "text it reads could make it leak your files; keep the two on separate agents unless you trust every input"
    )
