"""Helpers shared by the benchmarks: run a command N times and report the median."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
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
