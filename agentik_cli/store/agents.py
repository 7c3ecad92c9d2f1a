"""The agents table and the settings beside it: every statement about agents (services/agents.py
decides, this module speaks SQL).

A name is unique regardless of case by the unique index on `name_key`, not by a look before the
insert: two machines creating the same name at once both see it free, and only the constraint can
tell them apart. The loser's IntegrityError becomes the same usage error a taken name always gives."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import delete, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session as Session  # re-exported: services name the type, never import the ORM
from sqlmodel import col

from agentik_cli.errors import UsageError
from agentik_cli.records import agent_json
from agentik_cli.store import dialect
from agentik_cli.store.models import Agent, Budget, Cost, CostTotal, Setting
from agentik_cli.store.unit import Unit

DEFAULT_AGENT = "default_agent:"  # + the user's name: each user of a team store has a default of their own


def default_key(user: str) -> str:
    return DEFAULT_AGENT + user


@contextmanager
def _unique_name(name: str) -> Iterator[None]:
    """Turn the unique index's refusal of a taken name into the usage error (exit 2) it is."""
    try:
        yield
    except IntegrityError as exc:
        if "name_key" not in str(exc.orig):
            raise
        raise UsageError(f"an agent named '{name}' already exists") from None


def insert(unit: Unit, agent: Agent) -> Agent:
    """Add an agent; its id is set. A taken name (any case) is a UsageError."""
    session = unit.session
    with _unique_name(agent.name):
        session.add(agent)
        session.flush()
    assert agent.id is not None
    unit.emit("agent.created", agent_data(agent.id), agent.id)
    return agent


def save(unit: Unit, agent: Agent, *, renamed: bool = False) -> None:
    """Write an agent's changed fields. A new name must be free (the constraint says so), and the
    ledger reports under the agent's current name, so its cost rows and totals take it too."""
    session = unit.session
    with _unique_name(agent.name):
        session.add(agent)
        session.flush()
    if renamed:
        session.execute(update(Cost).where(col(Cost.agent_id) == agent.id).values(agent_name=agent.name))
        session.execute(update(CostTotal).where(col(CostTotal.agent_key) == agent.id).values(agent_name=agent.name))
    assert agent.id is not None
    unit.emit("agent.updated", agent_data(agent.id), agent.id)


def by_id(session: Session, agent_id: int, *, lock: bool = False) -> Agent | None:
    if not lock:
        return session.get(Agent, agent_id)
    # a row lock on PostgreSQL (SQLite's write transaction already holds the whole file): what is
    # read here is what the removal removes
    return session.execute(select(Agent).where(col(Agent.id) == agent_id).with_for_update()).scalar_one_or_none()


def by_name(session: Session, name: str) -> Agent | None:
    return session.execute(select(Agent).where(col(Agent.name_key) == name.strip().lower())).scalar_one_or_none()


def removed_agent_keys(session: Session, agent_id: int | None, name: str) -> list[int]:
    """Ids of removed agents still in the ledger's totals, by id (when given) or by name."""
    t: Any = CostTotal
    query = select(t.agent_key).distinct().where(t.agent_key > 0, t.agent_key.not_in(select(col(Agent.id))))
    if agent_id is not None:
        query = query.where(t.agent_key == agent_id)
    else:
        query = query.where(func.lower(t.agent_name) == name.strip().lower())
    return sorted(int(key) for key in session.execute(query).scalars())


def listing(session: Session, status: str | None, limit: int | None, sort: str) -> list[Agent]:
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
    else:
        query = query.order_by(col(Agent.name_key))
    if limit:
        query = query.limit(limit)
    return list(session.execute(query).scalars())


def first_agents(session: Session, count: int) -> list[Agent]:
    return list(session.execute(select(Agent).order_by(col(Agent.id)).limit(count)).scalars())


LIKE_ESCAPE = "\\"


def contains_pattern(words: str) -> str:
    """A LIKE pattern (with `ESCAPE LIKE_ESCAPE`) matching text that contains `words` as typed: `%`
    and `_` in what a person typed are only ever characters, not wildcards."""
    for special in (LIKE_ESCAPE, "%", "_"):
        words = words.replace(special, LIKE_ESCAPE + special)
    return f"%{words}%"


