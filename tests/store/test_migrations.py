"""Migrations: a blank database, an upgrade from the first schema, and the models' schema."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine
from sqlmodel import SQLModel

from agentik_cli.store import engine as store_engine
from agentik_cli.store import (
    import_models,  # noqa: F401 - and the imports'
    migrations,
    models,  # noqa: F401 - the tables SQLModel.metadata holds
    outbox_models,  # noqa: F401 - and the outbox's
)
from agentik_cli.store.engine import MIGRATION_NAMES, Store


def schema(path) -> dict:
    """Tables -> (columns with type and nullability, indexes with their columns)."""
    with sqlite3.connect(path) as db:
        tables = [
            r[0]
            for r in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%' "
                "AND name != 'agentik_migrations' AND name NOT LIKE '%_fts%'"
            )
        ]
        result = {}
        for table in tables:
            columns = {(r[1], r[2].upper(), r[3], r[5]) for r in db.execute(f"PRAGMA table_info({table})")}
            indexes = {}
            for r in db.execute(f"PRAGMA index_list({table})"):
                cols = tuple(c[2] for c in db.execute(f"PRAGMA index_info('{r[1]}')"))
                indexes[cols] = bool(r[2])
            fks = {(r[2], r[3], r[4], r[6]) for r in db.execute(f"PRAGMA foreign_key_list({table})")}
            result[table] = (columns, indexes, fks)
        return result


@pytest.mark.sqlite_only(reason="its own SQLite file (tests/store/test_postgres.py migrates on PostgreSQL)")
def test_blank_database_gets_every_migration(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'a.db'}")
    store.migrate()
    with store.engine.connect() as conn:
        assert migrations.applied_names(conn) == list(MIGRATION_NAMES)


@pytest.mark.sqlite_only(reason="compares SQLite schemas (tests/store/test_postgres.py compares PostgreSQL's)")
def test_migrated_schema_equals_the_models(tmp_path):
    migrated = tmp_path / "migrated.db"
    store = Store(f"sqlite:///{migrated}")
    store.migrate()
    store.dispose()
    modelled = tmp_path / "modelled.db"
    plain = create_engine(f"sqlite:///{modelled}")
    SQLModel.metadata.create_all(plain)
    plain.dispose()
    assert schema(migrated) == schema(modelled)


@pytest.mark.sqlite_only(reason="its own SQLite file (tests/store/test_postgres.py upgrades on PostgreSQL)")
def test_upgrade_from_the_first_schema_keeps_data(tmp_path):
    path = tmp_path / "old.db"
    old = Store(f"sqlite:///{path}")
    with old.engine.connect() as conn, conn.begin():
        migrations.apply(conn, set(), upto="0001_initial")
        conn.exec_driver_sql(
            "INSERT INTO agents (name, name_key, description, system_prompt, model, provider, status, created_at, "
            "updated_at, stat_sessions, stat_messages, stat_input_tokens, stat_output_tokens, stat_cost_nd, "
            "stat_response_ms, stat_responses, channels, skills) VALUES ('Old', 'old', '', '', 'gpt-4o', 'openai', "
            "'active', ?, ?, 0, 0, 0, 0, 0, 0, 0, '[]', '[]')",
            (datetime.now(UTC).isoformat(" "), datetime.now(UTC).isoformat(" ")),
        )
    with old.engine.connect() as conn:
        assert migrations.applied_names(conn) == ["0001_initial"]
    old.dispose()

    store = Store(f"sqlite:///{path}")
    store.migrate()
    with store.engine.connect() as conn:
        assert migrations.applied_names(conn) == list(MIGRATION_NAMES)
    from agentik_cli.services import agents

    assert agents.get(store, "old").name == "Old"
    agents.set_default(store, "old")  # the settings table came with the upgrade
    assert agents.get_default(store).name == "Old"


@pytest.mark.sqlite_only(reason="reads the code; the same on both runs")
def test_one_list_of_migrations_and_no_import_cycle(tmp_path):
    """migrations.MIGRATIONS is the only list; the migration module imports nothing of the store
    (engine imports it), and opening a store never imports alembic."""
    import ast
    import inspect as pyinspect

    tree = ast.parse(pyinspect.getsource(migrations))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    store_modules = {name for name in imported if name and name.startswith("agentik_cli.store")}
    assert not store_modules - {"agentik_cli.store.dialect"}
    assert store_engine.MIGRATION_NAMES is migrations.MIGRATION_NAMES == tuple(migrations.MIGRATIONS)
    path = tmp_path / "current.db"
    code = (
        "import sys; from agentik_cli.store.engine import Store; "
        f"s = Store('sqlite:///{path}'); s.migrate(); print('alembic' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]
