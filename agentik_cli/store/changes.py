"""Knowing when another process has changed the store, without a busy loop: the live views
(`costs watch`, `sessions tail -f`) and `webhooks deliver --loop` wait on this.

SQLite: `PRAGMA data_version` on a connection of our own changes whenever another connection commits
(https://sqlite.org/pragma.html#pragma_data_version); reading it is a few microseconds, so it is
read every POLL_S, which keeps a change's delay under a second at no measurable CPU.
PostgreSQL: every write unit notifies CHANGES_CHANNEL as it commits (store/engine.py), and the
watcher LISTENs on its own connection, sleeping in the socket until a notification comes."""

from __future__ import annotations

import time
from threading import Event
from types import TracebackType
from typing import Any

from agentik_cli.store.engine import CHANGES_CHANNEL, sqlite_path

POLL_S = 0.2


class Watcher:
    def __init__(self, url: str) -> None:
        self._sqlite: Any = None
        self._pg: Any = None
        if url.startswith("sqlite"):
            import sqlite3

            path = sqlite_path(url)
            if path is not None:  # an in-memory store changes in this process only
                self._sqlite = sqlite3.connect(str(path), timeout=1.0, isolation_level=None, check_same_thread=False)
                self._version = self._data_version()
        else:
            import psycopg

            from agentik_cli.store.quickread import conninfo

            keywords = conninfo(url)
            keywords["application_name"] = "agentik-watch"
            self._pg = psycopg.connect(**keywords, autocommit=True)  # type: ignore[arg-type]
            self._pg.execute(f"LISTEN {CHANGES_CHANNEL}")

    def _data_version(self) -> int:
        return int(self._sqlite.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, seconds: float, stop: Event | None = None) -> bool:
        """Wait up to `seconds` for a change by another process (or for `stop`); True on a change."""
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            if self._pg is not None:
                if any(True for _ in self._pg.notifies(timeout=min(left, POLL_S * 5), stop_after=1)):
                    return True
                continue
            if self._sqlite is not None:
                version = self._data_version()
                if version != self._version:
                    self._version = version
                    return True
            time.sleep(min(left, POLL_S))

    def close(self) -> None:
        for conn in (self._sqlite, self._pg):
            if conn is not None:
                conn.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()
