"""`costs import` speed and memory on both stores, side by side with a baseline commit (issue 22:
1,000,000 rows at >= 100,000 rows/s on SQLite and >= 150,000 rows/s on PostgreSQL, peak under 200
MB).

python tests/benchmarks/bench_import.py [--rows 1000000] [--runs 3] [--baseline b0b4fcb] [--pg-
baseline c18fc52] [--no-baseline] [--no-postgres] [--no-sqlite]

Writes a ROWS-line JSONL file (two models, a third of the rows naming an agent, times 29 s apart),
then runs the real command (`python -m agentik_cli costs import FILE`) into a fresh store, RUNS
times for each version, alternating (baseline, this checkout, baseline, ...) so that a machine busy
with something else slows both alike. The baseline is checked out into a temporary git worktree and
run from there (common.baseline_tree). b0b4fcb has no PostgreSQL store, so on PostgreSQL the
baseline is --pg-baseline (c18fc52: this import before issue 22). Prints each version's median rows
a second, its CPU seconds (the import process's own user + system time, read with wait4: steadier
than the wall time on a busy machine, but without PostgreSQL's server), its peak memory (the
process's ru_maxrss) and the ratio of the medians. SQLite: a new data folder each run. PostgreSQL:
AGENTIK_BENCH_PG_URL when given (a new database is made beside the one it names), else a throwaway
server of its own (tests/pgserver.py: Debian's /usr/lib/postgresql/15/bin, run as `postgres` when
root). Afterwards each store is checked: the totals equal the ledger."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import AGENTIK, ROOT, baseline_tree, side_env  # noqa: E402

TOTALS_EQUAL = (
    "SELECT (SELECT count(*) FROM costs) = (SELECT coalesce(sum(calls), 0) FROM cost_totals) "
    "AND (SELECT count(*) FROM costs) = (SELECT coalesce(sum(calls), 0) FROM cost_buckets) "
    "AND (SELECT coalesce(sum(total_cost_nd), 0) FROM costs) = (SELECT coalesce(sum(cost_nd), 0) FROM cost_totals) "
    "AND (SELECT coalesce(sum(total_cost_nd), 0) FROM costs) = (SELECT coalesce(sum(cost_nd), 0) FROM cost_buckets)"
)


def write_file(path: Path, rows: int) -> None:
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


@dataclass
class Run:
    seconds: float
    cpu: float  # the import process's user + system seconds
    peak: int  # its peak resident memory, in bytes


def run(args: list[str], env: dict[str, str], cwd: Path) -> Run:
    """One agentik process, timed."""
    began = time.perf_counter()
    process = subprocess.Popen([*AGENTIK, *args], env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    error = process.stderr.read().decode() if process.stderr else ""
    if process.returncode != 0:
        raise SystemExit(f"agentik {' '.join(args)} failed ({process.returncode}): {error}")
    return Run(elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024)


def bench(name: str, path: Path, rows: int, runs: int, fresh_env, sides: dict[str, Path]) -> None:
    took: dict[str, list[Run]] = {side: [] for side in sides}
    for _ in range(runs):
        for side, tree in sides.items():
            if side not in took:
                continue
            env, check = fresh_env()
            env = side_env(tree, env)
            made = subprocess.run(
                [*AGENTIK, "agents", "create", "importer", "--model", "gpt-4o-mini"],
                env=env,
                cwd=tree,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            if made.returncode != 0:  # b0b4fcb has no PostgreSQL store
                print(f"{name:<11} {side:<16} not measured: {made.stderr.strip().splitlines()[0]}")
                del took[side]
                continue
            took[side].append(run(["costs", "import", str(path)], env, tree))
            if not check():
                raise SystemExit(f"{name} ({side}): the totals do not equal the ledger after the import")
    rates = {}
    for side, measured in took.items():
        seconds = statistics.median(r.seconds for r in measured)
        cpu = statistics.median(r.cpu for r in measured)
        peak = max(r.peak for r in measured)
        rates[side] = rows / seconds
        print(
            f"{name:<11} {side:<16} {seconds:6.1f} s  {rows / seconds:>9,.0f} rows/s  "
            f"cpu {cpu:5.1f} s ({rows / cpu:>9,.0f} rows/cpu-s)  peak {peak / 1e6:5.0f} MB"
        )
    if len(rates) == 2:
        base, now = rates.values()
        print(f"{name:<11} this checkout / baseline: {now / base:.2f}x the rows a second")


def sqlite_env() -> tuple[dict[str, str], object]:
    import sqlite3

    home = Path(tempfile.mkdtemp(prefix="agentik-bench-import-"))
    env = {**os.environ, "AGENTIK_HOME": str(home)}
    env.pop("AGENTIK_DB", None)

    def check() -> bool:
        with sqlite3.connect(home / "agentik.db") as db:
            return bool(db.execute(TOTALS_EQUAL).fetchone()[0])

    return env, check


def postgres_envs(base_url: str | None):
    """A function making a fresh PostgreSQL database for each run."""
    import psycopg

    from tests import pgserver

    if base_url is None:
        pgserver.start()
        base_url = pgserver.url("postgres")
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    counter = iter(range(1_000_000))

    def fresh() -> tuple[dict[str, str], object]:
        name = f"agentik_bench_import_{os.getpid()}_{next(counter)}"
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name}")
            conn.execute(f"CREATE DATABASE {name}")
        url = _with_database(base_url, name)
        env = {**os.environ, "AGENTIK_DB": url, "AGENTIK_HOME": tempfile.mkdtemp(prefix="agentik-bench-import-")}

        def check() -> bool:
            with psycopg.connect(_with_database(plain, name)) as conn:
                row = conn.execute(TOTALS_EQUAL).fetchone()
                return bool(row and row[0])

        return env, check

    return fresh


def _with_database(url: str, name: str) -> str:
    """The same server URL naming another database."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baseline", default="b0b4fcb", help="the commit to compare with")
    parser.add_argument("--pg-baseline", default="c18fc52", help="the same on PostgreSQL (b0b4fcb has none)")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="agentik-bench-import-"))
    path = folder / "usage.jsonl"
    write_file(path, args.rows)
    print(f"costs import of {args.rows:,} JSONL rows ({path.stat().st_size / 1e6:.0f} MB), median of {args.runs}:")
    with ExitStack() as stack:
        if not args.no_sqlite:
            sides = _sides(stack, None if args.no_baseline else args.baseline)
            bench("SQLite", path, args.rows, args.runs, sqlite_env, sides)
        if not args.no_postgres:
            given = os.environ.get("AGENTIK_BENCH_PG_URL")
            try:
                fresh = postgres_envs(given)
            except Exception as exc:  # no server given and none can be started here
                print(f"PostgreSQL  not measured: {exc}")
                return
            sides = _sides(stack, None if args.no_baseline else args.pg_baseline)
            bench("PostgreSQL", path, args.rows, args.runs, fresh, sides)


def _sides(stack: ExitStack, baseline: str | None) -> dict[str, Path]:
    """The versions to run, each by the tree it runs from."""
    sides = {} if baseline is None else {f"baseline {baseline}": stack.enter_context(baseline_tree(baseline))}
    sides["this checkout"] = ROOT
    return sides


if __name__ == "__main__":
    main()
