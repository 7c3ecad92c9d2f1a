"""Skills defined by the user: TOML files in the data folder's `skills/`.

A command skill names a program (an argv list, run without a shell) that gets the arguments as a
JSON object on stdin and answers on stdout; a non-zero exit is an error told to the model. An MCP
skill (`kind = "mcp"`, written by `agentik skills add-mcp`) names a server and keeps the list of its
tools, so that listing them never starts it."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agentik_cli.errors import NotFound
from agentik_cli.skills.base import (
    MAX_OUTPUT,
    RISKS,
    Context,
    Outcome,
    Skill,
    Tool,
    check_name,
    skills_dir,
)
from agentik_cli.skills.builtin import refuse_builtin_names

MAX_TIMEOUT = 3600.0


class CommandSkill(Skill):
    kind = "command"

    def __init__(self, data: dict[str, Any], path: Path) -> None:
        self.path = path
        self.name = check_name(_text(data, "name", required=True))
        self.description = _text(data, "description")
        command = data.get("command")
        if not isinstance(command, list) or not command or not all(isinstance(w, str) and w for w in command):
            raise ValueError("`command` must be a list of words (argv, no shell)")
        self.command: list[str] = command
        self.risk = _risk(data.get("risk", "exec"))
        self.timeout = _number(data.get("timeout", 30), "timeout", MAX_TIMEOUT)
        self.max_output = int(_number(data.get("max_output", MAX_OUTPUT), "max_output", 10 * 1024 * 1024))
        parameters = data.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(parameters, dict):
            raise ValueError("[parameters] must be a table (the JSON schema of the arguments)")
        parameters.setdefault("type", "object")
        if parameters["type"] != "object":
            raise ValueError("[parameters] must describe an object")
        _check_schema(parameters)
        self.parameters = parameters
        refuse_builtin_names(self.name, [self.name])

    def tools(self) -> list[Tool]:
        return [Tool(self.name, self.name, self.description, self.parameters, self.risk)]

    def describe(self, tool: str, arguments: dict[str, Any]) -> str:
        import shlex

        return f"{json.dumps(arguments, ensure_ascii=False)} | {shlex.join(self.command)}"

    def run(self, tool: str, arguments: dict[str, Any], context: Context) -> Outcome:
        from agentik_cli.skills import sandbox
        from agentik_cli.skills.shell import run_argv

        return run_argv(
            self.command,
            confinement=sandbox.confinement(context, self.risk),
            stdin=json.dumps(arguments).encode(),
            cwd=context.workspace,
            timeout=self.timeout,
            max_output=self.max_output,
        )


def _text(data: dict[str, Any], key: str, required: bool = False) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value):
        raise ValueError(f"`{key}` must be {'a non-empty ' if required else 'a '}string")
    return value


def _risk(value: Any) -> Any:
    if value not in RISKS:
        raise ValueError(f"`risk` must be one of {', '.join(RISKS)}, not {value!r}")
    return value


def _number(value: Any, key: str, most: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= most:
        raise ValueError(f"`{key}` must be a number above 0, at most {most:g}")
    return float(value)


def _check_schema(schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise ValueError(f"[parameters] is not a valid JSON schema: {exc.message}") from None


def read(path: Path) -> Skill:
    """One skill file, or ValueError saying what is wrong with it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"not TOML: {exc}") from None
    if data.get("kind") == "mcp":
        from agentik_cli.skills.mcp import McpSkill

        return McpSkill(data, path)
    skill = CommandSkill(data, path)
    if path.stem != skill.name:
        raise ValueError(f"the file's name must be the skill's: {skill.name}.toml")
    return skill


def load_all(warn: Callable[[str], None] | None = None) -> list[Skill]:
    """Every user skill that reads well; each broken file is named once through `warn`."""
    folder = skills_dir()
    if not folder.is_dir():
        return []
    found: list[Skill] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            found.append(read(path))
        except ValueError as exc:
            if warn is not None:
                warn(f"skipped the skill file {path}: {exc}")
    return found


def broken(name: str) -> str | None:
    """What is wrong with the file of a skill of this name, when there is one and it is broken."""
    path = skills_dir() / f"{name}.toml"
    if not path.is_file():
        return None
    try:
        read(path)
    except ValueError as exc:
        return f"the skill file {path} is broken: {exc}"
    return None


def remove(name: str) -> Path:
    path = skills_dir() / f"{check_name(name)}.toml"
    if not path.is_file():
        raise NotFound(f"no user skill named {name!r}", hint="`agentik skills list` shows the skills")
    path.unlink()
    return path
