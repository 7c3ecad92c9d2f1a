"""Helpers shared by the benchmarks: run a command N times and report the median; and the same
commands side by side with a release (issue 22: b0b4fcb), in alternating runs so that a machine
growing busier mid-run weighs on both alike."""

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
# the release the speed of issue 22 is measured against
BASELINE = os.environ.get("AGENTIK_BENCH_BASELINE", "b0b4fcb")
# An installed agentik runs from compiled bytecode (pip compiles it); a shell that sets
# PYTHONDONTWRITEBYTECODE would make every run of a checkout compile each of its modules again
# (some 0.17 s a chat), a cost no user pays and the bare scripts compared with never have.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def timed(
    cmd: list[str],
    env: dict[str, str] | None = None,
    runs: int = 11,
    stdin: bytes | None = None,
    cwd: Path | None = None,
) -> float:
    """Median wall time in seconds of `runs` runs (after one warm-up run)."""
    full_env = {**os.environ, **(env or {})}
    samples = [_once(cmd, full_env, stdin, cwd) for _ in range(runs + 1)]
    return statistics.median(samples[1:])


def _once(cmd: list[str], env: dict[str, str], stdin: bytes | None = None, cwd: Path | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, input=stdin, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def report(name: str, seconds: float, extra: str = "") -> None:
    print(f"{name:<52} {seconds * 1000:8.1f} ms {extra}")


def release_tree(commit: str = BASELINE) -> Path:
    """The source of `commit` (git archive), unpacked once under the temporary folder. `python -m
    agentik_cli` run with this as its working folder imports that release, not the editable install:
    the working folder comes first on sys.path."""
    full = subprocess.run(
        ["git", "rev-parse", commit], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    tree = Path(tempfile.gettempdir()) / f"agentik-release-{full[:12]}"
    if not (tree / "agentik_cli" / "__init__.py").exists():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "archive", full], cwd=ROOT, capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)
    return tree


class Side:
    """One side of a comparison: a command line, its environment and its working folder."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None):
        self.name, self.cmd, self.env, self.cwd = name, cmd, {**os.environ, **(env or {})}, cwd


def side_by_side(sides: list[Side], runs: int = 7) -> dict[str, float]:
    """Median wall time of each side, the sides run in turn (the order rotating each round) after
    one warm-up round."""
    samples: dict[str, list[float]] = {side.name: [] for side in sides}
    for round_ in range(runs + 1):
        shift = round_ % len(sides)
        for side in sides[shift:] + sides[:shift]:
            took = _once(side.cmd, side.env, cwd=side.cwd)
            if round_:
                samples[side.name].append(took)
    return {name: statistics.median(values) for name, values in samples.items()}


def ratios(title: str, medians: dict[str, float], against: str) -> None:
    """One line per side: its median and its ratio to `against`."""
    print(title)
    for name, seconds in medians.items():
        extra = "" if name == against else f"({seconds / medians[against]:.2f}x {against})"
        report("  " + name, seconds, extra)


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


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
