"""What journaling a reply as it streams costs (issue 21, item 4), side by side with a baseline commit
from before it, against the local fake provider server.

    python tests/benchmarks/bench_journal.py [--baseline 513d19a] [--runs 9] [--words 20000]

The baseline is checked out into a temporary git worktree and run from there (`python -m
agentik_cli` with the worktree first on the path), each version with a data folder of its own. The
runs alternate (baseline, this checkout, baseline, ...), so that a machine busy with something else
slows both alike; the figures are medians, and the ratio is this checkout's over the baseline's.

1. A 20,000-word streamed reply on a pseudo-terminal (rendered Markdown), and piped.
2. A one-shot chat with a short reply (the journal's file made, locked and removed once per call)."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.bench_chat import on_pty  # noqa: E402
from tests.benchmarks.common import PYTHON, ROOT, report  # noqa: E402
from tests.fakeprovider import FakeProvider, Reply, words  # noqa: E402


def piped(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", default="513d19a", help="the commit to compare with (before the journal)")
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--words", type=int, default=20000)
    args = parser.parse_args()

    server = FakeProvider().start()
    scratch = Path(tempfile.mkdtemp())
    baseline = scratch / "baseline"
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(baseline), args.baseline],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        sides = {}
        for name, tree in (("baseline", baseline), ("now", ROOT)):
            home = scratch / f"home-{name}"
            env = {
                **os.environ,
                "AGENTIK_HOME": str(home),
                "ANTHROPIC_BASE_URL": server.url,
                "ANTHROPIC_API_KEY": "sk-ant-bench",
                "PYTHONPATH": str(tree),
            }
            subprocess.run(
                [PYTHON, "-m", "agentik_cli", "agents", "create", "bench", "--model", "claude-sonnet-4-0"],
                env=env,
                cwd=tree,
                check=True,
                stdout=subprocess.DEVNULL,
            )
            sides[name] = (tree, env)

        def compare(title: str, measure, runs: int) -> None:  # noqa: ANN001 - (cmd, env, cwd) -> seconds
            times: dict[str, list[float]] = {"baseline": [], "now": []}
            for _ in range(runs + 1):  # the first round warms both up and is not counted
                for name, (tree, env) in sides.items():
                    times[name].append(measure([PYTHON, "-m", "agentik_cli", "chat", "bench", "-m", "go"], env, tree))
            base, now = (statistics.median(times[n][1:]) for n in ("baseline", "now"))
            print(f"\n{title} (median of {runs}, alternating):")
            report(f"baseline {args.baseline}", base)
            report("this checkout (journaled)", now, f"({now / base:.3f}x the baseline)")

        server.default = Reply(text=words(args.words), output_tokens=int(args.words * 1.3))
        compare(
            f"A {args.words:,}-word streamed reply on a pseudo-terminal",
            lambda cmd, env, cwd: on_pty_in(cmd, env, cwd),
            args.runs,
        )
        compare("The same reply, piped", piped, args.runs)
        server.default = Reply(text="a short reply in a few pieces")
        compare("A one-shot chat, piped", piped, args.runs * 2)
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(baseline)], check=False)
        server.stop()


def on_pty_in(cmd: list[str], env: dict[str, str], cwd: Path) -> float:
    here = os.getcwd()
    os.chdir(cwd)
    try:
        return on_pty(cmd, env)
    finally:
        os.chdir(here)


if __name__ == "__main__":
    main()
