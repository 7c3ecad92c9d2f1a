"""An agent on the command line: the options that set its fields (create and update take the same),
the fields made of them, and the columns that show an agent in a CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from agentik_cli.cli import complete, render
from agentik_cli.errors import UsageError
from agentik_cli.records import COST_KEYS, TOKEN_KEYS

AgentArg = Annotated[
    str,
    typer.Argument(help="The agent's name (any case) or id.", show_default=False, autocompletion=complete.agent_names),
]
Model = Annotated[
    str | None,
    typer.Option("--model", help="Model name, e.g. claude-sonnet-4-0, gpt-4o-mini.", autocompletion=complete.models),
]
Provider = Annotated[
    str | None,
    typer.Option(
        "--provider",
        help="anthropic or openai; inferred from the model when not given.",
        autocompletion=complete.providers,
    ),
]
Description = Annotated[str | None, typer.Option("--description", help="What the agent is for.")]
System = Annotated[str | None, typer.Option("--system", help="The system prompt.")]
SystemFile = Annotated[Path | None, typer.Option("--system-file", help="Read the system prompt from a file.")]
Temperature = Annotated[
    float | None, typer.Option("--temperature", help="0 to 2; sent to OpenAI and compatible servers.")
]
MaxTokens = Annotated[int | None, typer.Option("--max-tokens", help="Most tokens in a reply (default 8192).")]
Channels = Annotated[list[str] | None, typer.Option("--channel", help="A channel (repeatable).")]
Skills = Annotated[
    list[str] | None,
    typer.Option(
        "--skill",
        help="A skill: files, fetch, shell, time, calc, spend, or yours (repeatable).",
        autocompletion=complete.skill_names,
    ),
]
AllowDirs = Annotated[
    list[str] | None, typer.Option("--allow-dir", help="A folder the files skill may read (repeatable).")
]
AllowHosts = Annotated[
    list[str] | None, typer.Option("--allow-host", help="A private or local host fetch may reach (repeatable).")
]
AllowCommands = Annotated[
    list[str] | None,
    typer.Option("--allow-command", help="A command shell may run: its words, * for the rest ('npm run test:*')."),
]
DenyCommands = Annotated[
    list[str] | None, typer.Option("--deny-command", help="A command shell must never run (deny wins).")
]
SandboxOpt = Annotated[
    bool | None,
    typer.Option(
        "--sandbox/--no-sandbox",
        help="Run its commands (shell, command skills, MCP servers) in the sandbox (the default), or not.",
        show_default=False,
    ),
]
Status = Annotated[
    str | None, typer.Option("--status", help="active, paused or archived.", autocompletion=complete.statuses)
]
BaseUrl = Annotated[
    str | None, typer.Option("--base-url", help="An OpenAI-compatible server (Ollama, vLLM, LM Studio, ...).")
]
ApiKeyEnv = Annotated[
    str | None, typer.Option("--api-key-env", help="The environment variable holding the key for --base-url.")
]

# the keys of records.stats_json, in its order
STATS_KEYS = [
    "sessions",
    "messages",
    *TOKEN_KEYS[:2],
    *COST_KEYS,
    "avg_response_ms",
]

CSV_COLUMNS = [
    "id",
    "name",
    "model",
    "provider",
    "status",
    "description",
    "temperature",
    "max_tokens",
    "channels",
    "skills",
    "base_url",
    "created_at",
    "updated_at",
    "last_active_at",
    *STATS_KEYS,
    "sandbox",
]

# `agents stats` rows: the agent's id and name, then the keys of records.stats_json
STATS_COLUMNS = ["id", "name", *STATS_KEYS]


# an option's parameter and the field it sets, where their names differ
RENAMED = {
    "system": "system_prompt",
    "channel": "channels",
    "skill": "skills",
    "allow_dir": "allow_dirs",
    "allow_host": "allow_hosts",
    "allow_command": "allow_commands",
    "deny_command": "deny_commands",
}
NOT_FIELDS = {"agent", "as_json"}  # update's AGENT names the agent it changes


def fields(options: dict[str, Any]) -> Any:
    """The fields a command's options set (create's and update's parameters), as AgentFields."""
    from agentik_cli.services.agents import AgentFields

    values = {RENAMED.get(name, name): value for name, value in options.items() if name not in NOT_FIELDS}
    system_file: Path | None = values.pop("system_file")
    if system_file is not None:
        if values.get("system_prompt") is not None:
            raise UsageError("give --system or --system-file, not both")
        from agentik_cli.text import decode, replaced_note

        try:
            values["system_prompt"], replaced = decode(system_file.read_bytes())
        except FileNotFoundError:
            raise UsageError(f"--system-file {system_file}: no such file") from None
        except OSError as exc:
            raise UsageError(f"--system-file {system_file}: cannot read it ({exc})") from None
        if replaced:
            render.warn(replaced_note(f"--system-file {system_file}", replaced))
    return AgentFields(**values)
