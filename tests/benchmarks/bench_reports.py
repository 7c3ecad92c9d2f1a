"""Reports at a million rows (issues 4 and 9).

    python tests/benchmarks/bench_reports.py [--rows 1000000] [--runs 7] [--postgres] [--skip-import]

Builds, through the store's own tables and write path, a database of ROWS cost rows and ROWS
messages over 100 agents, 10,000 sessions and 365 days, and one of 1,000 of each; times the reports
on both (median of RUNS runs of the real command); imports a ROWS-line JSONL file and reports rows a
second and peak memory; prints the query plan of each report.

With --postgres, the same two databases are also built in PostgreSQL (the same build, AGENTIK_DB
naming each; the ledger goes in with COPY), VACUUM ANALYZEd (a fresh bulk load has no statistics),
and the same commands are timed with AGENTIK_DB naming each: a second table, then the plans
(EXPLAIN ANALYZE) of the same queries on the large one. The server: AGENTIK_BENCH_PG_URL when given
(two new databases are made beside the one it names), else a throwaway server
of its own (tests/pgserver.py, as bench_import.py)."""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_import import write_file  # noqa: E402
from tests.benchmarks.common import AGENTIK, timed  # noqa: E402

VOCABULARY = (
    "agent token stream model prompt cache reply session cost budget latency python sqlite index query report "
    "terminal markdown render anthropic openai server error retry window context summary history ledger"
).split()
RARE = "kettle"  # the search word: in about 1 message in 1,000


