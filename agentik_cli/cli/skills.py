"""`agentik skills`: the skills an agent can be given (built in, the user's commands, MCP servers),
and running one tool by hand under the same rules as in a chat."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, render
from agentik_cli.cli.options import Csv, Json, Yes, confirm
from agentik_cli.cli.views import Column, View, output
from agentik_cli.errors import FAILED, UsageError
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Skills: the tools agents may use (files, fetch, shell, time, calc, spend, yours, MCP servers).",
    no_args_is_help=True,
)

SkillArg = Annotated[str, typer.Argument(help="A skill's name.", autocompletion=complete.skill_names)]


def _skill_json(skill: Any, tools: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": skill.name,
        "kind": skill.kind,
        "risk": skill.risk,
        "description": skill.description,
    }
    if tools:
        data["tools"] = [
            {"name": t.name, "description": t.description, "parameters": t.parameters} for t in skill.tools()
        ]
    return data


def _secrets_json(skill: Any) -> dict[str, Any]:
    """The secrets a skill keeps back (skills/secrets.py): the files `files` refuses, and the
    environment variables every program it runs goes without (shell, command and MCP skills)."""
    from agentik_cli.skills import secrets

    data: dict[str, Any] = {}
    if skill.kind == "builtin" and skill.name == "files":
        data["refuses_files"] = list(secrets.SECRET_FILES)
    if skill.kind in ("command", "mcp") or (skill.kind == "builtin" and skill.name == "shell"):
        data["removes_variables"] = list(secrets.SECRET_VARIABLES)
        data["keeps_variables"] = list(secrets.KEPT_VARIABLES)
    return data


@app.command("list")
def list_(as_json: Json = False, as_csv: Csv = False) -> None:
    """The skills there are: built in, your commands (AGENTIK_HOME/skills/*.toml) and MCP servers.

    Example: agentik skills list --json
    """
    from agentik_cli.skills import registry

    fmt = output(as_json, as_csv)
    SKILLS.show([_skill_json(skill) for skill in registry.all_skills(render.warn).values()], fmt)


# the keys of _skill_json without its tools
SKILL_COLUMNS = ("name", "kind", "risk", "description")
SKILLS = View(tuple(Column.of(key) for key in SKILL_COLUMNS), SKILL_COLUMNS)


@app.command()
def show(name: SkillArg, as_json: Json = False) -> None:
    """A skill and its tools, with their parameters.

    Example: agentik skills show files
    """
    from agentik_cli.skills import registry

    skill = registry.get(name)
    data = _skill_json(skill, tools=True) | _secrets_json(skill)
    if data["kind"] != "builtin" or data["name"] == "shell":  # a skill that runs commands
        from agentik_cli.skills.sandbox import protection

        data["protection"] = protection(True)
    if as_json:
        render.print_json(data)
        return
    import json

    render.print_fields(
        [
            ("name", data["name"]),
            ("kind", data["kind"]),
            ("risk", data["risk"]),
            ("description", data["description"] or None),
            ("commands run in", data.get("protection")),
            # glob patterns, any case: a name, the end of a path (.kube/config) or a folder (.ssh/)
            ("refuses files", ", ".join(data["refuses_files"]) if "refuses_files" in data else None),
            # glob patterns, any case, on the whole name and on each of its words (GITLAB_PAT, not PATH)
            ("removes variables", ", ".join(data["removes_variables"]) if "removes_variables" in data else None),
            ("keeps variables", ", ".join(data["keeps_variables"]) if "keeps_variables" in data else None),
        ]
    )
    for tool in data["tools"]:
        render.print_line()
        render.print_line(f"{tool['name']}: {tool['description']}")
        render.print_line(f"  parameters: {json.dumps(tool['parameters'], ensure_ascii=False)}")


@app.command()
def test(
    tool: Annotated[str, typer.Argument(help="A tool: read_file, fetch, shell, calc2.add...")],
    args: Annotated[str, typer.Option("--args", help="The arguments, a JSON object.")] = "{}",
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent",
            help="Run under this agent's rules (folders, hosts, commands).",
            autocompletion=complete.agent_names,
        ),
    ] = None,
    as_json: Json = False,
) -> None:
    """Run one tool by hand, without a model, under the same checks as in a chat (the agent's rules,
    or none with the current folder as the workspace). Exit 0 with its output, 1 when it fails or is refused.

    Example: agentik skills test calc --args '{"expression": "2**10"}'
    """
    import json

    from agentik_cli.skills import registry
    from agentik_cli.skills.approval import Approval
    from agentik_cli.skills.base import Context, Rules
    from agentik_cli.skills.toolbox import Toolbox, ToolInterrupted
    from agentik_cli.values import ToolCall

    try:
        arguments = json.loads(args)
    except ValueError as exc:
        raise UsageError(f"--args is not JSON: {exc}") from None
    if not isinstance(arguments, dict):
        raise UsageError('--args takes a JSON object, e.g. \'{"path": "README.md"}\'')
    skill, found = registry.find_tool(tool)
    context = Context(None, "", Rules())
    if agent is not None:
        from agentik_cli.services import agents
        from agentik_cli.services.reports import spend_of

        store = command_store()
        row = agents.get(store, agent)
        rules = Rules.of(row)
        context = Context(row.id, row.name, rules, spend_of(store, row.id), rules.workspace)
    elif skill.name == "spend":
        raise UsageError("spend reports an agent's own costs", hint="add --agent NAME")
    # typed by hand, the call is approved by the person typing it ("flag"); the rules still apply
    box = Toolbox([skill.name], context, Approval(approve=[skill.name]))
    wire = next(name for name, t in box.tools.items() if t.name == found.name)
    try:
        run = box.run(ToolCall("manual", wire, arguments))
    except ToolInterrupted as exc:
        run = exc.run
        raise typer.Exit(130) from None
    finally:
        box.close()
    if as_json:
        render.print_json({"status": run.status, "output": run.output, "truncated": run.truncated, "error": run.error})
    else:
        if run.output:
            render.print_line(run.output)
        if run.status != "ok":
            render.err().print(f"agentik: error: {run.tool}: {run.error or run.status}", style="red", markup=False)
    if run.status != "ok":
        raise typer.Exit(FAILED)


@app.command()
def remove(name: SkillArg, yes: Yes = False) -> None:
    """Remove a user or MCP skill (its file in AGENTIK_HOME/skills/). Agents that have it keep the
    name, and are offered its tools no more.

    Example: agentik skills remove calc2 --yes
    """
    from agentik_cli.skills import registry, user

    if name in registry.BUILTIN:
        raise UsageError(f"{name} is built in: it cannot be removed", hint="`agentik agents update NAME --skill ...`")
    path = user.skills_dir() / f"{user.check_name(name)}.toml"
    if not path.is_file():
        from agentik_cli.errors import NotFound

        raise NotFound(f"no skill named {name!r}", hint="`agentik skills list` shows the skills")
    confirm(f"Remove the skill {name} ({path})?", yes)
    user.remove(name)
    render.note(f"removed the skill {name}")


@app.command("add-mcp")
def add_mcp(
    name: Annotated[str, typer.Argument(help="The skill's name; its tools become NAME.TOOL.")],
    command: Annotated[list[str], typer.Argument(help="The server's command and arguments, after --.")],
    risk: Annotated[str, typer.Option("--risk", help="read, network or exec (asks at every call).")] = "exec",
) -> None:
    """Add an MCP server (stdio) as a skill: it is started once to list its tools.

    Example: agentik skills add-mcp notes --risk read -- python notes_server.py
    """
    from agentik_cli.skills import mcp

    path, tools = mcp.add(name, risk, list(command))
    render.note(f"added {name} ({path}): {len(tools)} tools: " + ", ".join(f"{name}.{t['name']}" for t in tools))
