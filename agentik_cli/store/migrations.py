"""Append-only, named migrations, applied in order on open: MIGRATIONS is the one list.

Each migration describes the schema as it was when it was written, so the tables are frozen here
rather than taken from models.py: a later change to the models must arrive as a new migration.
tests/store/test_migrations.py checks that the migrated schema equals the models' schema."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    false,
    text,
)
from sqlalchemy.engine import Connection

from agentik_cli import environment
from agentik_cli.store.dialect import COUNT, SEARCH_COLUMN, SEARCH_CONFIG, is_postgres, quarter_hour_sql
from agentik_cli.timeutil import now_utc


def _tracking_table(metadata: MetaData) -> Table:
    return Table(
        "agentik_migrations",
        metadata,
        Column("name", String, primary_key=True),
        Column("applied_at", DateTime(timezone=True), nullable=False),
    )


def _money(name: str, nullable: bool = True) -> Column:
    return Column(name, BigInteger, nullable=nullable)


def _count(name: str, nullable: bool = False) -> Column:
    return Column(name, COUNT, nullable=nullable)


def m0001_initial(conn: Connection) -> None:
    md = MetaData()
    Table(
        "agents",
        md,
        Column("id", Integer, primary_key=True),
        Column("name", String, nullable=False),
        Column("name_key", String, nullable=False, unique=True),
        Column("description", String, nullable=False),
        Column("system_prompt", String, nullable=False),
        Column("model", String, nullable=False),
        Column("provider", String, nullable=False),
        Column("temperature", Float, nullable=True),
        _count("max_tokens", True),
        Column("channels", JSON, nullable=False),
        Column("skills", JSON, nullable=False),
        Column("status", String, nullable=False),
        Column("base_url", String, nullable=True),
        Column("api_key_env", String, nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
        Column("last_active_at", DateTime(timezone=True), nullable=True),
        _count("stat_sessions", False),
        _count("stat_messages", False),
        _money("stat_input_tokens", False),
        _money("stat_output_tokens", False),
        _money("stat_cost_nd", False),
        _money("stat_response_ms", False),
        _count("stat_responses", False),
        Index("ix_agents_by_status", "status"),
        Index("ix_agents_by_created", "created_at"),
        Index("ix_agents_by_last_active", "last_active_at"),
    )
    Table(
        "sessions",
        md,
        Column("id", Integer, primary_key=True),
        Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        Column("title", String, nullable=False),
        Column("channel", String, nullable=False),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("last_message_at", DateTime(timezone=True), nullable=False),
        _count("message_count", False),
        _money("input_tokens", False),
        _money("output_tokens", False),
        _money("cost_nd", False),
        _count("unpriced_calls", False),
        Index("ix_sessions_by_agent_and_last_message", "agent_id", "last_message_at"),
        Index("ix_sessions_by_last_message", "last_message_at"),
        Index("ix_sessions_by_channel", "channel", "last_message_at"),
    )
    Table(
        "messages",
        md,
        Column("id", Integer, primary_key=True),
        Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        Column("channel", String, nullable=False),
        Column("role", String, nullable=False),
        Column("content", String, nullable=False),
        Column("timestamp", DateTime(timezone=True), nullable=False),
        Column("model", String, nullable=True),
        _count("input_tokens", True),
        _count("output_tokens", True),
        _count("tokens_used", True),
        _money("cost_nd"),
        _count("response_ms", True),
        Column("error", String, nullable=True),
        Column("interrupted", Boolean, nullable=False),
        Column("attachments", JSON, nullable=False),
        Column("skills_used", JSON, nullable=False),
        Index("ix_messages_by_agent", "agent_id"),
        Index("ix_messages_by_timestamp", "timestamp"),
        Index("ix_messages_by_session", "session_id", "id"),
        Index("ix_messages_by_agent_and_session", "agent_id", "session_id"),
        Index("ix_messages_by_channel", "channel"),
    )
    Table(
        "costs",
        md,
        Column("id", Integer, primary_key=True),
        Column("agent_id", Integer, ForeignKey("agents.id", ondelete="SET NULL"), nullable=True),
        Column("agent_name", String, nullable=True),
        Column("session_id", Integer, ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True),
        Column("conversation_id", Integer, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
        Column("model", String, nullable=False),
        Column("provider", String, nullable=False),
        _money("input_tokens", False),
        _money("output_tokens", False),
        _money("cache_read_tokens", False),
        _money("cache_write_tokens", False),
        _money("total_tokens", False),
        _money("input_cost_nd"),
        _money("output_cost_nd"),
        _money("total_cost_nd"),
        _money("price_input_nd"),
        _money("price_output_nd"),
        _money("price_cache_read_nd"),
        _money("price_cache_write_nd"),
        Column("timestamp", DateTime(timezone=True), nullable=False),
        _count("response_ms", True),
        Column("channel", String, nullable=True),
        Column("endpoint", String, nullable=True),
        Index("ix_costs_by_agent", "agent_id"),
        Index("ix_costs_by_timestamp", "timestamp"),
        Index("ix_costs_by_model", "model"),
        Index("ix_costs_by_provider", "provider"),
        Index("ix_costs_by_agent_and_timestamp", "agent_id", "timestamp"),
        Index(
            "ix_costs_by_session",
            "session_id",
            sqlite_where=text("session_id IS NOT NULL"),
            postgresql_where=text("session_id IS NOT NULL"),
        ),
        Index(
            "ix_costs_by_conversation",
            "conversation_id",
            sqlite_where=text("conversation_id IS NOT NULL"),
            postgresql_where=text("conversation_id IS NOT NULL"),
        ),
    )
    md.create_all(conn)


def m0002_settings(conn: Connection) -> None:
    """Key-value settings kept with the data (the default agent), so that two databases chosen with
    --db each keep their own."""
    md = MetaData()
    Table(
        "settings",
        md,
        Column("key", String, primary_key=True),
        Column("value", String, nullable=False),
    )
    md.create_all(conn)


def _sums(md: MetaData, name: str, *keys: Column) -> Table:
    return Table(
        name,
        md,
        *keys,
        *(
            Column(column, BigInteger, nullable=False)
            for column in (
                "calls",
                "input_tokens",
                "output_tokens",
                "cache_read_tokens",
                "cache_write_tokens",
                "cost_nd",
                "unpriced_calls",
            )
        ),
    )


# The sums of 0003's aggregate tables, in their column order (frozen: later sums are added by later
# migrations).
SUMS_SQL_0003 = (
    "count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
    "coalesce(sum(total_cost_nd), 0), sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END)"
)


def m0003_reports(conn: Connection) -> None:
    """Maintained aggregates for the cost reports, filled from the ledger as it stands; and, on
    SQLite, a full-text index of message content kept in step by triggers."""
    md = MetaData()
    _sums(
        md,
        "cost_totals",
        Column("agent_key", Integer, primary_key=True),
        Column("model", String, primary_key=True),
        Column("provider", String, primary_key=True),
        Column("agent_name", String, nullable=True),
    )
    _sums(md, "cost_buckets", Column("start", DateTime(timezone=True), primary_key=True))
    md.create_all(conn)
    conn.execute(
        text(
            "INSERT INTO cost_totals (agent_key, model, provider, agent_name, calls, input_tokens, output_tokens, "
            f"cache_read_tokens, cache_write_tokens, cost_nd, unpriced_calls) SELECT coalesce(agent_id, 0), model, "
            f"provider, max(agent_name), {SUMS_SQL_0003} FROM costs GROUP BY coalesce(agent_id, 0), model, provider"
        )
    )
    quarter = quarter_hour_sql(conn)
    conn.exec_driver_sql(
        "INSERT INTO cost_buckets (start, calls, input_tokens, output_tokens, cache_read_tokens, "
        f"cache_write_tokens, cost_nd, unpriced_calls) SELECT {quarter}, {SUMS_SQL_0003} FROM costs "
        f"GROUP BY {quarter}"
    )
    if is_postgres(conn):
        # A generated column rather than a trigger: PostgreSQL keeps it in step on every insert and
        # every change of content (a redaction too), COPY fills it, and nothing can forget it.
        conn.exec_driver_sql(
            f"ALTER TABLE messages ADD COLUMN {SEARCH_COLUMN} tsvector "
            f"GENERATED ALWAYS AS (to_tsvector('{SEARCH_CONFIG}', content)) STORED"
        )
        conn.exec_driver_sql(f"CREATE INDEX ix_messages_search ON messages USING gin ({SEARCH_COLUMN})")
        return
    for statement in (
        "CREATE VIRTUAL TABLE messages_fts USING fts5(content, content='messages', content_rowid='id')",
        *_FTS_TRIGGERS,
        "INSERT INTO messages_fts (messages_fts) VALUES ('rebuild')",
    ):
        conn.exec_driver_sql(statement)


# The full-text triggers of 0003; a rebuilt messages table needs them again.
_FTS_TRIGGERS = (
    "CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN "
    "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
    "CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content); END",
    "CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN "
    "INSERT INTO messages_fts (messages_fts, rowid, content) VALUES ('delete', old.id, old.content); "
    "INSERT INTO messages_fts (rowid, content) VALUES (new.id, new.content); END",
)


def _tables_0004(md: MetaData) -> list[Table]:
    """agents, sessions, messages and costs as 0004 leaves them: AUTOINCREMENT ids; agents without
    the token and cost totals (cost_totals holds them); costs with `estimated`, and an agent_id that
    outlives its agent (no foreign key)."""
    return [
        Table(
            "agents",
            md,
            Column("id", Integer, primary_key=True),
            Column("name", String, nullable=False),
            Column("name_key", String, nullable=False, unique=True),
            Column("description", String, nullable=False),
            Column("system_prompt", String, nullable=False),
            Column("model", String, nullable=False),
            Column("provider", String, nullable=False),
            Column("temperature", Float, nullable=True),
            _count("max_tokens", True),
            Column("channels", JSON, nullable=False),
            Column("skills", JSON, nullable=False),
            Column("status", String, nullable=False),
            Column("base_url", String, nullable=True),
            Column("api_key_env", String, nullable=True),
            Column("created_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("last_active_at", DateTime(timezone=True), nullable=True),
            _count("stat_sessions", False),
            _count("stat_messages", False),
            _money("stat_response_ms", False),
            _count("stat_responses", False),
            Index("ix_agents_by_status", "status"),
            Index("ix_agents_by_created", "created_at"),
            Index("ix_agents_by_last_active", "last_active_at"),
            sqlite_autoincrement=True,
        ),
        Table(
            "sessions",
            md,
            Column("id", Integer, primary_key=True),
            Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
            Column("title", String, nullable=False),
            Column("channel", String, nullable=False),
            Column("started_at", DateTime(timezone=True), nullable=False),
            Column("last_message_at", DateTime(timezone=True), nullable=False),
            _count("message_count", False),
            _money("input_tokens", False),
            _money("output_tokens", False),
            _money("cost_nd", False),
            _count("unpriced_calls", False),
            Index("ix_sessions_by_agent_and_last_message", "agent_id", "last_message_at"),
            Index("ix_sessions_by_last_message", "last_message_at"),
            Index("ix_sessions_by_channel", "channel", "last_message_at"),
            sqlite_autoincrement=True,
        ),
        Table(
            "messages",
            md,
            Column("id", Integer, primary_key=True),
            Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
            Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
            Column("channel", String, nullable=False),
            Column("role", String, nullable=False),
            Column("content", String, nullable=False),
            Column("timestamp", DateTime(timezone=True), nullable=False),
            Column("model", String, nullable=True),
            _count("input_tokens", True),
            _count("output_tokens", True),
            _count("tokens_used", True),
            _money("cost_nd"),
            _count("response_ms", True),
            Column("error", String, nullable=True),
            Column("interrupted", Boolean, nullable=False),
            Column("attachments", JSON, nullable=False),
            Column("skills_used", JSON, nullable=False),
            Index("ix_messages_by_agent", "agent_id"),
            Index("ix_messages_by_timestamp", "timestamp"),
            Index("ix_messages_by_session", "session_id", "id"),
            Index("ix_messages_by_agent_and_session", "agent_id", "session_id"),
            Index("ix_messages_by_channel", "channel"),
            sqlite_autoincrement=True,
        ),
        Table(
            "costs",
            md,
            Column("id", Integer, primary_key=True),
            Column("agent_id", Integer, nullable=True),
            Column("agent_name", String, nullable=True),
            Column("session_id", Integer, ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True),
            Column("conversation_id", Integer, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
            Column("model", String, nullable=False),
            Column("provider", String, nullable=False),
            _money("input_tokens", False),
            _money("output_tokens", False),
            _money("cache_read_tokens", False),
            _money("cache_write_tokens", False),
            _money("total_tokens", False),
            _money("input_cost_nd"),
            _money("output_cost_nd"),
            _money("total_cost_nd"),
            _money("price_input_nd"),
            _money("price_output_nd"),
            _money("price_cache_read_nd"),
            _money("price_cache_write_nd"),
            Column("timestamp", DateTime(timezone=True), nullable=False),
            _count("response_ms", True),
            Column("channel", String, nullable=True),
            Column("endpoint", String, nullable=True),
            Column("estimated", Boolean, nullable=False, server_default=false()),
            Index("ix_costs_by_agent", "agent_id"),
            Index("ix_costs_by_timestamp", "timestamp"),
            Index("ix_costs_by_model", "model"),
            Index("ix_costs_by_provider", "provider"),
            Index("ix_costs_by_agent_and_timestamp", "agent_id", "timestamp"),
            Index(
                "ix_costs_by_session",
                "session_id",
                sqlite_where=text("session_id IS NOT NULL"),
                postgresql_where=text("session_id IS NOT NULL"),
            ),
            Index(
                "ix_costs_by_conversation",
                "conversation_id",
                sqlite_where=text("conversation_id IS NOT NULL"),
                postgresql_where=text("conversation_id IS NOT NULL"),
            ),
            sqlite_autoincrement=True,
        ),
    ]


def m0004_ids_never_reused(conn: Connection) -> None:
    """Ids are never handed out twice: without AUTOINCREMENT SQLite gives a new row the id of the
    last deleted one, so a removed agent's spend showed under the next new agent and a session id
    kept by a script could land in another conversation. SQLite cannot add AUTOINCREMENT to a
    table, so the four tables are rebuilt (ids kept; foreign keys are off for it, see
    Store.migrate), and each counter starts above every id the store still mentions. Also: a cost
    row keeps its agent's id after the agent is removed, an `estimated` flag on cost rows, an
    `estimated_calls` sum beside `unpriced_calls`, and the agents' token and cost totals dropped
    (they are the agent's rows of cost_totals)."""
    # Legacy rows whose agent was removed lost its id (ON DELETE SET NULL); where cost_totals names
    # exactly one removed agent by that name, give the rows its id back.
    conn.exec_driver_sql(
        "UPDATE costs SET agent_id = (SELECT min(t.agent_key) FROM cost_totals t WHERE t.agent_name = costs.agent_name "
        "AND t.agent_key > 0 AND t.agent_key NOT IN (SELECT id FROM agents)) "
        "WHERE agent_id IS NULL AND agent_name IS NOT NULL AND (SELECT count(DISTINCT t.agent_key) FROM cost_totals t "
        "WHERE t.agent_name = costs.agent_name AND t.agent_key > 0 AND t.agent_key NOT IN (SELECT id FROM agents)) = 1"
    )
    if is_postgres(conn):
        _m0004_postgres(conn)
        return
    names = ("agents", "sessions", "messages", "costs")
    # legacy_alter_table: renaming must not rewrite the other tables' foreign keys to the old copies
    conn.exec_driver_sql("PRAGMA legacy_alter_table = ON")
    for name in names:
        conn.exec_driver_sql(f"ALTER TABLE {name} RENAME TO {name}_0003")
        for (index,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (f"{name}_0003",),
        ).all():
            conn.exec_driver_sql(f"DROP INDEX {index}")
    conn.exec_driver_sql("PRAGMA legacy_alter_table = OFF")
    md = MetaData()
    tables = _tables_0004(md)
    md.create_all(conn)
    for table in tables:
        columns = ", ".join(c.name for c in table.columns if c.name != "estimated")
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {table.name}_0003")
    for name in reversed(names):
        conn.exec_driver_sql(f"DROP TABLE {name}_0003")
    for statement in _FTS_TRIGGERS:
        conn.exec_driver_sql(statement)
    for name in ("cost_totals", "cost_buckets"):
        conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0")
    # every place an id of each table is still mentioned
    mentions = {
        "agents": (("agents", "id"), ("cost_totals", "agent_key"), ("costs", "agent_id")),
        "sessions": (("sessions", "id"), ("costs", "session_id")),
        "messages": (("messages", "id"), ("costs", "conversation_id")),
        "costs": (("costs", "id"),),
    }
    conn.exec_driver_sql("DELETE FROM sqlite_sequence WHERE name IN ('agents', 'sessions', 'messages', 'costs')")
    for name, places in mentions.items():
        highest = max(conn.exec_driver_sql(f"SELECT max({col}) FROM {table}").scalar() or 0 for table, col in places)
        conn.exec_driver_sql("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, highest))


def _m0004_postgres(conn: Connection) -> None:
    """0004 on PostgreSQL: its sequences never hand out an id twice, so no table is rebuilt; the
    columns change in place."""
    for column in ("stat_input_tokens", "stat_output_tokens", "stat_cost_nd"):
        conn.exec_driver_sql(f"ALTER TABLE agents DROP COLUMN {column}")
    for (constraint,) in conn.exec_driver_sql(
        "SELECT c.conname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid "
        "AND a.attnum = ANY (c.conkey) WHERE c.contype = 'f' AND c.conrelid = 'costs'::regclass "
        "AND a.attname = 'agent_id'"
    ).all():
        conn.exec_driver_sql(f'ALTER TABLE costs DROP CONSTRAINT "{constraint}"')
    conn.exec_driver_sql("ALTER TABLE costs ADD COLUMN estimated BOOLEAN NOT NULL DEFAULT false")
    for name in ("cost_totals", "cost_buckets"):
        conn.exec_driver_sql(f"ALTER TABLE {name} ADD COLUMN estimated_calls BIGINT NOT NULL DEFAULT 0")


# The sums of cost_totals as 0005 leaves it, in its column order (frozen).
SUMS_SQL_0005 = (
    "count(*), sum(input_tokens), sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), "
    "coalesce(sum(total_cost_nd), 0), sum(CASE WHEN total_cost_nd IS NULL THEN 1 ELSE 0 END), "
    "sum(CASE WHEN estimated THEN 1 ELSE 0 END)"
)


def m0005_team_store(conn: Connection) -> None:
    """What a store shared by a team needs: who made each message and call (`user_name`; the rows
    already there are the migrating user's, the only one a local store has had), the running totals
    per user as well as per agent and model (cost_totals is rebuilt from the ledger, which it sums),
    price overrides in the store rather than in a file beside it, and the default agent per user."""
    user = environment.current().user
    for table in ("messages", "costs"):
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN user_name VARCHAR DEFAULT '' NOT NULL"))
        conn.execute(text(f"UPDATE {table} SET user_name = :user"), {"user": user})
    conn.execute(text("CREATE INDEX ix_costs_by_user_and_timestamp ON costs (user_name, timestamp)"))
    conn.execute(text("DROP TABLE cost_totals"))
    md = MetaData()
    _sums(
        md,
        "cost_totals",
        Column("agent_key", Integer, primary_key=True),
        Column("model", String, primary_key=True),
        Column("provider", String, primary_key=True),
        Column("user_name", String, primary_key=True),
        Column("agent_name", String, nullable=True),
        Column("estimated_calls", BigInteger, nullable=False, server_default=text("0")),
    )
    Table(
        "price_overrides",
        md,
        Column("provider", String, primary_key=True),
        Column("model_key", String, primary_key=True),
        Column("model", String, nullable=False),
        _money("input_nd", False),
        _money("output_nd", False),
        _money("cache_read_nd"),
        _money("cache_write_nd"),
        Column("set_by", String, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    md.create_all(conn)
    conn.execute(
        text(
            "INSERT INTO cost_totals (agent_key, model, provider, user_name, agent_name, calls, input_tokens, "
            "output_tokens, cache_read_tokens, cache_write_tokens, cost_nd, unpriced_calls, estimated_calls) "
            f"SELECT coalesce(agent_id, 0), model, provider, user_name, max(agent_name), {SUMS_SQL_0005} FROM costs "
            "GROUP BY coalesce(agent_id, 0), model, provider, user_name"
        )
    )
    conn.execute(text("UPDATE settings SET key = :key WHERE key = 'default_agent'"), {"key": f"default_agent:{user}"})


def m0006_skills(conn: Connection) -> None:
    """Skills: an agent's rules for them (the folders `files` reads, the hosts `fetch` may reach
    although private, the commands `shell` may and may not run), an assistant message's parts (its
    reasoning, text and tool calls in order, so a continued session re-sends them as the provider
    requires), and the log of every tool call with its decision, status and output."""
    for column in ("allow_dirs", "allow_hosts", "allow_commands", "deny_commands"):
        conn.execute(text(f"ALTER TABLE agents ADD COLUMN {column} JSON DEFAULT '[]' NOT NULL"))
    conn.execute(text("ALTER TABLE messages ADD COLUMN parts JSON"))
    md = MetaData()
    Table("agents", md, Column("id", Integer, primary_key=True))
    Table("sessions", md, Column("id", Integer, primary_key=True))
    Table("messages", md, Column("id", Integer, primary_key=True))
    Table(
        "tool_calls",
        md,
        Column("id", Integer, primary_key=True),
        Column("message_id", Integer, ForeignKey("messages.id", ondelete="CASCADE"), nullable=False),
        Column("session_id", Integer, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        Column("agent_id", Integer, ForeignKey("agents.id", ondelete="CASCADE"), nullable=False),
        Column("call_id", String, nullable=False),
        Column("position", Integer, nullable=False),
        Column("skill", String, nullable=False),
        Column("tool", String, nullable=False),
        Column("arguments", JSON, nullable=False),
        Column("decision", String, nullable=False),
        Column("status", String, nullable=False),
        _count("duration_ms", False),
        Column("output", String, nullable=False),
        Column("truncated", Boolean, nullable=False),
        Column("error", String, nullable=True),
        Column("started_at", DateTime(timezone=True), nullable=False),
        Column("user_name", String, nullable=False),
        Index("ix_tool_calls_by_message", "message_id", "position"),
        Index("ix_tool_calls_by_session", "session_id"),
        Index("ix_tool_calls_by_agent_and_time", "agent_id", "started_at"),
        sqlite_autoincrement=True,
    )
    md.tables["tool_calls"].create(conn)


def m0007_budgets(conn: Connection) -> None:
    """Budgets (a limit per day or month, over everything or one agent) and the reservations of
    calls in flight that are held against them."""
    md = MetaData()
    Table(
        "budgets",
        md,
        Column("scope_key", Integer, primary_key=True),
        Column("period", String, primary_key=True),
        Column("agent_name", String, nullable=True),
        _money("limit_nd", False),
        Column("warn_percent", Integer, nullable=False),
        Column("allow_unpriced", Boolean, nullable=False),
        Column("set_by", String, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    )
    Table(
        "reservations",
        md,
        Column("id", Integer, primary_key=True),
        Column("agent_id", Integer, nullable=True),
        _money("amount_nd", False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("user_name", String, nullable=False),
        Index("ix_reservations_by_created", "created_at"),
        sqlite_autoincrement=True,
    )
    md.create_all(conn)


def m0008_webhooks(conn: Connection) -> None:
    """Webhooks: the endpoints, the outbox of events (written in the transaction of the change each
    reports), one delivery per event and endpoint, and the log of every attempt."""
    md = MetaData()
    Table(
        "webhook_endpoints",
        md,
        Column("id", Integer, primary_key=True),
        Column("url", String, nullable=False),
        Column("agent_id", Integer, nullable=True),
        Column("agent_name", String, nullable=True),
        Column("events", JSON, nullable=False, server_default=text("'[]'")),
        Column("secret", String, nullable=False),
        Column("status", String, nullable=False),
        Column("failures", Integer, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("user_name", String, nullable=False),
        sqlite_autoincrement=True,
    )
    Table(
        "webhook_events",
        md,
        Column("id", Integer, primary_key=True),
        Column("uid", String, nullable=False, unique=True),
        Column("type", String, nullable=False),
        Column("subject", String, nullable=True),
        Column("body", String, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Index("ix_webhook_events_by_subject", "subject"),
        sqlite_autoincrement=True,
    )
    Table(
        "webhook_deliveries",
        md,
        Column("id", Integer, primary_key=True),
        Column("event_id", Integer, ForeignKey("webhook_events.id", ondelete="CASCADE"), nullable=False),
        Column("endpoint_id", Integer, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
        Column("state", String, nullable=False),
        Column("attempts", Integer, nullable=False),
        Column("next_at", DateTime(timezone=True), nullable=False),
        Column("claimed_until", DateTime(timezone=True), nullable=True),
        Column("delivered_at", DateTime(timezone=True), nullable=True),
        Index("ix_webhook_deliveries_due", "state", "next_at"),
        Index("ix_webhook_deliveries_by_endpoint", "endpoint_id", "state"),
        sqlite_autoincrement=True,
    )
    Table(
        "webhook_attempts",
        md,
        Column("id", Integer, primary_key=True),
        Column("delivery_id", Integer, ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False),
        Column("attempt", Integer, nullable=False),
        Column("status_code", Integer, nullable=True),
        Column("error", String, nullable=True),
        Column("answer", String, nullable=True),
        Column("delivered", Boolean, nullable=False),
        Column("at", DateTime(timezone=True), nullable=False),
        Index("ix_webhook_attempts_by_delivery", "delivery_id"),
        Index("ix_webhook_attempts_by_time", "at"),
        sqlite_autoincrement=True,
    )
    md.create_all(conn)


def m0009_redaction(conn: Connection) -> None:
    """A message whose text `sessions redact` rewrote says so (sessions show --json: redacted)."""
    conn.execute(text("ALTER TABLE messages ADD COLUMN redacted BOOLEAN DEFAULT FALSE NOT NULL"))


def m0010_sandbox(conn: Connection) -> None:
    """Whether an agent's commands run in the sandbox (on unless turned off for it)."""
    conn.execute(text("ALTER TABLE agents ADD COLUMN sandbox BOOLEAN DEFAULT TRUE NOT NULL"))


def m0011_webhook_internal(conn: Connection) -> None:
    """Whether a webhook may go to an internal address (loopback, private, link-local, ...) on a
    shared store, where one is refused unless added with --allow-internal (issue 20)."""
    conn.execute(text("ALTER TABLE webhook_endpoints ADD COLUMN allow_internal BOOLEAN DEFAULT FALSE NOT NULL"))


ORIGIN_TABLES = ("agents", "sessions", "messages", "costs", "tool_calls")


def m0012_origins(conn: Connection) -> None:
    """Where each row came from, for `db copy` (issue 21): a copied row keeps the id of the store
    it was first written in and its id there (a row written here has none: its origin is this
    store and its own id), so that a row never goes back to a store it came from; and, per origin
    store and table, the ranges of origin ids this store has received, which stay when the rows go
    (removed, forgotten), so that a copy does not send them again. Rows copied before this
    migration get their origin from the copy state an earlier agentik kept (`copy:<store id>`)."""
    import json

    for table in ORIGIN_TABLES:
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN origin_store VARCHAR"))
        conn.execute(text(f"ALTER TABLE {table} ADD COLUMN origin_id INTEGER"))
        conn.execute(
            text(
                f"CREATE INDEX ix_{table}_by_origin ON {table} (origin_store, origin_id) WHERE origin_store IS NOT NULL"
            )
        )
    md = MetaData()
    received = Table(
        "received_origins",
        md,
        Column("origin_store", String, primary_key=True),
        Column("table_name", String, primary_key=True),
        Column("first_id", Integer, primary_key=True),
        Column("last_id", Integer, nullable=False),
    )
    md.create_all(conn)
    states = conn.execute(text("SELECT key, value FROM settings WHERE key LIKE 'copy:%'")).all()
    for key, value in states:
        origin = key.removeprefix("copy:")
        state = json.loads(value)
        for table in ORIGIN_TABLES[1:]:
            ranges = state.get("ranges", {}).get(table, [])
            upto = int(state.get("copied", {}).get(table, 0))
            for i, (start, offset) in enumerate(ranges):
                end = int(ranges[i + 1][0]) - 1 if i + 1 < len(ranges) else upto
                if end < int(start):
                    continue
                params = {"s": origin, "o": int(offset), "a": int(start) + int(offset), "b": end + int(offset)}
                conn.execute(
                    text(
                        f"UPDATE {table} SET origin_store = :s, origin_id = id - :o "
                        "WHERE id BETWEEN :a AND :b AND origin_store IS NULL"
                    ),
                    params,
                )
                conn.execute(
                    received.insert().values(origin_store=origin, table_name=table, first_id=int(start), last_id=end)
                )


def m0013_over_limit(conn: Connection) -> None:
    """A cost row whose provider reported more than the call's worst case says so (`over_limit`,
    issue 21), and the running totals count them beside the estimated calls. No earlier row was
    marked, so every existing row and total starts at false and 0. Independent of 0012: it only
    adds columns."""
    conn.execute(text("ALTER TABLE costs ADD COLUMN over_limit BOOLEAN DEFAULT FALSE NOT NULL"))
    for name in ("cost_totals", "cost_buckets"):
        conn.execute(text(f"ALTER TABLE {name} ADD COLUMN over_limit_calls BIGINT DEFAULT 0 NOT NULL"))


def m0014_calls_in_flight(conn: Connection) -> None:
    """A reservation names the process that holds it (host, pid, start time) and carries a
    heartbeat, so that one left by a process that is gone is released; a call's cost row carries
    the key of the call's journal, so that a call kept by the journal is stored once (issue 21)."""
    time = "TIMESTAMP WITH TIME ZONE" if is_postgres(conn) else "DATETIME"
    for column in ("host VARCHAR", "pid INTEGER", "started VARCHAR", f"heartbeat_at {time}"):
        conn.execute(text(f"ALTER TABLE reservations ADD COLUMN {column}"))
    conn.execute(text("ALTER TABLE costs ADD COLUMN call_key VARCHAR"))
    conn.execute(text("CREATE UNIQUE INDEX ux_costs_call_key ON costs (call_key)"))


def m0015_imports(conn: Connection) -> None:
    """Other tools' usage, imported (`costs import --from`, issue 23): each file read and where the
    next read starts, each source's session as an agentik session, an imported message's key, the
    keys of imported messages removed or forgotten since (never imported again), and the cost the
    tool itself reported beside agentik's."""
    time = "TIMESTAMP WITH TIME ZONE" if is_postgres(conn) else "DATETIME"
    conn.execute(text("ALTER TABLE costs ADD COLUMN source_cost_nd BIGINT"))
    conn.execute(text("ALTER TABLE messages ADD COLUMN import_key VARCHAR"))
    conn.execute(text("CREATE UNIQUE INDEX ix_messages_import_key ON messages (import_key)"))
    conn.execute(
        text(
            "CREATE TABLE import_files (source VARCHAR NOT NULL, path VARCHAR NOT NULL, identity VARCHAR NOT NULL, "
            f"size BIGINT NOT NULL, mtime_ns BIGINT NOT NULL, mark VARCHAR NOT NULL, updated_at {time} NOT NULL, "
            "PRIMARY KEY (source, path))"
        )
    )
    conn.execute(
        text(
            "CREATE TABLE import_sessions (source VARCHAR NOT NULL, source_key VARCHAR NOT NULL, "
            "session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE, project VARCHAR NOT NULL, "
            "PRIMARY KEY (source, source_key))"
        )
    )
    conn.execute(text("CREATE INDEX ix_import_sessions_by_session ON import_sessions (session_id)"))
    conn.execute(text("CREATE TABLE import_removed (import_key VARCHAR NOT NULL, PRIMARY KEY (import_key))"))


MIGRATIONS: dict[str, Callable[[Connection], None]] = {
    "0001_initial": m0001_initial,
    "0002_settings": m0002_settings,
    "0003_reports": m0003_reports,
    "0004_ids_never_reused": m0004_ids_never_reused,
    "0005_team_store": m0005_team_store,
    "0006_skills": m0006_skills,
    "0007_budgets": m0007_budgets,
    "0008_webhooks": m0008_webhooks,
    "0009_redaction": m0009_redaction,
    "0010_sandbox": m0010_sandbox,
    "0011_webhook_internal": m0011_webhook_internal,
    "0012_origins": m0012_origins,
    "0013_over_limit": m0013_over_limit,
    "0014_calls_in_flight": m0014_calls_in_flight,
    "0015_imports": m0015_imports,
}
MIGRATION_NAMES: tuple[str, ...] = tuple(MIGRATIONS)


def apply(conn: Connection, applied: set[str], upto: str | None = None) -> list[str]:
    """Apply, in order, every migration not yet applied (up to and including `upto`)."""
    md = MetaData()
    tracking = _tracking_table(md)
    md.create_all(conn)
    done = []
    for name, migration in MIGRATIONS.items():
        if name not in applied:
            migration(conn)
            conn.execute(tracking.insert().values(name=name, applied_at=now_utc()))
            done.append(name)
        if name == upto:
            break
    return done


def applied_names(conn: Connection) -> list[str]:
    return list(conn.execute(text("SELECT name FROM agentik_migrations ORDER BY name")).scalars())
