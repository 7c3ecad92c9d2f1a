"""Live views and the status line on a store of a million rows (issue 12).

    python tests/benchmarks/bench_live.py [--rows 1000000] [--runs 21] [--idle 20]
                                          [--forgetting-only | --postgres]

Builds a SQLite store of ROWS cost rows and ROWS messages (bench_reports.build: 100 agents, 10,000
sessions, 365 days), sets a daily and a monthly budget over everything and one over an agent, then:
- `statusline` (plain, --agent, --json): median wall time of RUNS runs, and the same less
  `python -c pass` (the contract: within 50 ms of it);
- `costs watch`, `sessions tail -f` and `webhooks deliver --loop` left idle for IDLE seconds: the
  CPU they used (user + system, from /proc), as a share of one core;
- how long after another process's change (`costs record`, run to its end) `costs watch` prints
  it: median and worst of 5;
- `sessions forget` and `sessions redact` (plain and --regex, `RARE` is in one message in 1,000),
  each of which rewrites the file (VACUUM) and empties the WAL.

With --postgres, the same store is built in a PostgreSQL database (AGENTIK_BENCH_PG_URL's server,
else a throwaway one) and the live views are timed on it (the views wait on LISTEN there)."""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_reports import RARE, build  # noqa: E402
from tests.benchmarks.common import AGENTIK, PYTHON, timed  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def read_line(child: subprocess.Popen, timeout: float) -> bytes:
    ready, _, _ = select.select([child.stdout], [], [], timeout)
    if not ready:
        raise TimeoutError(f"no line within {timeout} s")
    assert child.stdout is not None
    return child.stdout.readline()


def idle_cpu(args: list[str], env: dict[str, str], seconds: float, lines_first: int) -> float:
    child = subprocess.Popen(AGENTIK + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        for _ in range(lines_first):
            read_line(child, 120)
        time.sleep(2)  # past its start
        before = cpu_seconds(child.pid)
        time.sleep(seconds)
        return (cpu_seconds(child.pid) - before) / seconds
    finally:
        child.kill()
        child.wait()


def latency(args: list[str], env: dict[str, str], lines_first: int, per_change: int) -> list[float]:
    child = subprocess.Popen(AGENTIK + args, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    record = [*AGENTIK, "costs", "record", "--provider", "anthropic", "--model", "claude-sonnet-4-0"]
    delays = []
    try:
        for _ in range(lines_first):
            read_line(child, 120)
        for n in range(5):
            subprocess.run(
                record + ["--agent", "agent-001", "--input-tokens", str(1000 + n), "--output-tokens", "10"],
                env=env,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            done = time.perf_counter()
            for _ in range(per_change):
                read_line(child, 30)
            delays.append(time.perf_counter() - done)
    finally:
        child.kill()
        child.wait()
    return delays


def postgres_database(rows: int) -> str:
    """A new PostgreSQL database built as the SQLite one, VACUUM ANALYZEd; its URL. The server:
    AGENTIK_BENCH_PG_URL when given, else a throwaway one (tests/pgserver.py)."""
    import psycopg

    from tests import pgserver
    from tests.benchmarks.bench_import import _with_database

    base_url = os.environ.get("AGENTIK_BENCH_PG_URL")
    if base_url is None:
        pgserver.start()
        base_url = pgserver.url("postgres")
    plain = base_url.replace("postgresql+psycopg://", "postgresql://")
    name = f"agentik_bench_live_{os.getpid()}"
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name}")
        conn.execute(f"CREATE DATABASE {name}")
    url = _with_database(base_url, name)
    with tempfile.TemporaryDirectory() as folder:
        build(Path(folder), rows, agents=100, sessions=10_000, days=365, url=url)
    with psycopg.connect(_with_database(plain, name), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return url


def live(env: dict[str, str], options: argparse.Namespace) -> None:
    """The status line, the views' idle CPU, and how soon `costs watch` shows a change."""
    for args in (["--daily", "100", "--monthly", "1000"], ["--agent", "agent-001", "--daily", "5"]):
        subprocess.run([*AGENTIK, "budgets", "set", *args], env=env, check=True, stdout=subprocess.DEVNULL)
    print(f"\nstatusline, median of {options.runs} runs (python -c pass: the start of any Python program)")
    bare = timed([PYTHON, "-c", "pass"], env, options.runs)
    print(f"  {'python -c pass':<40} {bare * 1000:6.1f} ms")
    for args in (["statusline"], ["statusline", "--agent", "agent-001"], ["statusline", "--json"]):
        took = timed(AGENTIK + args, env, options.runs)
        print(f"  {'agentik ' + ' '.join(args):<40} {took * 1000:6.1f} ms   (+{(took - bare) * 1000:.1f} ms)")
    print(f"\nidle for {options.idle:g} s: CPU used, as a share of one core")
    for args, first in ((["costs", "watch"], 1), (["sessions", "tail", "-f", "-n", "1"], 1)):
        share = idle_cpu(args, env, options.idle, first)
        print(f"  {'agentik ' + ' '.join(args):<40} {share:7.2%}")
    share = idle_cpu(["webhooks", "deliver", "--loop"], env, options.idle, 0)
    print(f"  {'agentik webhooks deliver --loop':<40} {share:7.2%}")
    # (`sessions tail -f` is timed against a chat in another process by tests/cli/test_live.py)
    print("\nfrom the end of another process's `costs record` to the line `costs watch` prints (5 changes)")
    delays = latency(["costs", "watch"], env, 1, 1)
    print(
        f"  {'agentik costs watch':<40} median {statistics.median(delays) * 1000:6.0f} ms, "
        f"worst {max(delays) * 1000:6.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--forgetting-only", action="store_true", help="Only time forget and redact.")
    parser.add_argument("--postgres", action="store_true", help="The live views on PostgreSQL instead.")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        env = {**os.environ, "AGENTIK_HOME": str(home)}
        env.pop("AGENTIK_DB", None)
        started = time.perf_counter()
        if options.postgres:
            env["AGENTIK_DB"] = postgres_database(options.rows)
        else:
            build(home, options.rows, agents=100, sessions=10_000, days=365)
        where = "PostgreSQL" if options.postgres else "SQLite"
        print(f"built {options.rows:,} cost rows and messages ({where}) in {time.perf_counter() - started:.0f} s")
        if not options.forgetting_only:
            live(env, options)
        if not options.postgres:
            forgetting(env, home)


def forgetting(env: dict[str, str], home: Path) -> None:
    """Forgetting and redaction on the big store: each rewrites the file (VACUUM) and empties the WAL."""
    size = (home / "agentik.db").stat().st_size
    print(f"\nforgetting, once each (the file: {size / 1e6:,.0f} MB)")
    for args in (
        ["sessions", "forget", "500000", "--yes"],
        ["sessions", "redact", RARE, "--all", "--dry-run"],
        ["sessions", "redact", f"{RARE}|nothing-else", "--regex", "--all", "--dry-run"],
        ["sessions", "redact", f"{RARE}|nothing-else", "--regex", "--agent", "agent-000", "--yes"],
        ["sessions", "redact", RARE, "--all", "--yes"],
    ):
        started = time.perf_counter()
        subprocess.run([*AGENTIK, *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        print(f"  {'agentik ' + ' '.join(args):<60} {time.perf_counter() - started:6.1f} s")


if __name__ == "__main__":
    main()
