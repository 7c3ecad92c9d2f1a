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

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, literal, or_, select, update
from sqlmodel import Session, col

from agentik_cli import environment, limits
from agentik_cli.errors import NotFound, UsageError
from agentik_cli.money import to_usd
from agentik_cli.providers import registry
from agentik_cli.providers.registry import infer as infer_provider
from agentik_cli.providers.registry import takes_temperature
from agentik_cli.store.engine import Store
from agentik_cli.store.models import Agent, Cost, CostTotal, Setting
from agentik_cli.timeutil import iso

STATUSES = ("active", "paused", "archived")


def default_agent_key() -> str:
    """The setting that holds the default agent: one per user (a team store is shared)."""
    return f"default_agent:{environment.current().user}"

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
        fields.base_url = _base_url(fields.base_url)
    if fields.api_key_env is not None and not _ENV_NAME.fullmatch(fields.api_key_env):
        raise UsageError(f"--api-key-env takes the name of an environment variable, not '{fields.api_key_env}'")


def check_name(name: str) -> None:
    """What `validate` leaves open about a name (it strips it and refuses an empty one): a name must
    never read as an id, in any script (`12`, `0012`, `١٢`, `²`), nor hold control characters (a
    newline or tab in a name breaks every listing and cannot be typed back)."""
    if name.isdigit():
        raise UsageError(
            f"an agent's name cannot be only digits ('{name}'): a number refers to an agent by its id",
            hint="add a letter, e.g. agent-" + name,
        )
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UsageError("an agent's name cannot hold control characters (newlines, tabs, ...)")


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _base_url(text: str) -> str:
    """An http or https URL with a host. Credentials in it are refused: the URL is stored and shown,
    and a key belongs in the variable named by --api-key-env."""
    from urllib.parse import urlsplit

    url = text.strip()
    hint = "give the server's URL, e.g. http://localhost:11434/v1"
    try:
        split = urlsplit(url)
    except ValueError:
        split = None
    if split is not None and ("@" in split.netloc or split.query):
        # said without echoing the URL: what is in it may be a key
        raise UsageError(
            "--base-url cannot hold a user name, password or query string (it is stored and shown)",
            hint="put the key in an environment variable and name it with --api-key-env",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number from 0 to 65535
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--base-url must be an http or https URL with a host, not '{text}'", hint=hint)
    if any(char.isspace() or not char.isprintable() for char in url):
        raise UsageError(f"--base-url cannot hold spaces or control characters: '{text}'", hint=hint)
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
        hint=f"add --provider {' or --provider '.join(registry.names())} "
        "(openai with --base-url for an OpenAI-compatible server)",
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
    check_name(fields.name)
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
    with store.write() as unit:
        session = unit.session
        if _name_taken(session, agent.name):
            raise UsageError(f"an agent named '{agent.name}' already exists")
        session.add(agent)
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
        return session.get(Agent, agent_id) if agent_id <= MAX_ID else None
    return session.execute(select(Agent).where(col(Agent.name_key) == ref.strip().lower())).scalar_one_or_none()


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
    legacy = session.execute(select(Agent).where(col(Agent.name_key) == ref.strip().lower())).scalar_one_or_none()
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
    t: Any = CostTotal
    query = select(t.agent_key).distinct().where(t.agent_key > 0, t.agent_key.not_in(select(col(Agent.id))))
    if agent_id is not None and agent_id <= MAX_ID:
        query = query.where(t.agent_key == agent_id)
    else:
        query = query.where(func.lower(t.agent_name) == ref.strip().lower())
    keys = sorted(session.execute(query).scalars())
    if len(keys) > 1:
        raise UsageError(
            f"several removed agents were called '{ref.strip()}'",
            hint=f"give one by its id: {', '.join(map(str, keys))}",
        )
    if keys:
        return int(keys[0])
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
    if fields.name is not None:
        check_name(fields.name)
    with store.write() as unit:
        session = unit.session
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
    with store.write() as unit:
        session = unit.session
        agent = resolve(session, ref)
        if get_default_id(session) == agent.id:
            session.execute(delete(Setting).where(col(Setting.key) == default_agent_key()))
        # its sessions and messages go (ON DELETE CASCADE); its cost rows stay, agent_id set to NULL
        session.execute(delete(Agent).where(col(Agent.id) == agent.id))
    return agent


LIKE_ESCAPE = "\\"


def contains_pattern(words: str) -> str:
    """A LIKE pattern (with `ESCAPE LIKE_ESCAPE`) matching text that contains `words` as typed: `%`
    and `_` in what a person typed are only ever characters, not wildcards."""
    for special in (LIKE_ESCAPE, "%", "_"):
        words = words.replace(special, LIKE_ESCAPE + special)
    return f"%{words}%"


def search(store: Store, query: str, limit: int | None = None) -> list[Agent]:
    words = query.strip()
    if not words:
        raise UsageError("the search query is empty")
    pattern = contains_pattern(words.lower())
    stmt = (
        select(Agent)
        .where(
            or_(
                col(Agent.name_key).like(pattern, escape=LIKE_ESCAPE),
                func.lower(col(Agent.description)).like(pattern, escape=LIKE_ESCAPE),
                func.lower(col(Agent.system_prompt)).like(pattern, escape=LIKE_ESCAPE),
            )
        )
        .order_by(col(Agent.name_key))
    )
    if limit:
        stmt = stmt.limit(limit)
    with store.read() as session:
        return list(session.execute(stmt).scalars())


def get_default_id(session: Session) -> int | None:
    setting = session.get(Setting, default_agent_key())
    return int(setting.value) if setting else None


def get_default(store: Store) -> Agent | None:
    with store.read() as session:
        agent_id = get_default_id(session)
        return session.get(Agent, agent_id) if agent_id is not None else None


def set_default(store: Store, ref: str) -> Agent:
    with store.write() as unit:
        session = unit.session
        agent = resolve(session, ref)
        setting = session.get(Setting, default_agent_key()) or Setting(key=default_agent_key(), value="")
        setting.value = str(agent.id)
        session.add(setting)
    return agent


@dataclass
class LedgerFigures:
    """An agent's share of the cost ledger, summed over its cost_totals rows (one per model)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nd: int = 0
    unpriced_calls: int = 0


# past this many agents one query sums every agent's totals (a few rows per agent) rather than
# binding each id
_IN_LIST_LIMIT = 500


def ledger_figures(store: Store, found: list[Agent]) -> list[LedgerFigures]:
    """Each agent's tokens, cost and unpriced calls from the ledger's maintained totals, in the
    order given, read in one query for any number of agents (zeros for an agent with no cost)."""
    ids = [a.id for a in found if a.id is not None]
    figures = {agent_id: LedgerFigures() for agent_id in ids}
    if not ids:
        return [LedgerFigures() for _ in found]
    t: Any = CostTotal
    query = select(
        t.agent_key,
        func.sum(t.calls),
        func.sum(t.input_tokens),
        func.sum(t.output_tokens),
        func.sum(t.cost_nd),
        func.sum(t.unpriced_calls),
    ).group_by(t.agent_key)
    query = query.where(t.agent_key.in_(ids) if len(ids) <= _IN_LIST_LIMIT else t.agent_key != literal(0))
    with store.read() as session:
        for agent_key, *sums in session.execute(query).all():
            if agent_key in figures:
                figures[agent_key] = LedgerFigures(*(int(value or 0) for value in sums))
    return [figures[a.id] if a.id is not None else LedgerFigures() for a in found]


def stats(agent: Agent, ledger: LedgerFigures) -> dict[str, Any]:
    """The `stats` object: counts from what exists, money from the ledger (see the module's
    docstring). `total_cost` counts priced calls only; `unpriced_calls` says how many are not in it."""
    return {
        "sessions": agent.stat_sessions,
        "messages": agent.stat_messages,
        "input_tokens": ledger.input_tokens,
        "output_tokens": ledger.output_tokens,
        "total_cost": to_usd(ledger.cost_nd),
        "unpriced_calls": ledger.unpriced_calls,
        "avg_response_ms": round(agent.stat_response_ms / agent.stat_responses) if agent.stat_responses else None,
    }


def to_dict(agent: Agent, ledger: LedgerFigures) -> dict[str, Any]:
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
        "stats": stats(agent, ledger),
    }


def to_dicts(store: Store, found: list[Agent]) -> list[dict[str, Any]]:
    """Agent objects for many agents, their ledger figures read in one query."""
    return [to_dict(agent, figures) for agent, figures in zip(found, ledger_figures(store, found), strict=True)]
