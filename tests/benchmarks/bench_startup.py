"""Start-up and listing speed (issue 2).

    python tests/benchmarks/bench_startup.py

Prints the median of 11 runs of: a bare interpreter, `agentik --version`, `agentik --help`, and
`agentik agents list --json` over 1,000 agents, and completing an agent name (Tab) over them; then
the same completion on a PostgreSQL store of 1,000 agents (a server of its own, started through
tests/pgserver.py when the binaries are there; `--no-postgres` leaves it out)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import AGENTIK, PYTHON, report, timed  # noqa: E402


def main() -> None:
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
