"""Agents: create, find, change, remove, and their running stats."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlmodel import Session, col

from agentik_cli import limits
from agentik_cli.errors import NotFound, UsageError
from agentik_cli.money import to_usd
from agentik_cli.providers.catalog import PROVIDERS, infer_provider, takes_temperature
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, Cost, CostTotal, Setting
from agentik_cli.timeutil import iso

STATUSES = ("active", "paused", "archived")
DEFAULT_AGENT_KEY = "default_agent"


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
    notes: list[str] = field(default_factory=list)


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
        if fields.provider not in PROVIDERS:
            raise UsageError(
                f"unknown provider '{fields.provider}'",
                hint=f"use one of: {', '.join(PROVIDERS)} (an OpenAI-compatible server is 'openai' with --base-url)",
            )
    if fields.status is not None:
        fields.status = fields.status.lower()
        if fields.status not in STATUSES:
            raise UsageError(f"unknown status '{fields.status}'", hint=f"use one of: {', '.join(STATUSES)}")
    if fields.base_url is not None:
        fields.base_url = _base_url(fields.base_url)
    if fields.api_key_env is not None and not _ENV_NAME.fullmatch(fields.api_key_env):
        raise UsageError(f"--api-key-env takes the name of an environment variable, not '{fields.api_key_env}'")


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _base_url(text: str) -> str:
    """An http or https URL with a host. Credentials in it are refused: the URL is stored and shown,
    and a key belongs in the variable named by --api-key-env."""
    from urllib.parse import urlsplit

    url = text.strip()
    hint = "give the server's URL, e.g. http://localhost:11434/v1"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--base-url must be an http or https URL with a host, not '{text}'", hint=hint)
    if any(char.isspace() or not char.isprintable() for char in url):
        raise UsageError(f"--base-url cannot hold spaces or control characters: '{text}'", hint=hint)
    if parts.username is not None or parts.password is not None:
        raise UsageError(
            "--base-url cannot hold a user name or password (it is stored and shown)",
            hint="put the key in an environment variable and name it with --api-key-env",
        )
    return url


def _provider_for(model: str, provider: str | None, base_url: str | None) -> str:
    if provider:
        return provider
    inferred = infer_provider(model)
    if inferred:
        return inferred
    if base_url:
        # a server of its own behind --base-url speaks the OpenAI wire format
        return "openai"
    raise UsageError(
        f"cannot tell the provider of model '{model}'",
        hint="add --provider anthropic or --provider openai (with --base-url for an OpenAI-compatible server)",
    )


def _temperature_note(agent: Agent) -> list[str]:
    if agent.temperature is not None and not takes_temperature(agent.provider):
        return ["the Anthropic API takes no temperature: it is kept on the agent but not sent"]
    return []


def _name_taken(session: Session, name: str, except_id: int | None = None) -> bool:
    query = select(col(Agent.id)).where(col(Agent.name_key) == name.lower())
    if except_id is not None:
        query = query.where(col(Agent.id) != except_id)
    return session.execute(query).first() is not None


def create(store: Store, fields: AgentFields) -> Agent:
    validate(fields)
    if not fields.name:
        raise UsageError("an agent's name cannot be empty")
    if not fields.model:
        raise UsageError("an agent needs a model (--model)")
    provider = _provider_for(fields.model, fields.provider, fields.base_url)
    now = datetime.now(UTC)
    agent = Agent(
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
        created_at=now,
        updated_at=now,
    )
    with store.write() as session:
        if _name_taken(session, agent.name):
            raise UsageError(f"an agent named '{agent.name}' already exists")
        session.add(agent)
    fields.notes.extend(_temperature_note(agent))
    return agent


def find(session: Session, ref: str) -> Agent | None:
    ref = ref.strip()
    agent = session.execute(select(Agent).where(col(Agent.name_key) == ref.lower())).scalar_one_or_none()
    if agent is None and ref.isascii() and ref.isdigit():
        agent = session.get(Agent, limits.check_int(int(ref), "AGENT"))  # an id past 64 bits: exit 2
    return agent


def resolve(session: Session, ref: str) -> Agent:
    agent = find(session, ref)
    if agent is None:
        raise NotFound(f"no agent named '{ref}'", hint="`agentik agents list` shows the agents")
    return agent


def get(store: Store, ref: str) -> Agent:
    with store.read() as session:
        return resolve(session, ref)


def list_agents(store: Store, status: str | None = None, limit: int | None = None, sort: str = "name") -> list[Agent]:
    if status is not None and status not in STATUSES:
        raise UsageError(f"unknown status '{status}'", hint=f"use one of: {', '.join(STATUSES)}")
    if limit is not None and limit <= 0:
        raise UsageError("--limit must be a positive number")
    query = select(Agent)
    if status:
        query = query.where(col(Agent.status) == status)
    if sort == "created":
        query = query.order_by(col(Agent.created_at).desc(), col(Agent.id).desc())
    elif sort == "last-active":
        query = query.order_by(
            col(Agent.last_active_at).is_(None),
            col(Agent.last_active_at).desc(),
            col(Agent.id).desc(),
        )
    elif sort == "name":
        query = query.order_by(col(Agent.name_key))
    else:
        raise UsageError(f"unknown sort '{sort}'", hint="use one of: name, created, last-active")
    if limit:
        query = query.limit(limit)
    with store.read() as session:
        return list(session.execute(query).scalars())


def update_agent(store: Store, ref: str, fields: AgentFields) -> Agent:
    validate(fields)
    with store.write() as session:
        agent = resolve(session, ref)
        if fields.name is not None and fields.name != agent.name:
            if _name_taken(session, fields.name, except_id=agent.id):
                raise UsageError(f"an agent named '{fields.name}' already exists")
            agent.name = fields.name
            agent.name_key = fields.name.lower()
            # the ledger reports under the agent's current name
            session.execute(update(Cost).where(col(Cost.agent_id) == agent.id).values(agent_name=fields.name))
            session.execute(
                update(CostTotal).where(col(CostTotal.agent_key) == agent.id).values(agent_name=fields.name)
            )
        for attr in (
            "description",
            "system_prompt",
            "model",
            "temperature",
            "max_tokens",
            "status",
            "base_url",
            "api_key_env",
        ):
            value = getattr(fields, attr)
            if value is not None:
                setattr(agent, attr, value)
        if fields.channels is not None:
            agent.channels = list(fields.channels)
        if fields.skills is not None:
            agent.skills = list(fields.skills)
        if fields.provider is not None:
            agent.provider = fields.provider
        elif fields.model is not None:
            agent.provider = infer_provider(agent.model) or agent.provider
        agent.updated_at = datetime.now(UTC)
        session.add(agent)
    if fields.temperature is not None or fields.provider is not None:
        fields.notes.extend(_temperature_note(agent))
    return agent


def remove(store: Store, ref: str) -> Agent:
    with store.write() as session:
        agent = resolve(session, ref)
        if get_default_id(session) == agent.id:
            session.execute(delete(Setting).where(col(Setting.key) == DEFAULT_AGENT_KEY))
        # its sessions and messages go (ON DELETE CASCADE); its cost rows stay, agent_id set to NULL
        session.execute(delete(Agent).where(col(Agent.id) == agent.id))
    return agent


def search(store: Store, query: str, limit: int | None = None) -> list[Agent]:
    words = query.strip()
    if not words:
        raise UsageError("the search query is empty")
    pattern = f"%{words.lower()}%"
    stmt = (
        select(Agent)
        .where(
            or_(
                col(Agent.name_key).like(pattern),
                func.lower(col(Agent.description)).like(pattern),
                func.lower(col(Agent.system_prompt)).like(pattern),
            )
        )
        .order_by(col(Agent.name_key))
    )
    if limit:
        stmt = stmt.limit(limit)
    with store.read() as session:
        return list(session.execute(stmt).scalars())


def get_default_id(session: Session) -> int | None:
    setting = session.get(Setting, DEFAULT_AGENT_KEY)
    return int(setting.value) if setting else None


def get_default(store: Store) -> Agent | None:
    with store.read() as session:
        agent_id = get_default_id(session)
        return session.get(Agent, agent_id) if agent_id is not None else None


def set_default(store: Store, ref: str) -> Agent:
    with store.write() as session:
        agent = resolve(session, ref)
        setting = session.get(Setting, DEFAULT_AGENT_KEY) or Setting(key=DEFAULT_AGENT_KEY, value="")
        setting.value = str(agent.id)
        session.add(setting)
    return agent


def stats(agent: Agent) -> dict[str, Any]:
    return {
        "sessions": agent.stat_sessions,
        "messages": agent.stat_messages,
        "input_tokens": agent.stat_input_tokens,
        "output_tokens": agent.stat_output_tokens,
        "total_cost": to_usd(agent.stat_cost_nd),
        "avg_response_ms": round(agent.stat_response_ms / agent.stat_responses) if agent.stat_responses else None,
    }


def to_dict(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "name": agent.name,
        "description": agent.description,
        "system_prompt": agent.system_prompt,
        "model": agent.model,
        "provider": agent.provider,
        "temperature": agent.temperature,
        "max_tokens": agent.max_tokens,
        "channels": list(agent.channels or []),
        "skills": list(agent.skills or []),
        "status": agent.status,
        "base_url": agent.base_url,
        "api_key_env": agent.api_key_env,
        "created_at": iso(agent.created_at),
        "updated_at": iso(agent.updated_at),
        "last_active_at": iso(agent.last_active_at),
        "stats": stats(agent),
    }
