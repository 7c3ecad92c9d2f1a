"""Reports at a million rows (issue 4).

    python tests/benchmarks/bench_reports.py [--rows 1000000] [--runs 7]

Builds, through the store's own tables and write path, a database of ROWS cost rows and ROWS
messages over 100 agents, 10,000 sessions and 365 days, and one of 1,000 of each; times the reports
on both (median of RUNS runs of the real command); imports a ROWS-line JSONL file and reports rows a
second and peak memory; prints the query plan of each report."""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import AGENTIK, timed  # noqa: E402

VOCABULARY = (
    "agent token stream model prompt cache reply session cost budget latency python sqlite index query report "
    "terminal markdown render anthropic openai server error retry window context summary history ledger"
).split()
RARE = "kettle"  # the search word: in about 1 message in 1,000


def build(home: Path, rows: int, agents: int, sessions: int, days: int) -> None:
    """Fill a database through the store (same tables, same aggregate upkeep as the app)."""
    os.environ["AGENTIK_HOME"] = str(home)
    from sqlalchemy import insert

    from agentik_cli.config import store as get_store
    from agentik_cli.services import agents as agent_service
    from agentik_cli.services import ledger
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
            entry = ledger.CostEntry(
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
            costs.append(entry.row())
        with store.write() as unit:
            unit.session.execute(insert(Message), messages)
            unit.import_costs([costs])
    reset_stores()


def median_ms(args: list[str], home: Path, runs: int) -> float:
    return timed([*AGENTIK, *args], {"AGENTIK_HOME": str(home)}, runs=runs) * 1000


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
    start = datetime(2026, 1, 1, tzinfo=UTC)
    models = [("claude-sonnet-4-0", "anthropic"), ("gpt-4o-mini", "openai")]
    with path.open("w") as handle:
        for n in range(rows):
            model, provider = models[n % 2]
            record = {
                "model": model,
                "provider": provider,
                "input_tokens": 1000 + n % 997,
                "output_tokens": n % 503,
                "at": (start + timedelta(seconds=n * 29)).isoformat(),
            }
            if n % 3 == 0:
                record["agent"] = "importer"
            handle.write(json.dumps(record) + "\n")
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--skip-import", action="store_true")
    args = parser.parse_args()
    small, large = Path(tempfile.mkdtemp()), Path(tempfile.mkdtemp())
    began = time.perf_counter()
    build(small, 1000, agents=100, sessions=100, days=365)
    build(large, args.rows, agents=100, sessions=10_000, days=365)
    print(
        f"built both databases in {time.perf_counter() - began:.0f} s "
        f"({(large / 'agentik.db').stat().st_size / 1e6:.0f} MB at {args.rows:,} rows)\n"
    )
    commands = {
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
    print(f"{'command (median of ' + str(args.runs) + ')':<44} {'1,000 rows':>11} {args.rows:>10,} rows  ratio")
    for name, command in commands.items():
        a, b = median_ms(command, small, args.runs), median_ms(command, large, args.runs)
        print(f"{name:<44} {a:8.0f} ms {b:10.0f} ms  {b / a:5.2f}x")
    print("\nquery plans (EXPLAIN QUERY PLAN) on the large database:")
    plans(large / "agentik.db")
    if not args.skip_import:
        print()
        import_bench(args.rows)


if __name__ == "__main__":
    main()
