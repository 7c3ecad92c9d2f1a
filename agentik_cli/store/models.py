"""The tables. Every field and index of the seed backend (agents, conversations, costs), plus what a
CLI needs: a sessions table with running totals, cache tokens and unit prices on each cost row, and
settings. Money is integer nano-dollars (1e-9 USD) so sums are exact; prices are nano-dollars per
million tokens. Every datetime is UTC-aware."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Column, ForeignKey, Index, Integer, false, text, true
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateIndex
from sqlmodel import Field, SQLModel

from agentik_cli.store.dialect import COUNT
from agentik_cli.timeutil import now_utc


def utcnow() -> datetime:
    """The environment's clock (agentik_cli/environment.py), as every other time agentik writes: a
    default taken from the system clock would put a frozen test's rows, or an injected clock's, at
    another time than the rest (issue 21)."""
    return now_utc()


def json_list() -> Column:
    return Column(JSON, nullable=False, server_default=text("'[]'"))


def partial(name: str, *columns: str, where: str) -> Index:
    """An index of only the rows `where` holds, on SQLite and on PostgreSQL. PostgreSQL's clause is
    kept in the index's `info` and written by `_create_partial`, not given as `postgresql_where`:
    naming that option makes SQLAlchemy import PostgreSQL's dialect (and asyncpg's) as this module
    loads, some 30 ms of every command on a SQLite store."""
    return Index(name, *columns, sqlite_where=text(where), info={"postgresql_where": where})


@compiles(CreateIndex, "postgresql")
def _create_partial(create: CreateIndex, compiler: Any, **kw: Any) -> str:
    sql: str = compiler.visit_create_index(create, **kw)
    where = create.element.info.get("postgresql_where")
    return f"{sql} WHERE {where}" if where else sql


def _by_origin(table: str) -> Index:
    """The rows copied from one store, by their id there (`db copy` looks a copied row up by it);
    partial, so that rows written here cost no index upkeep."""
    return partial(f"ix_{table}_by_origin", "origin_store", "origin_id", where="origin_store IS NOT NULL")


class Agent(SQLModel, table=True):
    __tablename__ = "agents"
    __table_args__ = (
        Index("ix_agents_by_status", "status"),
        Index("ix_agents_by_created", "created_at"),
        Index("ix_agents_by_last_active", "last_active_at"),
        _by_origin("agents"),
        # ids are never reused (SQLite would hand a deleted row's id to the next row)
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str
    # lower-cased name: names are unique regardless of case
    name_key: str = Field(unique=True)
    description: str = ""
    system_prompt: str = ""
    model: str
    provider: str
    temperature: float | None = None
    max_tokens: int | None = Field(default=None, sa_type=COUNT)
    channels: list[str] = Field(default_factory=list, sa_type=JSON)
    skills: list[str] = Field(default_factory=list, sa_type=JSON)
    status: str = "active"
    base_url: str | None = None
    api_key_env: str | None = None
    # the rules of its skills: folders `files` reads, hosts `fetch` may reach although private,
    # commands `shell` may run and may not
    allow_dirs: list[str] = Field(default_factory=list, sa_column=json_list())
    allow_hosts: list[str] = Field(default_factory=list, sa_column=json_list())
    allow_commands: list[str] = Field(default_factory=list, sa_column=json_list())
    deny_commands: list[str] = Field(default_factory=list, sa_column=json_list())
    # whether its commands (shell, command skills, MCP servers) run in the sandbox: off only by saying so
    sandbox: bool = Field(default=True, sa_column_kwargs={"server_default": true()})
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    last_active_at: datetime | None = None
    # Running counts of what exists (sessions, messages), moved by the store in the transaction that
    # adds or removes them. Tokens and cost are not kept here: they are the agent's rows of
    # cost_totals, the ledger's own sums, so they stay when a session goes and drop only when
    # ledger rows are cleaned up.
    stat_sessions: int = Field(default=0, sa_type=COUNT)
    stat_messages: int = Field(default=0, sa_type=COUNT)
    stat_response_ms: int = Field(default=0, sa_type=BigInteger)
    stat_responses: int = Field(default=0, sa_type=COUNT)
    # where a copied row was first written (`db copy`): that store's `store_id` and the row's id
    # there; None on a row written in this store
    origin_store: str | None = None
    origin_id: int | None = None


class ChatSession(SQLModel, table=True):
    __tablename__ = "sessions"
    __table_args__ = (
        Index("ix_sessions_by_agent_and_last_message", "agent_id", "last_message_at"),
        Index("ix_sessions_by_last_message", "last_message_at"),
        Index("ix_sessions_by_channel", "channel", "last_message_at"),
        _by_origin("sessions"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(sa_column=Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False))
    title: str = ""
    channel: str = "cli"
    started_at: datetime = Field(default_factory=utcnow)
    last_message_at: datetime = Field(default_factory=utcnow)
    message_count: int = Field(default=0, sa_type=COUNT)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_nd: int = Field(default=0, sa_type=BigInteger)
    unpriced_calls: int = Field(default=0, sa_type=COUNT)
    origin_store: str | None = None  # where it was first written: as on agents
    origin_id: int | None = None


class Message(SQLModel, table=True):
    """The seed's conversations table: one row per message."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_by_agent", "agent_id"),
        Index("ix_messages_by_timestamp", "timestamp"),
        Index("ix_messages_by_session", "session_id", "id"),
        Index("ix_messages_by_agent_and_session", "agent_id", "session_id"),
        Index("ix_messages_by_channel", "channel"),
        _by_origin("messages"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int = Field(sa_column=Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False))
    session_id: int = Field(sa_column=Column(Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False))
    channel: str = "cli"
    role: str
    content: str = ""
    timestamp: datetime = Field(default_factory=utcnow)
    model: str | None = None
    input_tokens: int | None = Field(default=None, sa_type=COUNT)
    output_tokens: int | None = Field(default=None, sa_type=COUNT)
    tokens_used: int | None = Field(default=None, sa_type=COUNT)
    cost_nd: int | None = Field(default=None, sa_type=BigInteger)
    response_ms: int | None = Field(default=None, sa_type=COUNT)
    error: str | None = None
    # interrupted replies are kept as the user saw them; they are re-sent unless empty
    interrupted: bool = False
    attachments: list[dict] = Field(default_factory=list, sa_type=JSON)
    skills_used: list[str] = Field(default_factory=list, sa_type=JSON)
    # who wrote it (AGENTIK_USER, else the login name): on a team store, several people share agents
    user_name: str = Field(default="", sa_column_kwargs={"server_default": ""})
    # an assistant message's parts in order (reasoning, text, tool calls), as values.Part.to_json;
    # null for a message that is its content alone
    parts: list[dict] | None = Field(default=None, sa_type=JSON)
    # `sessions redact` rewrote some of its text
    redacted: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # an imported message's key in its source (`costs import --from`): imported once
    import_key: str | None = Field(default=None, unique=True)
    origin_store: str | None = None  # where it was first written: as on agents
    origin_id: int | None = None


