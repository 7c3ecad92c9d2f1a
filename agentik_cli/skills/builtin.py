"""The built-in skills, and the names they hold: no user skill may take one. Below the registry
(skills/registry.py), which adds the user's skills to these, and below the user's kinds of
skill (skills/user.py, skills/mcp.py), which check their names here."""

from __future__ import annotations

import functools

from agentik_cli.skills.base import Skill, wire_name
from agentik_cli.skills.basic import CalcSkill, SpendSkill, TimeSkill
from agentik_cli.skills.fetch import FetchSkill
from agentik_cli.skills.files import FilesSkill
from agentik_cli.skills.shell import ShellSkill

BUILTIN: dict[str, type[Skill]] = {
    cls.name: cls for cls in (FilesSkill, FetchSkill, ShellSkill, TimeSkill, CalcSkill, SpendSkill)
}


@functools.cache
def builtin_tool_names() -> frozenset[str]:
    """The built-in tools' names, as users name them and as the model is offered them."""
    return frozenset(n for cls in BUILTIN.values() for t in cls().tools() for n in (t.name, wire_name(t.name)))


def refuse_builtin_names(skill: str, tools: list[str]) -> None:
    """ValueError naming the built-in name a user skill would take. A user skill called `read_file`
    would be offered to the model as `read_file`, and the built-in as `read_file_2`: the model would
    call the stranger's tool believing it the built-in (issue 20)."""
    if skill in BUILTIN:
        raise ValueError(f"{skill} is the name of the built-in skill {skill}")
    taken = builtin_tool_names()
    for tool in tools:
        name = tool if tool in taken else wire_name(tool)
        if name in taken:
            raise ValueError(f"its tool {tool} would take the name of the built-in tool {name}")
