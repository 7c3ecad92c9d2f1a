"""Looking after the store itself: what it is and holds (`db status`), bringing it up to date
(`db upgrade`) and a consistent copy of it (`db backup`)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import inspect, text

from agentik_cli.errors import UsageError
from agentik_cli.store.engine import MIGRATION_NAMES, Store, mask_url, sqlite_path, translate_errors
from agentik_cli.timeutil import now_utc

COUNTED = ("agents", "sessions", "messages", "costs")


def status(store: Store) -> dict[str, Any]:
    """Which store, its schema and the rows it holds. Never migrates, and never creates a file."""
    path = sqlite_path(store.url) if store.is_sqlite else None
    if path is not None and not path.exists():
        pending, rows = list(MIGRATION_NAMES), dict.fromkeys(COUNTED, 0)
    else:
        pending = store.pending()
        with translate_errors(), store.engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            rows = {
                table: int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()) if table in present else 0
                for table in COUNTED
            }
    applied = [name for name in MIGRATION_NAMES if name not in pending]
    return {
        "url": mask_url(store.url),
        "dialect": store.engine.dialect.name,
        "schema": applied[-1] if applied else None,
        "pending": pending,
        "rows": rows,
    }


def upgrade(store: Store) -> list[str]:
    """Apply the pending migrations; returns their names."""
    pending = store.pending()
    store.migrate()
    return pending


def newer_schema(store: Store) -> str | None:
    """The latest migration of a database written by a newer agentik (one this agentik does not
    know), else None. Reads without migrating, and creates no file."""
    path = sqlite_path(store.url) if store.is_sqlite else None
    if path is not None and not path.exists():
        return None
    with translate_errors(store.url), store.engine.connect() as conn:
        if not inspect(conn).has_table("agentik_migrations"):
            return None
        applied = set(conn.execute(text("SELECT name FROM agentik_migrations")).scalars())
    newer = sorted(applied - set(MIGRATION_NAMES))
    return newer[-1] if newer else None


def backup(store: Store, target: Path, force: bool = False) -> dict[str, Any]:
    """A consistent copy of a SQLite store in one file, while other processes go on writing: SQLite's
    online backup reads the database as of one moment (WAL included). Written beside the target
    and renamed into place, so a failed backup never leaves half a file where a good one was. A
    database of a newer agentik is copied as it is (the copy is what one keeps to go back to)."""
    source = sqlite_path(store.url) if store.is_sqlite else None
    if source is None:
        raise UsageError(
            f"db backup copies a SQLite file; {mask_url(store.url)} is a {store.engine.dialect.name} database",
            hint="back a server database up with its own tools: pg_dump -Fc DBNAME > agentik.dump",
        )
    if target.is_dir():
        # named by the local time of the environment's clock (a frozen one in tests), as people read it
        target = target / f"agentik-{now_utc().astimezone().strftime('%Y%m%d-%H%M%S')}.db"
    if target.exists() and not force:
        raise UsageError(f"{target} already exists", hint="choose another path, or add --force to replace it")
    if not target.parent.is_dir():
        raise UsageError(f"cannot write {target}: folder {target.parent} does not exist")
    if target.resolve() == source.resolve():
        raise UsageError("the backup cannot replace the database itself")
    partial = target.with_name(f".{target.name}.partial")
    try:
        with sqlite3.connect(source, timeout=10) as src, sqlite3.connect(partial) as dst:
            src.backup(dst)
            # one self-contained file: no -wal beside it
            dst.execute("PRAGMA journal_mode = DELETE")
            check = dst.execute("PRAGMA quick_check").fetchone()[0]
            rows = {table: dst.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in COUNTED}
        if check != "ok":
            raise UsageError(f"the backup did not pass SQLite's check: {check}")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise UsageError(f"cannot back up to {target}: {exc}") from None
    except OSError as exc:
        raise UsageError(f"cannot write {target}: {exc.strerror}") from None
    finally:
        partial.unlink(missing_ok=True)
    return {"path": str(target), "bytes": target.stat().st_size, "rows": rows}