class ToolCallRecord(SQLModel, table=True):
    """One tool call an assistant message asked for: the call, the decision on it, what came of it."""

    __tablename__ = "tool_calls"
    __table_args__ = (
        Index("ix_tool_calls_by_message", "message_id", "position"),
        Index("ix_tool_calls_by_session", "session_id"),
        Index("ix_tool_calls_by_agent_and_time", "agent_id", "started_at"),
        _by_origin("tool_calls"),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(sa_column=Column(Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False))
    session_id: int = Field(sa_column=Column(Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False))
    agent_id: int = Field(sa_column=Column(Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False))
    call_id: str
    position: int
    skill: str
    tool: str
    arguments: dict = Field(default_factory=dict, sa_type=JSON)
    decision: str
    status: str
    duration_ms: int = Field(default=0, sa_type=COUNT)
    output: str = ""
    truncated: bool = False
    error: str | None = None
    started_at: datetime = Field(default_factory=utcnow)
    user_name: str = ""
    origin_store: str | None = None  # where it was first written: as on agents
    origin_id: int | None = None


class Cost(SQLModel, table=True):
    """The cost ledger: one row per provider call (or recorded/imported usage). Rows outlive the
    agent and session they belong to; agent_name keeps them reporting under the agent's name."""

    __tablename__ = "costs"
    __table_args__ = (
        Index("ix_costs_by_agent", "agent_id"),
        Index("ix_costs_by_timestamp", "timestamp"),
        Index("ix_costs_by_model", "model"),
        Index("ix_costs_by_provider", "provider"),
        Index("ix_costs_by_agent_and_timestamp", "agent_id", "timestamp"),
        Index("ix_costs_by_user_and_timestamp", "user_name", "timestamp"),
        # without these, deleting a session would scan the ledger once per message (SET NULL);
        # partial, so that usage recorded or imported without a session costs no index upkeep
        partial("ix_costs_by_session", "session_id", where="session_id IS NOT NULL"),
        partial("ix_costs_by_conversation", "conversation_id", where="conversation_id IS NOT NULL"),
        _by_origin("costs"),
        Index("ux_costs_call_key", "call_key", unique=True),
        {"sqlite_autoincrement": True},
    )

    id: int | None = Field(default=None, primary_key=True)
    # no foreign key: a removed agent's rows keep its id (ids are never reused), so its spend stays
    # apart from every other agent's and `--agent` still finds it
    agent_id: int | None = None
    agent_name: str | None = None
    session_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True)
    )
    conversation_id: int | None = Field(
        default=None, sa_column=Column(Integer, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True)
    )
    model: str
    provider: str
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_read_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_write_tokens: int = Field(default=0, sa_type=BigInteger)
    total_tokens: int = Field(default=0, sa_type=BigInteger)
    # null when the model has no known price: unpriced is never counted as $0
    input_cost_nd: int | None = Field(default=None, sa_type=BigInteger)
    output_cost_nd: int | None = Field(default=None, sa_type=BigInteger)
    total_cost_nd: int | None = Field(default=None, sa_type=BigInteger)
    price_input_nd: int | None = Field(default=None, sa_type=BigInteger)
    price_output_nd: int | None = Field(default=None, sa_type=BigInteger)
    price_cache_read_nd: int | None = Field(default=None, sa_type=BigInteger)
    price_cache_write_nd: int | None = Field(default=None, sa_type=BigInteger)
    timestamp: datetime = Field(default_factory=utcnow)
    response_ms: int | None = Field(default=None, sa_type=COUNT)
    channel: str | None = None
    endpoint: str | None = None
    # the provider's usage never arrived (a cut-short call): the tokens are agentik's own count
    # (a server default only, so that rows written without it, as an import's are, need no value)
    estimated: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # the key of the chat call's journal (services/journal.py): a call is stored once, whether by
    # its own process or, after that process died, from the journal; null for other rows
    call_key: str | None = None
    # the provider reported more than the call's worst case (services/chat/turn.py `over_limit`): the
    # row holds what it reported, which is what it bills (never set on imported or recorded usage)
    over_limit: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default=false()))
    # who made the call (AGENTIK_USER, else the login name; an import row may say)
    user_name: str = Field(default="", sa_column_kwargs={"server_default": ""})
    origin_store: str | None = None  # where it was first written: as on agents
    origin_id: int | None = None
    # what the tool an imported call came from said it cost (Claude Code's costUSD), beside agentik's
    source_cost_nd: int | None = Field(default=None, sa_type=BigInteger)


