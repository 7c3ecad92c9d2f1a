"""Many writers on one PostgreSQL server (issue 9): 4 processes x 200 chats at once, against the local
fake provider. Nothing may be lost, and every running total must equal the ledger afterwards.

    python tests/benchmarks/bench_postgres_chats.py [--procs 4] [--chats 200]

Starts its own server (tests/pgserver.py: Debian's /usr/lib/postgresql/15/bin, as `postgres` when
run as root) in a temporary folder and stops it at the end. Each process runs its chats one after
another in-process (the CLI through CliRunner), each chat a new session of the same agent, so the
agent's counters and the cost totals of one model are the rows every process updates at once."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests import pgserver  # noqa: E402
from tests.benchmarks.common import PYTHON  # noqa: E402
from tests.fakeprovider import FakeProvider, Reply  # noqa: E402

WORKER = """
import sys, time
from typer.testing import CliRunner
from agentik_cli.cli.app import app
runner, worker, chats = CliRunner(), sys.argv[1], int(sys.argv[2])
failed = 0
start = time.perf_counter()
for i in range(chats):
    result = runner.invoke(app, ["chat", "bench", "-m", f"worker {worker} chat {i}"])
    if result.exit_code != 0:
        failed += 1
        sys.stderr.write(result.stderr[-300:])
print(failed, time.perf_counter() - start)
"""

CHECKS = {
    "sessions": "SELECT count(*) FROM sessions",
    "messages": "SELECT count(*) FROM messages",
    "costs": "SELECT count(*) FROM costs",
    "distinct user messages": "SELECT count(DISTINCT content) FROM messages WHERE role = 'user'",
}
# (maintained total, the same summed from the rows it keeps)
EQUAL = {
    "cost_totals = ledger": (
        "SELECT sum(calls), sum(input_tokens), sum(output_tokens), sum(cost_nd) FROM cost_totals",
        "SELECT count(*), sum(input_tokens), sum(output_tokens), coalesce(sum(total_cost_nd), 0) FROM costs",
    ),
    "cost_buckets = ledger": (
        "SELECT sum(calls), sum(input_tokens), sum(output_tokens), sum(cost_nd) FROM cost_buckets",
        "SELECT count(*), sum(input_tokens), sum(output_tokens), coalesce(sum(total_cost_nd), 0) FROM costs",
    ),
    "sessions' totals = ledger": (
        "SELECT sum(message_count), sum(input_tokens), sum(output_tokens), sum(cost_nd) FROM sessions",
        "SELECT (SELECT count(*) FROM messages), sum(input_tokens), sum(output_tokens), "
        "coalesce(sum(total_cost_nd), 0) FROM costs",
    ),
    "agent's counters = rows": (
        "SELECT stat_sessions, stat_messages, stat_responses FROM agents",
        "SELECT (SELECT count(*) FROM sessions), (SELECT count(*) FROM messages), "
        "(SELECT count(response_ms) FROM messages)",
    ),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--procs", type=int, default=4)
    parser.add_argument("--chats", type=int, default=200)
    args = parser.parse_args()
    socket = pgserver.start()
    url = pgserver.create_database("bench_chats", template="template0")
    server = FakeProvider().start()
    server.default = Reply(text="a short reply in a few pieces", delay=0.002)
    try:
        with tempfile.TemporaryDirectory() as home:
            env = {
                **os.environ,
                "AGENTIK_HOME": home,
                "AGENTIK_DB": url,
                "OPENAI_BASE_URL": server.url + "/v1",
                "OPENAI_API_KEY": "sk-openai-bench-key-0123456789",
            }
            subprocess.run([PYTHON, "-m", "agentik_cli", "agents", "create", "bench", "--model", "gpt-4o-mini"],
                           env=env, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
            start = time.perf_counter()
            procs = [
                subprocess.Popen(
                    [PYTHON, "-c", WORKER, str(w), str(args.chats)], env=env, stdout=subprocess.PIPE, text=True
                )  # fmt: skip
                for w in range(args.procs)
            ]
            results = [p.communicate()[0].split() for p in procs]
            elapsed = time.perf_counter() - start
        total = args.procs * args.chats
        failed = sum(int(r[0]) for r in results)
        print(f"PostgreSQL server on {socket}: {args.procs} processes x {args.chats} chats, one agent")
        print(f"  wall time {elapsed:.1f} s, {total / elapsed:.1f} chats/s in all; failed chats: {failed}")
        import psycopg

        ok = failed == 0
        with psycopg.connect(host=socket, port=pgserver.PORT, user="postgres", dbname="bench_chats") as conn:
            expected = {"sessions": total, "messages": 2 * total, "costs": total, "distinct user messages": total}
            for name, sql in CHECKS.items():
                got = conn.execute(sql).fetchone()[0]
                ok &= got == expected[name]
                print(f"  {name:<24} {got:>6} (expected {expected[name]})")
            for name, (kept, summed) in EQUAL.items():
                a = tuple(int(v) for v in conn.execute(kept).fetchone())
                b = tuple(int(v) for v in conn.execute(summed).fetchone())
                ok &= a == b
                print(f"  {name:<24} {'equal' if a == b else 'DIFFERENT'}: {a}" + ("" if a == b else f" != {b}"))
        print("nothing lost, every total equals the ledger" if ok else "FAILED: see above")
        if not ok:
            sys.exit(1)
    finally:
        server.stop()
        pgserver.drop_database("bench_chats")
        pgserver.unconfigure(None)


if __name__ == "__main__":
    main()
