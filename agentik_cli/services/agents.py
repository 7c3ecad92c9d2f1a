"""Agents: create, find, change, remove, and their stats.

Referring to an agent: a reference made only of digits is always an id, anything else is a name
(any case). So a name may not be made only of digits: `agents create 1` would otherwise hide the
agent whose id is 1, and `agents remove 1` remove the wrong one.

An agent's stats follow one rule for every figure:
- counts of things (sessions, messages) follow what exists: `sessions remove` lowers them;
- tokens, cost and unpriced calls follow the cost ledger, because money spent stays spent: they
  are read from the ledger's maintained totals (cost_totals) and drop only when ledger rows are
  removed (`costs cleanup`), so they always equal the agent's row of `costs by-agent`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agentik_cli import environment, limits
from agentik_cli.errors import NotFound, UsageError
from agentik_cli.providers import registry
from agentik_cli.providers.registry import infer as infer_provider
from agentik_cli.providers.registry import takes_temperature
from agentik_cli.services import agent_values
from agentik_cli.store import agents as agent_store
from agentik_cli.store.agents import LedgerFigures, Session
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent

STATUSES = ("active", "paused", "archived")

MAX_ID = limits.INT64_MAX  # the largest id SQLite (and a BIGINT) can hold


@dataclass
class AgentFields:
    """The options of `agents create` / `agents update`; None means not given."""

    name: str | None = None
    model: str | None = None
    provider: str | None = None
    description: str | None = None
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    channels: list[str] | None = None
    skills: list[str] | None = None
    status: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    allow_dirs: list[str] | None = None
    allow_hosts: list[str] | None = None
    allow_commands: list[str] | None = None
    deny_commands: list[str] | None = None
    sandbox: bool | None = None  # False: its commands run without the sandbox (said, never implied)
    notes: list[str] = field(default_factory=list)

    RULES = ("allow_dirs", "allow_hosts", "allow_commands", "deny_commands")


def validate(fields: AgentFields) -> None:
    if fields.name is not None:
        fields.name = fields.name.strip()
        if not fields.name:
            raise UsageError("an agent's name cannot be empty")
    if fields.model is not None and not fields.model.strip():
        raise UsageError("the model cannot be empty")
    if fields.temperature is not None and not 0 <= fields.temperature <= 2:
        raise UsageError(f"temperature must be between 0 and 2, not {fields.temperature:g}")
    if fields.max_tokens is not None and fields.max_tokens <= 0:
        raise UsageError(f"max tokens must be a positive number, not {fields.max_tokens}")
    if fields.max_tokens is not None and fields.max_tokens > limits.MAX_TOKENS:
        raise UsageError(
            f"max tokens: {fields.max_tokens} is more than any reply can have (at most {limits.MAX_TOKENS:,})"
        )
    if fields.provider is not None:
        fields.provider = fields.provider.lower()
        if fields.provider not in registry.names():
            raise registry.unknown(
                fields.provider,
                f"use one of: {', '.join(registry.names())} (an OpenAI-compatible server is 'openai' with --base-url)",
            )
    if fields.status is not None:
        fields.status = fields.status.lower()
        if fields.status not in STATUSES:
            raise UsageError(f"unknown status '{fields.status}'", hint=f"use one of: {', '.join(STATUSES)}")
    if fields.base_url is not None:
        fields.base_url = agent_values.base_url(fields.base_url)
    if fields.api_key_env is not None and not agent_values.ENV_NAME.fullmatch(fields.api_key_env):
        raise UsageError(f"--api-key-env takes the name of an environment variable, not '{fields.api_key_env}'")
    _validate_skills(fields)


def _validate_skills(fields: AgentFields) -> None:
    """Skills by known names only; folders that exist, kept as their real path; host names; command
    patterns that split into words."""
    import shlex

    if fields.skills is not None:
        from agentik_cli.skills import registry as skill_registry

        fields.skills = skill_registry.check_names(fields.skills)
    if fields.allow_dirs is not None:
        folders = []
        for text in fields.allow_dirs:
            folder = Path(text).expanduser()
            if not folder.is_dir():
                raise UsageError(f"--allow-dir {text}: no such folder")
            real = str(folder.resolve())
            if real not in folders:
                folders.append(real)
        fields.allow_dirs = folders
    if fields.allow_hosts is not None:
        hosts = []
        for text in fields.allow_hosts:
            host = text.strip().lower().rstrip(".").strip("[]")
            if not host or any(ch in host for ch in "/@ \t?#"):
                raise UsageError(f"--allow-host takes a host name or address, not {text!r}", hint="e.g. localhost")
            hosts.append(host)
        fields.allow_hosts = list(dict.fromkeys(hosts))
    for option, values in (("--allow-command", fields.allow_commands), ("--deny-command", fields.deny_commands)):
        for pattern in values or []:
            try:
                words = shlex.split(pattern)
            except ValueError as exc:
                raise UsageError(f"{option} {pattern!r}: {exc}") from None
            if not words:
                raise UsageError(f"{option} cannot be empty")


def _temperature_note(agent: Agent) -> list[str]:
    if agent.temperature is not None and not takes_temperature(agent.provider):
        return ["the Anthropic API takes no temperature: it is kept on the agent but not sent"]
    return []


def create(store: Store, fields: AgentFields) -> Agent:
    validate(fields)
    if not fields.name:
        raise UsageError("an agent's name cannot be empty")
    agent_values.check_name(fields.name)
    if not fields.model:
        raise UsageError("an agent needs a model (--model)")
    provider = agent_values.provider_for(fields.model, fields.provider, fields.base_url)
    with store.write() as unit:
        agent = agent_store.insert(
            unit,
            Agent(
                name=fields.name,
                name_key=fields.name.lower(),
                description=fields.description or "",
                system_prompt=fields.system_prompt or "",
                model=fields.model,
                provider=provider,
                temperature=fields.temperature,
                max_tokens=fields.max_tokens,
                channels=list(fields.channels or []),
                skills=list(fields.skills or []),
                status=fields.status or "active",
                base_url=fields.base_url,
                api_key_env=fields.api_key_env,
                allow_dirs=list(fields.allow_dirs or []),
                allow_hosts=list(fields.allow_hosts or []),
                allow_commands=list(fields.allow_commands or []),
                deny_commands=list(fields.deny_commands or []),
                sandbox=fields.sandbox is not False,
                created_at=unit.now,
                updated_at=unit.now,
            ),
        )
    fields.notes.extend(_temperature_note(agent))
    return agent


def id_ref(ref: str) -> int | None:
    """The id an agent reference names, or None when it is a name: digits only (in any script
    that has decimal digits, leading zeros allowed) always mean an id."""
    ref = ref.strip()
    return int(ref) if ref.isdecimal() else None


def find(session: Session, ref: str) -> Agent | None:
    """The agent a reference names (see the module's docstring), or None."""
    agent_id = id_ref(ref)
    if agent_id is not None:
        # past 64 bits no agent can have it (and SQLite cannot even bind it)
        return agent_store.by_id(session, agent_id) if agent_id <= MAX_ID else None
    return agent_store.by_name(session, ref)


def resolve(session: Session, ref: str) -> Agent:
    """The agent a reference names, else NotFound saying why (a usage error for an impossible id)."""
    agent = find(session, ref)
    if agent is not None:
        return agent
    agent_id = id_ref(ref)
    if agent_id is None:
        raise NotFound(f"no agent named '{ref.strip()}'", hint="`agentik agents list` shows the agents")
    if agent_id > MAX_ID:
        raise UsageError(f"no agent can have id {ref.strip()}: ids are below 2^63")
    # an agent named only with digits, from before such names were refused, is reached by its id
    legacy = agent_store.by_name(session, ref)
    hint = (
        f"the agent named '{legacy.name}' has id {legacy.id}: refer to it by that id"
        if legacy is not None
        else "`agentik agents list` shows the agents"
    )
    raise NotFound(f"no agent with id {agent_id}", hint=hint)


def ledger_agent_id(session: Session, ref: str) -> int:
    """The agent whose ledger rows `--agent` means: a live agent, or a removed one, whose cost rows
    keep its id (ids are never reused) and whose name cost_totals keeps, so every report that lists
    it under its name can also be narrowed to it."""
    agent = find(session, ref)
    if agent is not None:
        assert agent.id is not None
        return agent.id
    agent_id = id_ref(ref)
    by_id = agent_id if agent_id is not None and agent_id <= MAX_ID else None
    keys = agent_store.removed_agent_keys(session, by_id, ref)
    if len(keys) > 1:
        raise UsageError(
            f"several removed agents were called '{ref.strip()}'",
            hint=f"give one by its id: {', '.join(map(str, keys))}",
        )
    if keys:
        return keys[0]
    resolve(session, ref)  # no agent, live or removed, by that name or id: raises the usual error
    raise AssertionError("unreachable")


def get(store: Store, ref: str) -> Agent:
    with store.read() as session:
        return resolve(session, ref)


def list_agents(store: Store, status: str | None = None, limit: int | None = None, sort: str = "name") -> list[Agent]:
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status '{status}'", hint=f"use one of: {', '.join(STATUSES)}")
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    if sort not in SORTS:
        raise UsageError(f"unknown sort '{sort}'", hint=f"use one of: {', '.join(SORTS)}")
    with store.read() as session:
        return agent_store.listing(session, status, limit, sort)


SORTS = ("name", "created", "last-active")


def update_agent(store: Store, ref: str, fields: AgentFields) -> Agent:
    validate(fields)
    if fields.name is not None:
        agent_values.check_name(fields.name)
    with store.write() as unit:
        agent = resolve(unit.session, ref)
        renamed = fields.name is not None and fields.name != agent.name
        if fields.name is not None and renamed:
            agent.name = fields.name
            agent.name_key = fields.name.lower()
        for attr in (
            "description",
            "system_prompt",
            "model",
            "temperature",
            "max_tokens",
            "status",
            "base_url",
            "api_key_env",
            "sandbox",
        ):
            value = getattr(fields, attr)
            if value is not None:
                setattr(agent, attr, value)
        if fields.channels is not None:
            agent.channels = list(fields.channels)
        if fields.skills is not None:
            agent.skills = list(fields.skills)
        for rule in AgentFields.RULES:  # like --skill, a rule option given replaces the list
            if getattr(fields, rule) is not None:
                setattr(agent, rule, list(getattr(fields, rule)))
        if fields.provider is not None:
            agent.provider = fields.provider
        elif fields.model is not None:
            agent.provider = infer_provider(agent.model) or agent.provider
        agent.updated_at = unit.now
        agent_store.save(unit, agent, renamed=renamed)
    if fields.temperature is not None or fields.provider is not None:
        fields.notes.extend(_temperature_note(agent))
    return agent


def remove(store: Store, ref: str) -> agent_store.RemovedAgent:
    """Remove an agent; what went with it is counted inside the removal's transaction."""
    with store.write() as unit:
        agent = resolve(unit.session, ref)
        assert agent.id is not None
        # No running total of the ledger moves: the agent's cost rows and totals stay.
        removed = agent_store.remove(unit, agent.id)
    if removed is None:  # gone between the look-up and the lock
        raise NotFound(f"no agent {ref.strip()}")
    return removed


def search(store: Store, query: str, limit: int | None = None) -> list[Agent]:
    words = query.strip()
    if not words:
        raise UsageError("the search query is empty")
    with store.read() as session:
        return agent_store.search(session, words, limit)


def get_default_id(session: Session) -> int | None:
    """The current user's default agent (a team store is shared: each user has a default)."""
    return agent_store.default_id(session, environment.current().user)


def get_default(store: Store) -> Agent | None:
    with store.read() as session:
        agent_id = get_default_id(session)
        return agent_store.by_id(session, agent_id) if agent_id is not None else None


def set_default(store: Store, ref: str) -> Agent:
    with store.write() as unit:
        agent = resolve(unit.session, ref)
        assert agent.id is not None
        agent_store.set_default(unit, agent.id)
    return agent


def ledger_figures(store: Store, found: list[Agent]) -> list[LedgerFigures]:
    """Each agent's tokens, cost and unpriced calls from the ledger's maintained totals, in the
    order given, read in one query for any number of agents (zeros for an agent with no cost)."""
    ids = [a.id for a in found if a.id is not None]
    with store.read() as session:
        figures = agent_store.ledger_figures(session, ids)
    return [figures.get(a.id, LedgerFigures()) if a.id is not None else LedgerFigures() for a in found]