class CostSums(SQLModel):
    """The sums kept by the maintained aggregates below (priced calls' cost; unpriced counted)."""

    calls: int = Field(default=0, sa_type=BigInteger)
    input_tokens: int = Field(default=0, sa_type=BigInteger)
    output_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_read_tokens: int = Field(default=0, sa_type=BigInteger)
    cache_write_tokens: int = Field(default=0, sa_type=BigInteger)
    cost_nd: int = Field(default=0, sa_type=BigInteger)
    unpriced_calls: int = Field(default=0, sa_type=BigInteger)
    estimated_calls: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": text("0")})
    over_limit_calls: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": text("0")})


# The sums kept by cost_totals and cost_buckets, in their column order (the running totals' rule in
# store/ledger.py moves them all; the reports read them).
SUM_COLUMNS: tuple[str, ...] = tuple(CostSums.model_fields)


class CostTotal(CostSums, table=True):
    """Running totals of the ledger per agent, model and user, moved in the transaction that writes (or
    removes) cost rows: `costs summary` and the unfiltered by-agent/model/provider reports read these
    few hundred rows instead of a million. agent_key is the agent's id, or 0 for usage of no agent
    (a key column cannot be NULL and still conflict in an upsert)."""

    __tablename__ = "cost_totals"

    agent_key: int = Field(primary_key=True)
    model: str = Field(primary_key=True)
    provider: str = Field(primary_key=True)
    user_name: str = Field(primary_key=True)
    agent_name: str | None = None