def search(session: Session, words: str, limit: int | None) -> list[Agent]:
    pattern = contains_pattern(words.lower())
    query = (
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
        query = query.limit(limit)
    return list(session.execute(query).scalars())


@dataclass(frozen=True)
class RemovedAgent:
    """What a removal took with it, counted inside its transaction."""

    agent: Agent
    sessions: int
    messages: int
    budgets: int = 0  # its budgets, removed with it


def remove(unit: Unit, agent_id: int) -> RemovedAgent | None:
    """Remove an agent: its sessions and messages go with it (ON DELETE CASCADE); its cost rows and
    totals stay (money spent stays spent), so no running total of the ledger moves. Every user's
    default that named it goes too."""
    session = unit.session
    agent = by_id(session, agent_id, lock=True)
    if agent is None:
        return None
    # its budgets go with it: a budget belongs to an agent by id, never to a later agent of its name
    gone: Any = session.execute(delete(Budget).where(col(Budget.scope_key) == agent_id))
    budgets = int(gone.rowcount or 0)
    removed = RemovedAgent(agent, agent.stat_sessions, agent.stat_messages, budgets)
    unit.emit("agent.removed", agent_now(session, agent_id), agent_id)
    session.execute(
        delete(Setting).where(
            col(Setting.key).startswith(DEFAULT_AGENT, autoescape=True), col(Setting.value) == str(agent_id)
        )
    )
    # its imported messages go with it (a cascade): their keys stay, so that an import brings none
    # back (store/imports.py and its tables imported here only: every chat reads agents)
    from agentik_cli.store import imports
    from agentik_cli.store.ledger import MESSAGES

    imports.remember_removed(session, MESSAGES.c.agent_id == agent_id)
    session.execute(delete(Agent).where(col(Agent.id) == agent_id))
    return removed


# ---- the default agent, one per user ----


def default_id(session: Session, user: str) -> int | None:
    setting = session.get(Setting, default_key(user))
    return int(setting.value) if setting else None


def set_default(unit: Unit, agent_id: int) -> None:
    """An upsert: two processes setting a user's default at once both succeed, the later one wins."""
    session = unit.session
    table: Any = cast(Any, Setting).__table__
    stmt = dialect.insert(session, table).values(key=default_key(unit.user), value=str(agent_id))
    session.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))


# ---- the ledger's figures for agents ----


@dataclass(frozen=True)
class LedgerFigures:
    """An agent's share of the cost ledger, summed over its cost_totals rows (one per model and user)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_nd: int = 0
    unpriced_calls: int = 0
    estimated_calls: int = 0
    over_limit_calls: int = 0


# past this many agents one query sums every agent's totals (a few rows per agent) rather than
# binding each id
_IN_LIST_LIMIT = 500


def ledger_figures(session: Session, ids: list[int]) -> dict[int, LedgerFigures]:
    """The figures of these agents (those with no cost are left out), in one query."""
    if not ids:
        return {}
    t: Any = CostTotal
    query = select(
        t.agent_key,
        func.sum(t.calls),
        func.sum(t.input_tokens),
        func.sum(t.output_tokens),
        func.sum(t.cost_nd),
        func.sum(t.unpriced_calls),
        func.sum(t.estimated_calls),
        func.sum(t.over_limit_calls),
    ).group_by(t.agent_key)
    query = query.where(t.agent_key.in_(ids) if len(ids) <= _IN_LIST_LIMIT else t.agent_key != literal(0))
    wanted = set(ids)
    return {
        int(agent_key): LedgerFigures(*(int(value or 0) for value in sums))
        for agent_key, *sums in session.execute(query).all()
        if agent_key in wanted
    }


# ---- what the agents' events carry: the agent as `--json` gives it ----


def agent_data(agent_id: int) -> Callable[[Session], dict[str, Any]]:
    """The agent as the unit that emits its event ends (Unit.emit)."""
    return lambda session: agent_now(session, agent_id)


def agent_now(session: Session, agent_id: int) -> dict[str, Any]:
    agent = by_id(session, agent_id)
    assert agent is not None
    return agent_json(agent, ledger_figures(session, [agent_id]).get(agent_id, LedgerFigures()))
