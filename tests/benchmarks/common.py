"""Helpers shared by the benchmarks: run a command N times and report the median."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
AGENTIK = [PYTHON, "-m", "agentik_cli"]


def timed(cmd: list[str], env: dict[str, str] | None = None, runs: int = 11, stdin: bytes | None = None) -> float:
    """Median wall time in seconds of `runs` runs (after one warm-up run)."""
    full_env = {**os.environ, **(env or {})}
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(cmd, env=full_env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        if i:
            samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def report(name: str, seconds: float, extra: str = "") -> None:
    print(f"{name:<52} {seconds * 1000:8.1f} ms {extra}")


@contextmanager
def baseline_tree(commit: str) -> Iterator[Path]:
    """The commit checked out into a temporary git worktree, removed afterwards. Run a version from
    there with `side_env(tree)` and cwd=tree: `python -m agentik_cli` then imports that tree's package
    (the current directory and PYTHONPATH come before the editable install on the path)."""
    scratch = Path(tempfile.mkdtemp(prefix="agentik-baseline-"))
    tree = scratch / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(tree), commit],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield tree
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)], check=False)
        shutil.rmtree(scratch, ignore_errors=True)


def side_env(tree: Path, env: dict[str, str]) -> dict[str, str]:
    """The environment that runs the agentik of `tree` (with cwd=tree)."""
    return {**env, "PYTHONPATH": str(tree)}