class CostBucket(CostSums, table=True):
    """The ledger summed per 15 minutes (UTC). Every time zone's midnight falls on a quarter hour, so
    today, this month and local day, week and month buckets of `costs history` are sums of these
    (35,040 rows a year at most) rather than scans of the ledger."""

    __tablename__ = "cost_buckets"

    start: datetime = Field(primary_key=True)


class Setting(SQLModel, table=True):
    __tablename__ = "settings"

    key: str = Field(primary_key=True)
    value: str


class ReceivedOrigins(SQLModel, table=True):
    """The origin ids of one table this store has received from one origin store by `db copy`, as
    ranges (first_id..last_id, both in). Kept when the rows go (removed, forgotten), so that a copy
    never sends them again; ranges, because a copy receives runs of consecutive ids."""

    __tablename__ = "received_origins"

    origin_store: str = Field(primary_key=True)
    table_name: str = Field(primary_key=True)
    first_id: int = Field(primary_key=True)
    last_id: int


class PriceOverride(SQLModel, table=True):
    """A price set with `agentik prices set`, in the store so that everyone on a team store prices
    calls alike (nano-dollars per million tokens, as on a ledger row)."""

    __tablename__ = "price_overrides"

    provider: str = Field(primary_key=True)
    # lower-cased model: a model's price is found whatever the case it was asked in
    model_key: str = Field(primary_key=True)
    model: str
    input_nd: int = Field(sa_type=BigInteger)
    output_nd: int = Field(sa_type=BigInteger)
    cache_read_nd: int | None = Field(default=None, sa_type=BigInteger)
    cache_write_nd: int | None = Field(default=None, sa_type=BigInteger)
    set_by: str = ""
    updated_at: datetime = Field(default_factory=utcnow)


class Budget(SQLModel, table=True):
    """A spending limit over a day or a month (local time), over everything (scope_key 0) or one
    agent (its id), in nano-dollars."""

    __tablename__ = "budgets"

    scope_key: int = Field(primary_key=True)
    period: str = Field(primary_key=True)  # "day" or "month"
    agent_name: str | None = None
    limit_nd: int = Field(sa_type=BigInteger)
    warn_percent: int = 80
    allow_unpriced: bool = False
    set_by: str = ""
    updated_at: datetime = Field(default_factory=utcnow)


class Reservation(SQLModel, table=True):
    """The worst case of a call in flight, held against the budgets until the call's cost is
    recorded (or it never went out). A reservation left by a process that died expires."""

    __tablename__ = "reservations"
    __table_args__ = (Index("ix_reservations_by_created", "created_at"), {"sqlite_autoincrement": True})

    id: int | None = Field(default=None, primary_key=True)
    agent_id: int | None = None
    amount_nd: int = Field(sa_type=BigInteger)
    created_at: datetime = Field(default_factory=utcnow)
    user_name: str = ""
    # the process that holds it (agentik_cli/owner.py), and when it last said it still runs:
    # null for one made by an agentik from before processes were named, which expires by age
    host: str | None = None
    pid: int | None = None
    started: str | None = None
    heartbeat_at: datetime | None = None
