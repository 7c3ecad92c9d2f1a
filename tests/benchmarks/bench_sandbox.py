"""The sandbox's cost per command (issue 20): the median of RUNS runs of `true` through agentik's
command runner, inside bubblewrap and outside it, side by side (alternating), and the difference.

    python tests/benchmarks/bench_sandbox.py [--runs 50]

The target: the sandbox adds under 50 ms a command."""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from agentik_cli.skills import sandbox  # noqa: E402
from agentik_cli.skills.shell import run_argv  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    reason = sandbox.unavailable()
    if reason is not None:
        sys.exit(f"no sandbox here: {reason}")
    with tempfile.TemporaryDirectory(dir=Path.home()) as folder:
        work = Path(folder)
        kinds = {
            "without": sandbox.Confinement(False, (work,), False),
            "sandboxed": sandbox.Confinement(True, (work,), False),
        }
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for _ in range(args.runs):
            for kind, confinement in kinds.items():  # alternating: the machine's drift hits both
                started = time.perf_counter()
                outcome = run_argv(["true"], confinement=confinement, cwd=work)
                times[kind].append(time.perf_counter() - started)
                assert outcome.status == "ok", outcome
    medians = {kind: statistics.median(values) * 1000 for kind, values in times.items()}
    print(f"`true`, median of {args.runs} runs each, alternating")
    for kind, value in medians.items():
        print(f"  {kind:10} {value:7.1f} ms")
    print(
        f"  the sandbox adds {medians['sandboxed'] - medians['without']:.1f} ms a command "
        f"({medians['sandboxed'] / medians['without']:.2f}x)"
    )


if __name__ == "__main__":
    main()
