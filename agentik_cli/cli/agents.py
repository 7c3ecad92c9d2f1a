"""`agentik agents`: define, list, change and remove agents."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from agentik_cli.cli import agent_options, complete, render
from agentik_cli.cli.agent_options import (
    CSV_COLUMNS,
    STATS_COLUMNS,
    AgentArg,
    AllowCommands,
    AllowDirs,
    AllowHosts,
    ApiKeyEnv,
    BaseUrl,
    Channels,
    DenyCommands,
    Description,
    MaxTokens,
    Model,
    Provider,
    SandboxOpt,
    Skills,
    Status,
    System,
    SystemFile,
    Temperature,
)
from agentik_cli.cli.options import Csv, Json, Limit, Yes, confirm
from agentik_cli.cli.views import Column, View, output
from agentik_cli.errors import UsageError
from agentik_cli.records import agent_json, stats_json
from agentik_cli.services.opening import command_store

app = typer.Typer(
    help="Define, list, change and remove agents.\n\nExample: agentik agents create helper --model claude-sonnet-4-0",
    no_args_is_help=True,
)


def visible(text: Any) -> Any:
    """Text for the terminal (render.safe_text); anything else as it is."""
    return render.safe_text(text) if isinstance(text, str) else text


def _with_figures(found: list[Any]) -> list[tuple[Any, Any]]:
    from agentik_cli.services import agents

    return list(zip(found, agents.ledger_figures(command_store(), found), strict=True))


def _json_of(found: list[Any]) -> list[dict[str, Any]]:
    return [agent_json(agent, figures) for agent, figures in _with_figures(found)]


def _flat(agent_dict: dict[str, Any]) -> dict[str, Any]:
    return {**agent_dict, **agent_dict["stats"]}


def _warn_skills(agent: Any) -> None:
    """The pair of skills through which a prompt injection exfiltrates: said at create, update, show."""
    if agent.skills:
        from agentik_cli.skills import registry

        warning = registry.exfiltration_warning(list(agent.skills))
        if warning:
            render.warn(warning)


def _show(agent: Any, as_json: bool) -> None:
    _warn_skills(agent)
    [(_, ledger)] = _with_figures([agent])
    data = agent_json(agent, ledger)
    if as_json:
        render.print_json(data)
        return
    stats = data["stats"]
    _print_fields(
        [
            ("id", data["id"]),
            ("name", data["name"]),
            ("model", f"{data['model']} ({data['provider']})"),
            ("status", data["status"]),
            ("description", data["description"] or None),
            ("system prompt", data["system_prompt"] or None),
            ("temperature", data["temperature"]),
            ("max tokens", data["max_tokens"]),
            ("channels", ", ".join(data["channels"]) or None),
            ("skills", ", ".join(data["skills"]) or None),
            ("folders", ", ".join(data["allow_dirs"]) or None),
            ("hosts allowed", ", ".join(data["allow_hosts"]) or None),
            ("commands allowed", ", ".join(data["allow_commands"]) or None),
            ("commands denied", ", ".join(data["deny_commands"]) or None),
            ("commands run in", _protection(data) if data["skills"] else None),
            ("base url", data["base_url"]),
            ("key variable", data["api_key_env"]),
            ("created", data["created_at"]),
            ("last active", data["last_active_at"] or "never"),
            ("sessions", stats["sessions"]),
            ("messages", stats["messages"]),
            ("tokens", f"{stats['input_tokens']:,} in / {stats['output_tokens']:,} out"),
            ("cost", render.money(ledger.cost_nd, ledger.unpriced_calls)),
            ("estimated calls", stats["estimated_calls"] or None),
            ("over-limit calls", stats["over_limit_calls"] or None),
            ("avg response", f"{stats['avg_response_ms']} ms" if stats["avg_response_ms"] is not None else None),
        ]
    )


def _protection(data: dict[str, Any]) -> str:
    from agentik_cli.skills.sandbox import protection

    return protection(data["sandbox"])


def _print_fields(pairs: list[tuple[str, Any]]) -> None:
    render.print_fields((key, visible(value)) for key, value in pairs)


def _notes(fields: Any) -> None:
    for line in fields.notes:
        render.warn(line)


@app.command()
def create(
    name: Annotated[str, typer.Argument(help="A unique name (any case).", show_default=False)],
    model: Model = None,
    provider: Provider = None,
    description: Description = None,
    system: System = None,
    system_file: SystemFile = None,
    temperature: Temperature = None,
    max_tokens: MaxTokens = None,
    channel: Channels = None,
    skill: Skills = None,
    status: Status = None,
    base_url: BaseUrl = None,
    api_key_env: ApiKeyEnv = None,
    allow_dir: AllowDirs = None,
    allow_host: AllowHosts = None,
    allow_command: AllowCommands = None,
    deny_command: DenyCommands = None,
    sandbox: SandboxOpt = None,
    as_json: Json = False,
) -> None:
    """Create an agent; prints its id.

    Example: agentik agents create reviewer --model gpt-4o-mini --system "Review code tersely." --temperature 0.2
    """
    if model is None:
        raise UsageError("an agent needs a model", hint="add --model, e.g. --model claude-sonnet-4-0")
    fields = agent_options.fields(locals())
    from agentik_cli.services import agents

    agent = agents.create(command_store(), fields)
    _notes(fields)
    _warn_skills(agent)
    if as_json:
        render.print_json(_json_of([agent])[0])
    else:
        render.print_line(str(agent.id))


@app.command("list")
def list_(
    status: Status = None,
    limit: Limit = None,
    sort: Annotated[str, typer.Option("--sort", help="name, created or last-active.")] = "name",
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """List agents.

    Example: agentik agents list --status active --sort last-active --csv
    """
    from agentik_cli.services import listings

    fmt = output(as_json, as_csv)
    AGENTS.show(listings.agents(status=status, limit=limit, sort=sort), fmt)


def _when(value: Any) -> str:
    if value is None:
        return "never"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def _agent_of(row: tuple[Any, Any]) -> dict[str, Any]:
    return agent_json(*row)


def _flat_agent(row: tuple[Any, Any]) -> dict[str, Any]:
    return _flat(agent_json(*row))


# the cells of agents list and stats, from (agent, its ledger figures)
SESSIONS = Column("sessions", lambda r: r[0].stat_sessions, right=True)
MESSAGES = Column("messages", lambda r: r[0].stat_messages, right=True)
COST = Column("cost", lambda r: render.money(r[1].cost_nd, r[1].unpriced_calls), right=True)
ID = Column("id", lambda r: r[0].id, right=True)
NAME = Column("name", lambda r: r[0].name)
MODEL = Column("model", lambda r: r[0].model)
STATUS = Column("status", lambda r: r[0].status)
AGENTS = View(
    (
        ID,
        NAME,
        MODEL,
        Column("provider", lambda r: r[0].provider),
        STATUS,
        SESSIONS,
        MESSAGES,
        COST,
        Column("last active", lambda r: _when(r[0].last_active_at)),
    ),
    CSV_COLUMNS,
    empty="no agents yet: agentik agents create NAME --model MODEL",
    shape=_agent_of,
    flat=_flat_agent,
)


@app.command()
def show(agent: AgentArg, as_json: Json = False) -> None:
    """Show one agent with its stats.

    Example: agentik agents show helper --json
    """
    from agentik_cli.services import agents

    _show(agents.get(command_store(), agent), as_json)


@app.command()
def update(
    agent: AgentArg,
    name: Annotated[str | None, typer.Option("--name", help="A new name.")] = None,
    model: Model = None,
    provider: Provider = None,
    description: Description = None,
    system: System = None,
    system_file: SystemFile = None,
    temperature: Temperature = None,
    max_tokens: MaxTokens = None,
    channel: Channels = None,
    skill: Skills = None,
    status: Status = None,
    base_url: BaseUrl = None,
    api_key_env: ApiKeyEnv = None,
    allow_dir: AllowDirs = None,
    allow_host: AllowHosts = None,
    allow_command: AllowCommands = None,
    deny_command: DenyCommands = None,
    sandbox: SandboxOpt = None,
    as_json: Json = False,
) -> None:
    """Change an agent: only the options given change (--channel, --skill and the rule options replace the list).

    Example: agentik agents update helper --model claude-opus-4-1 --status paused
    """
    fields = agent_options.fields(locals())
    from agentik_cli.services import agents

    updated = agents.update_agent(command_store(), agent, fields)
    _notes(fields)
    _warn_skills(updated)
    if as_json:
        render.print_json(_json_of([updated])[0])
    else:
        render.note(f"updated agent {updated.name} ({updated.id})")


@app.command()
def remove(agent: AgentArg, yes: Yes = False) -> None:
    """Remove an agent with its sessions and messages; its cost rows stay in the ledger.

    Example: agentik agents remove old-helper --yes
    """
    from agentik_cli.services import agents

    store = command_store()
    found = agents.get(store, agent)
    confirm(
        f"Remove agent {found.name} with its {found.stat_sessions} sessions and {found.stat_messages} messages? "
        "(its cost rows stay in the ledger)",
        yes,
    )
    removed = agents.remove(store, str(found.id))
    # the counts of what went, taken in the removal's own transaction (a chat may have added to them)
    budgets = f", {removed.budgets} budget{'' if removed.budgets == 1 else 's'}" if removed.budgets else ""
    render.note(
        f"removed agent {visible(found.name)}: {removed.sessions} sessions, {removed.messages} messages{budgets}"
    )


@app.command()
def stats(
    agent: Annotated[
        str | None, typer.Argument(help="One agent; all agents when omitted.", autocompletion=complete.agent_names)
    ] = None,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """Usage stats: sessions, messages, tokens, cost, average response time.

    Example: agentik agents stats helper --json
    """
    from agentik_cli.services import agents

    fmt = output(as_json, as_csv)
    store = command_store()
    found = _with_figures([agents.get(store, agent)] if agent is not None else agents.list_agents(store))
    if agent is not None and fmt == "json":
        render.print_json(_stats_of(found[0]))  # one agent's object, not a list
    else:
        STATS.show(found, fmt)


def _stats_of(row: tuple[Any, Any]) -> dict[str, Any]:
    agent, figures = row
    return {"id": agent.id, "name": agent.name, **stats_json(agent, figures)}


def _average(row: tuple[Any, Any]) -> str:
    agent = row[0]
    return f"{round(agent.stat_response_ms / agent.stat_responses)} ms" if agent.stat_responses else ""


STATS = View(
    (
        Column("name", lambda r: r[0].name),
        SESSIONS,
        MESSAGES,
        Column("input tokens", lambda r: f"{r[1].input_tokens:,}", right=True),
        Column("output tokens", lambda r: f"{r[1].output_tokens:,}", right=True),
        COST,
        Column("avg response", _average, right=True),
    ),
    STATS_COLUMNS,
    empty="no agents yet",
    shape=_stats_of,
)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="Words to find in names, descriptions and system prompts.")],
    limit: Limit = None,
    as_json: Json = False,
    as_csv: Csv = False,
) -> None:
    """Find agents by name, description or system prompt.

    The CSV has the columns of `agents list --csv`.

    Example: agentik agents search review --json
    """
    from agentik_cli.services import agents

    fmt = output(as_json, as_csv)
    View(
        (ID, NAME, MODEL, STATUS, Column("description", lambda r: r[0].description)),
        CSV_COLUMNS,
        empty=f"no agent matches '{query}'",
        shape=_agent_of,
        flat=_flat_agent,
    ).show(_with_figures(agents.search(command_store(), query, limit=limit)), fmt)


@app.command()
def default(
    agent: Annotated[
        str | None, typer.Argument(help="The agent to make the default.", autocompletion=complete.agent_names)
    ] = None,
    as_json: Json = False,
) -> None:
    """Show, or set, the agent that `chat` uses when none is named.

    Example: agentik agents default helper
    """
    from agentik_cli.services import agents

    store = command_store()
    chosen = agents.set_default(store, agent) if agent is not None else agents.get_default(store)
    if as_json:
        render.print_json(_json_of([chosen])[0] if chosen else None)
    elif chosen is None:
        render.note("no default agent: `agentik agents default NAME` sets one")
    else:
        render.print_line(visible(chosen.name) if render.stdout_is_terminal() else chosen.name)
