"""Start-up and listing speed (issue 2).

    python tests/benchmarks/bench_startup.py

Prints the median of 11 runs of: a bare interpreter, `agentik --version`, `agentik --help`, and
`agentik agents list --json` over 1,000 agents, and completing an agent name (Tab) over them; then
the same completion on a PostgreSQL store of 1,000 agents (a server of its own, started through
tests/pgserver.py when the binaries are there; `--no-postgres` leaves it out).

Then the read commands of issue 22 side by side with the release b0b4fcb (common.BASELINE), each
version on a home of its own built by its own code (1,000 cost rows and messages over 100 agents
and 100 sessions: bench_reports.build), in alternating runs: `costs summary`, `agents list` and
`sessions list`, as a table and as --json. `--reads-only` runs only these; `--runs N` (default 11)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import (  # noqa: E402
    AGENTIK,
    BASELINE,
    PYTHON,
    ROOT,
    Side,
    load,
    release_tree,
    report,
    side_by_side,
    timed,
)

READS = {
    "costs summary": ["costs", "summary"],
    "costs summary --json": ["costs", "summary", "--json"],
    "agents list": ["agents", "list"],
    "agents list --json": ["agents", "list", "--json"],
    "sessions list": ["sessions", "list"],
    "sessions list --json": ["sessions", "list", "--json"],
}
BUILD = (
    "import sys\n"
    "from pathlib import Path\n"
    "from tests.benchmarks.bench_reports import build\n"
    "build(Path(sys.argv[1]), 1000, agents=100, sessions=100, days=365)\n"
)


def reads(runs: int) -> None:
    """The read commands, this checkout against the release, and bare python for scale."""
    import os

    tree = release_tree()
    homes = {}
    for label, cwd in (("now", ROOT), (BASELINE, tree)):
        home = tempfile.mkdtemp()
        subprocess.run([PYTHON, "-c", BUILD, home], cwd=cwd, env={**os.environ, "PYTHONPATH": ""}, check=True)
        homes[label] = (home, cwd)
    print(f"\nRead commands, this checkout against {BASELINE} (median of {runs}, alternating; {load()}):")
    bare = Side("python -c pass", [PYTHON, "-c", "pass"])
    for name, args in READS.items():
        sides = [
            bare,
            *(Side(label, [*AGENTIK, *args], {"AGENTIK_HOME": home}, cwd) for label, (home, cwd) in homes.items()),
        ]
        medians = side_by_side(sides, runs)
        now, then = medians["now"], medians[BASELINE]
        print(
            f"  agentik {name:<28} {BASELINE} {then * 1000:6.0f} ms   now {now * 1000:6.0f} ms"
            f"   now/{BASELINE} {now / then:4.2f}x   (python -c pass {medians[bare.name] * 1000:4.0f} ms)"
        )


def main() -> None:
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 11
    if "--reads-only" in sys.argv:
        reads(runs)
        return
    with tempfile.TemporaryDirectory() as home:
        env = {"AGENTIK_HOME": home}
        bare = timed([PYTHON, "-c", "pass"])
        report("python -c pass", bare)
        version = timed([*AGENTIK, "--version"], env)
        report("agentik --version", version, f"(+{(version - bare) * 1000:.0f} ms over bare python)")
        report("agentik --help", timed([*AGENTIK, "--help"], env))

        seed = (
            "from agentik_cli.services.opening import command_store as store\n"
            "from agentik_cli.services import agents\n"
            "s = store()\n"
            "for i in range(1000):\n"
            "    agents.create(s, agents.AgentFields(name=f'agent-{i:04d}', model='claude-sonnet-4-0',"
            " description='benchmark agent', system_prompt='You are agent %d.' % i))\n"
        )
        import os

        subprocess.run([PYTHON, "-c", seed], env={**os.environ, **env}, check=True)
        listing = timed([*AGENTIK, "agents", "list", "--json"], env)
        report("agentik agents list --json (1,000 agents)", listing)
        imports = timed([PYTHON, "-c", "import sqlmodel, rich.console, typer"], env)
        report("  of which: python + import sqlmodel, rich, typer", imports)
        complete_env = {
            **env,
            "_AGENTIK_COMPLETE": "complete_bash",
            "COMP_WORDS": "agentik\nchat\nagent-05",
            "COMP_CWORD": "2",
        }
        completing = timed([str(Path(PYTHON).parent / "agentik")], complete_env)
        report("completing an agent name (1,000 agents), bash", completing)
        if "--no-postgres" not in sys.argv:
            postgres(seed, complete_env)
    reads(runs)


def postgres(seed: str, complete_env: dict[str, str]) -> None:
    import os

    from tests import pgserver

    try:
        pgserver.start()
    except Exception as exc:  # no binaries: say so rather than fail the SQLite figures
        print(f"(PostgreSQL case not run: {exc})")
        return
    try:
        url = pgserver.create_database("bench_startup", template="template0")
        env = {**complete_env, "AGENTIK_DB": url}
        subprocess.run([PYTHON, "-c", seed], env={**os.environ, **env}, check=True)
        completing = timed([str(Path(PYTHON).parent / "agentik")], env)
        report("completing an agent name (1,000 agents), PostgreSQL", completing)
        listing = timed([*AGENTIK, "agents", "list", "--json"], {**env, "_AGENTIK_COMPLETE": ""})
        report("agentik agents list --json (1,000 agents), PostgreSQL", listing)
    finally:
        pgserver.drop_database("bench_startup")
        pgserver.unconfigure(None)


if __name__ == "__main__":
    main()