def build(home: Path, rows: int, agents: int, sessions: int, days: int, url: str | None = None) -> None:
    """Fill a database through the store (same tables, same aggregate upkeep as the app): the SQLite
    one in `home`, or the PostgreSQL one `url` names."""
    os.environ["AGENTIK_HOME"] = str(home)
    if url is None:
        os.environ.pop("AGENTIK_DB", None)
    else:
        os.environ["AGENTIK_DB"] = url
    from sqlalchemy import insert

    from agentik_cli.services import agents as agent_service
    from agentik_cli.services import recording
    from agentik_cli.services.opening import command_store as get_store
    from agentik_cli.store import bulk
    from agentik_cli.store.engine import reset_stores
    from agentik_cli.store.models import Agent, ChatSession, Message

    reset_stores()
    store = get_store()
    rng = random.Random(7)
    for i in range(agents):
        agent_service.create(store, agent_service.AgentFields(name=f"agent-{i:03d}", model="claude-sonnet-4-0"))
    now = datetime.now(UTC)
    start = now - timedelta(days=days - 1)
    span = (now - start).total_seconds()
    with store.write() as unit:
        session = unit.session
        session.execute(
            insert(ChatSession),
            [
                {
                    "agent_id": s % agents + 1,
                    "title": f"session {s}",
                    "channel": "cli",
                    "started_at": start + timedelta(seconds=span * s / sessions),
                    "last_message_at": start + timedelta(seconds=span * (s + 1) / sessions),
                    "message_count": rows // sessions,
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "cost_nd": 0,
                    "unpriced_calls": 0,
                }
                for s in range(sessions)
            ],
        )
        session.execute(Agent.__table__.update().values(stat_sessions=sessions // agents))
    batch = 20_000
    models = [("claude-sonnet-4-0", "anthropic"), ("gpt-4o-mini", "openai"), ("gpt-4o", "openai"), ("llama3", "ollama")]
    from agentik_cli.services.pricing import PriceBook
    from agentik_cli.values import Usage

    book = PriceBook(store)
    for first in range(0, rows, batch):
        count = min(batch, rows - first)
        messages, costs = [], []
        for n in range(first, first + count):
            moment = start + timedelta(seconds=span * n / rows)
            s = n * sessions // rows
            agent_id = s % agents + 1
            words = [rng.choice(VOCABULARY) for _ in range(rng.randint(8, 40))]
            if n % 1000 == 0:
                words.insert(rng.randint(0, len(words)), RARE)
            messages.append(
                {
                    "agent_id": agent_id,
                    "session_id": s + 1,
                    "channel": "cli",
                    "role": "user" if n % 2 == 0 else "assistant",
                    "content": " ".join(words),
                    "timestamp": moment,
                    "interrupted": False,
                    "attachments": [],
                    "skills_used": [],
                }
            )
            model, provider = models[n % len(models)]
            usage = Usage(rng.randint(100, 5000), rng.randint(10, 2000))
            entry = recording.CostEntry(
                model=model,
                provider=provider,
                usage=usage,
                agent_id=agent_id,
                agent_name=f"agent-{agent_id - 1:03d}",
                session_id=s + 1,
                timestamp=moment,
                priced=book.price(model, provider, usage),
                channel="cli",
            )
            costs.append(asdict(entry.record()))
        with store.write() as unit:
            unit.session.execute(insert(Message), messages)
            bulk.import_costs(unit, list(costs[0]), [[list(row.values()) for row in costs]])
    reset_stores()
    os.environ.pop("AGENTIK_DB", None)


def median_ms(args: list[str], home: Path, runs: int) -> float:
    return timed([*AGENTIK, *args], {"AGENTIK_HOME": str(home)}, runs=runs) * 1000


def pg_median_ms(args: list[str], url: str, home: Path, runs: int) -> float:
    return timed([*AGENTIK, *args], {"AGENTIK_HOME": str(home), "AGENTIK_DB": url}, runs=runs) * 1000


def plans(db: Path) -> None:
    queries = {
        "costs summary (today/month)": "SELECT sum(cost_nd) FROM cost_buckets WHERE start >= '2026-11-01'",
        "costs summary (models)": "SELECT model, provider, sum(cost_nd) FROM cost_totals GROUP BY model, provider",
        "costs history": "WITH periods (i, lo, hi) AS (VALUES (0, '2026-11-01', '2026-11-02')) SELECT p.i, "
        "sum(b.cost_nd) FROM periods p JOIN cost_buckets b ON b.start >= p.lo AND b.start < p.hi GROUP BY p.i",
        "costs history --agent": "WITH periods (i, lo, hi) AS (VALUES (0, '2026-11-01', '2026-11-02')) SELECT p.i, "
        "sum(c.total_cost_nd) FROM periods p JOIN costs c ON c.agent_id = 1 AND c.timestamp >= p.lo AND "
        "c.timestamp < p.hi GROUP BY p.i",
        "costs by-model --since": "SELECT model, provider, sum(total_cost_nd) FROM costs "
        "INDEXED BY ix_costs_by_timestamp WHERE timestamp >= "
        "'2026-11-01' GROUP BY model, provider",
        "costs by-user --since": "SELECT user_name, sum(total_cost_nd) FROM costs INDEXED BY ix_costs_by_timestamp "
        "WHERE timestamp >= '2026-11-01' GROUP BY user_name",
        "costs list": "SELECT * FROM costs ORDER BY timestamp DESC, id DESC LIMIT 50",
        "sessions list": "SELECT * FROM sessions JOIN agents ON agents.id = sessions.agent_id "
        "ORDER BY last_message_at DESC, sessions.id DESC LIMIT 20",
        "sessions search": "SELECT rowid, bm25(messages_fts) FROM messages_fts WHERE messages_fts MATCH 'kettle' "
        "ORDER BY rowid DESC LIMIT 2000",
        "sessions recent": "SELECT * FROM messages ORDER BY timestamp DESC, id DESC LIMIT 20",
    }
    with sqlite3.connect(db) as conn:
        for name, sql in queries.items():
            steps = [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]
            print(f"  {name:<30} {' / '.join(steps)}")


def pg_plans(url: str) -> None:
    """The same queries as plans(), in PostgreSQL's words, run (EXPLAIN ANALYZE) on the large database."""
    import psycopg

    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    week, day = now - timedelta(days=7), now - timedelta(days=1)
    queries: dict[str, tuple[str, tuple[Any, ...]]] = {
        "costs summary (today/month)": ("SELECT sum(cost_nd) FROM cost_buckets WHERE start >= %s", (month,)),
        "costs summary (models)": (
            "SELECT model, provider, sum(cost_nd) FROM cost_totals GROUP BY model, provider",
            (),
        ),
        "costs history": (
            "WITH periods (i, lo, hi) AS (VALUES (0, %s::timestamptz, %s::timestamptz)) SELECT p.i, sum(b.cost_nd) "
            "FROM periods p JOIN cost_buckets b ON b.start >= p.lo AND b.start < p.hi GROUP BY p.i",
            (day, now),
        ),
        "costs history --agent": (
            "WITH periods (i, lo, hi) AS (VALUES (0, %s::timestamptz, %s::timestamptz)) SELECT p.i, "
            "sum(c.total_cost_nd) FROM periods p JOIN costs c ON c.agent_id = 2 AND c.timestamp >= p.lo AND "
            "c.timestamp < p.hi GROUP BY p.i",
            (day, now),
        ),
        "costs by-agent": (
            "SELECT coalesce(agents.name, t.agent_name), t.agent_key, sum(t.cost_nd) FROM cost_totals t "
            "LEFT JOIN agents ON agents.id = t.agent_key GROUP BY t.agent_key, coalesce(agents.name, t.agent_name)",
            (),
        ),
        "costs by-model --since": (
            "SELECT model, provider, count(*), sum(total_cost_nd) FROM costs WHERE timestamp >= %s "
            "GROUP BY model, provider",
            (week,),
        ),
        "costs by-user": ("SELECT user_name, sum(cost_nd) FROM cost_totals GROUP BY user_name", ()),
        "costs by-user --since": (
            "SELECT user_name, count(*), sum(total_cost_nd) FROM costs WHERE timestamp >= %s GROUP BY user_name",
            (week,),
        ),
        "costs list": ("SELECT * FROM costs ORDER BY timestamp DESC, id DESC LIMIT 50", ()),
        "sessions list": (
            "SELECT * FROM sessions JOIN agents ON agents.id = sessions.agent_id "
            "ORDER BY last_message_at DESC, sessions.id DESC LIMIT 20",
            (),
        ),
        "sessions list (estimated calls)": (
            "SELECT session_id, count(*) FROM costs WHERE session_id IN (9990, 9991, 9992, 9993, 9994, 9995, 9996, "
            "9997, 9998, 9999) AND estimated IS true GROUP BY session_id",
            (),
        ),
        f"sessions search {RARE}": (
            "SELECT id, ts_rank(search_vector, q) FROM messages, plainto_tsquery('simple', %s) AS q "
            "WHERE search_vector @@ q ORDER BY id DESC LIMIT 2000",
            (RARE,),
        ),
        "sessions search token": (
            "SELECT id, ts_rank(search_vector, q) FROM messages, plainto_tsquery('simple', %s) AS q "
            "WHERE search_vector @@ q ORDER BY id DESC LIMIT 2000",
            ("token",),
        ),
        "sessions recent": ("SELECT * FROM messages ORDER BY timestamp DESC, id DESC LIMIT 20", ()),
    }
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for name, (sql, params) in queries.items():
            lines = [row[0] for row in conn.execute("EXPLAIN (ANALYZE, COSTS OFF) " + sql, params)]
            print(f"  {name}")
            for line in lines:
                print(f"      {line}")


def pg_databases(rows: int) -> tuple[tuple[str, Path], tuple[str, Path]]:
    """Two new PostgreSQL databases built as the SQLite ones (build(), AGENTIK_DB naming each), then
    VACUUM ANALYZEd: a fresh bulk load has no statistics. (Not `db copy` from the SQLite ones: it
    moves the sessions' totals with per-session subqueries planned before the copied tables have
    statistics, 35 s at 20,000 rows.)"""
    import psycopg

    from tests import pgserver
    from tests.benchmarks.bench_import import _with_database

    base_url = os.environ.get("AGENTIK_BENCH_PG_URL")
    if base_url is None:
        pgserver.start()
        base_url = pgserver.url("postgres")
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    made = []
    for label, count, sessions in (("small", 1000, 100), ("large", rows, 10_000)):
        name = f"agentik_bench_reports_{os.getpid()}_{label}"
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        url = _with_database(base_url, name)
        home = Path(tempfile.mkdtemp())
        build(home, count, agents=100, sessions=sessions, days=365, url=url)
        with psycopg.connect(_with_database(plain, name), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        shutil.rmtree(home, ignore_errors=True)  # the build's data folder; the data is in PostgreSQL
        made.append((url, Path(tempfile.mkdtemp())))
    return made[0], made[1]


def table(title: str, rows: int, runs: int, timings) -> None:  # noqa: ANN001 - name -> (ms, ms)
    print(f"{title + ' (median of ' + str(runs) + ')':<44} {'1,000 rows':>11} {rows:>10,} rows  ratio")
    for name, command in COMMANDS.items():
        a, b = timings(command)
        print(f"{name:<44} {a:8.0f} ms {b:10.0f} ms  {b / a:5.2f}x")


def import_bench(rows: int) -> None:
    home = Path(tempfile.mkdtemp())
    env = {**os.environ, "AGENTIK_HOME": str(home)}
    subprocess.run(
        [*AGENTIK, "agents", "create", "importer", "--model", "gpt-4o-mini"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    path = home / "usage.jsonl"
    write_file(path, rows)  # the file bench_import.py imports
    size = path.stat().st_size
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    began = time.perf_counter()
    subprocess.run([*AGENTIK, "costs", "import", str(path)], env=env, check=True, stdout=subprocess.DEVNULL)
    elapsed = time.perf_counter() - began
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(
        f"costs import of {rows:,} JSONL rows ({size / 1e6:.0f} MB): {elapsed:.1f} s, "
        f"{rows / elapsed:,.0f} rows/s, peak memory {max(peak, before) / 1024:.0f} MB"
    )


COMMANDS = {
    "costs summary": ["costs", "summary", "--json"],
    "costs history --days 30": ["costs", "history", "--days", "30", "--json"],
    "sessions list --limit 20": ["sessions", "list", "--limit", "20", "--json"],
    f"sessions search {RARE}": ["sessions", "search", RARE, "--json"],
    "sessions search token (in most messages)": ["sessions", "search", "token", "--json"],
    "costs by-agent": ["costs", "by-agent", "--json"],
    "costs by-model --since 7d": ["costs", "by-model", "--since", "7d", "--json"],
    "costs by-user": ["costs", "by-user", "--json"],
    "costs by-user --since 7d": ["costs", "by-user", "--since", "7d", "--json"],
    "costs history --days 30 --agent agent-001": [
        "costs",
        "history",
        "--days",
        "30",
        "--agent",
        "agent-001",
        "--json",
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-import", action="store_true")
    parser.add_argument("--postgres", action="store_true", help="also time the reports on PostgreSQL")
    args = parser.parse_args()
    small, large = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    began = time.perf_counter()
    build(small, 1000, agents=100, sessions=100, days=365)
    build(large, args.rows, agents=100, sessions=10_000, days=365)
    print(
        f"built both databases in {time.perf_counter() - began:.0f} s "
        f"({(large / 'agentik.db').stat().st_size / 1e6:.0f} MB at {args.rows:,} rows)\n"
    )
    table(
        "SQLite",
        args.rows,
        args.runs,
        lambda command: (median_ms(command, small, args.runs), median_ms(command, large, args.runs)),
    )
    print("\nquery plans (EXPLAIN QUERY PLAN) on the large database:")
    plans(large / "agentik.db")
    if args.postgres:
        began = time.perf_counter()
        (small_url, small_home), (large_url, large_home) = pg_databases(args.rows)
        print(f"\nbuilt both in PostgreSQL and ran VACUUM ANALYZE in {time.perf_counter() - began:.0f} s\n")
        table(
            "PostgreSQL",
            args.rows,
            args.runs,
            lambda command: (
                pg_median_ms(command, small_url, small_home, args.runs),
                pg_median_ms(command, large_url, large_home, args.runs),
            ),
        )
        print("\nquery plans (EXPLAIN ANALYZE) on the large PostgreSQL database:")
        pg_plans(large_url)
    for home in (small, large):
        shutil.rmtree(home, ignore_errors=True)
    if not args.skip_import:
        print()
        import_bench(args.rows)


if __name__ == "__main__":
    main()
