"""`costs import --from claude-code` on a year of heavy use (issue 23): 500,000 assistant lines in
about 2 GB of Claude Code transcripts (each response written as two snapshots, tool results of a few
kilobytes between them, as Claude Code writes them), imported into a fresh SQLite store; then the
re-run with nothing new. Prints the wall time, the rate and the peak memory of each.

    python tests/benchmarks/bench_usage_import.py [--lines 500000] [--tool-bytes 5000] [--store URL]

The transcripts are generated once under the temporary folder and kept for the next run."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from common import AGENTIK, ROOT

PER_SESSION = 250  # assistant lines a session file


def _line(session: str, number: int, kind: str, uuid: str, at: str, message: dict, **more: object) -> str:
    """One line as Claude Code writes it: compact JSON, its keys in its order."""
    line = {
        "parentUuid": None,
        "isSidechain": False,
        "userType": "external",
        "cwd": f"/home/dev/p{number % 40}",
        "sessionId": session,
        "version": "2.0.14",
        "gitBranch": "main",
        "type": kind,
        "message": message,
        "uuid": uuid,
        "timestamp": at,
        **more,
    }
    return json.dumps(line, separators=(",", ":")) + "\n"


def _usage(turn: int, produced: int) -> dict:
    return {
        "input_tokens": 4,
        "cache_creation_input_tokens": 500 + turn,
        "cache_read_input_tokens": 20_000 + turn * 50,
        "cache_creation": {"ephemeral_5m_input_tokens": 500 + turn, "ephemeral_1h_input_tokens": 0},
        "output_tokens": produced,
        "service_tier": "standard",
    }


def generate(folder: Path, lines: int, tool_bytes: int) -> int:
    """Transcripts with `lines` assistant lines; returns their size in bytes."""
    marker = folder / ".complete"
    if marker.exists():
        return int(marker.read_text())
    shutil.rmtree(folder, ignore_errors=True)
    size = 0
    filler = "x" * tool_bytes
    sessions = max(1, lines // PER_SESSION)
    for number in range(sessions):
        project = folder / "projects" / f"-home-dev-project-{number % 40}"
        project.mkdir(parents=True, exist_ok=True)
        session = f"{number:08d}-0000-4000-8000-000000000000"
        day = date(2026, 1, 1) + timedelta(days=number * 364 // sessions)
        out = []
        for turn in range(PER_SESSION // 2):
            at = f"{day.isoformat()}T10:{turn // 60 % 60:02d}:{turn % 60:02d}.000Z"
            if turn == 0:
                prompt = {"role": "user", "content": "Please refactor the billing module."}
                out.append(_line(session, number, "user", f"{session}-p", at, prompt))
            for snapshot, produced in ((0, 1), (1, 300 + turn)):
                if snapshot == 0:
                    block: dict = {"type": "text", "text": "I will look at the invoice totals next."}
                else:
                    block = {"type": "tool_use", "id": f"toolu_{number}_{turn}", "name": "Read", "input": {"p": "x"}}
                message = {
                    "id": f"msg_{number}_{turn}",
                    "type": "message",
                    "role": "assistant",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [block],
                    "stop_reason": None,
                    "usage": _usage(turn, produced),
                }
                uuid = f"{session}-a{turn}-{snapshot}"
                out.append(_line(session, number, "assistant", uuid, at, message, requestId=f"req_{number}_{turn}"))
            result = {"tool_use_id": f"toolu_{number}_{turn}", "type": "tool_result", "content": filler}
            out.append(_line(session, number, "user", f"{session}-t{turn}", at, {"role": "user", "content": [result]}))
        text = "".join(out)
        (project / f"{session}.jsonl").write_text(text)
        size += len(text)
    marker.write_text(str(size))
    return size


def _tree_pss_kib(root: int) -> int:
    """The proportional memory (PSS: shared pages split between the processes sharing them) of a
    process and its children (the import's forked readers), in KiB; 0 once it is gone."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    tree, found = {root}, True
    while found:
        found = False
        for pid, parent in parents.items():
            if parent in tree and pid not in tree:
                tree.add(pid)
                found = True
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
        except (OSError, ValueError):
            pass
    return total


def run(args: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Wall seconds, CPU seconds (user and system, the readers' too: what a busy machine does not
    inflate), peak memory (MB, PSS of the command and its readers together), its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen([*AGENTIK, *args], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    peak = 0
    while child.poll() is None:
        peak = max(peak, _tree_pss_kib(child.pid))
        time.sleep(0.25)
    out, err = child.communicate()
    seconds = time.perf_counter() - start
    if child.returncode:
        sys.exit(f"failed ({child.returncode}): {err.decode()}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return seconds, cpu, peak // 1024, out.decode()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--tool-bytes", type=int, default=5_000)
    parser.add_argument("--store", default=None, help="a PostgreSQL URL (default: a new SQLite file)")
    options = parser.parse_args()
    folder = Path(tempfile.gettempdir()) / f"agentik-bench-claude-{options.lines}-{options.tool_bytes}"
    size = generate(folder, options.lines, options.tool_bytes)
    home = Path(tempfile.mkdtemp(prefix="agentik-bench-home-"))
    env = {**os.environ, "AGENTIK_HOME": str(home), "HOME": str(home)}
    if options.store:
        env["AGENTIK_DB"] = options.store
    paths = ["costs", "import", "--from", "claude-code", str(folder / "projects"), "--json"]
    seconds, cpu, peak, out = run(paths, env)
    summary = json.loads(out)
    print(f"first import: {options.lines:,} assistant lines, {size / 1e9:.2f} GB, {summary['files']:,} files")
    rate = f"{options.lines / seconds:,.0f} assistant lines/s, {size / 1e6 / seconds:.0f} MB/s"
    print(f"  {seconds:.1f} s ({cpu:.1f} s CPU), {rate}, peak {peak} MB; {summary['imported']:,} calls")
    seconds, cpu, _, out = run(paths, env)
    print(f"re-run, nothing new: {seconds:.2f} s ({cpu:.2f} s CPU), imported {json.loads(out)['imported']}")
    print(f"machine load: {os.getloadavg()[0]:.1f} (1 min) on {os.cpu_count()} cores")
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
