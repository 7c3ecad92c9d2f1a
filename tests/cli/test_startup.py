"""Fast start: --help and --version must not pay for the SDKs, the ORM or the price list."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import base_env

HEAVY = ("anthropic", "openai", "genai_prices", "alembic", "sqlalchemy", "sqlmodel", "mcp", "jsonschema", "httpx")


@pytest.mark.parametrize(
    "args",
    [
        ["--version"],
        ["--help"],
        ["agents", "--help"],
        ["agents", "create", "--help"],
        ["skills", "--help"],
        ["chat", "--help"],
    ],
)
def test_start_up_imports_nothing_heavy(args, tmp_path):
    code = (
        "import sys\n"
        f"sys.argv = ['agentik', *{args!r}]\n"
        "from agentik_cli.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"heavy = [m for m in {HEAVY!r} if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=base_env(tmp_path),
        timeout=120,
    )
    assert "HEAVY=\n" in result.stderr, result.stderr
    assert result.stdout


def test_version(cli):
    from agentik_cli import __version__

    assert cli("--version").stdout == f"agentik {__version__}\n"


LISTING_HEAVY = ("sqlalchemy", "sqlmodel", "anthropic", "openai", "genai_prices")


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["costs", "summary"],
        ["costs", "summary", "--json"],
        ["agents", "list"],
        ["agents", "list", "--json"],
        ["agents", "list", "--csv"],
        ["sessions", "list"],
        ["sessions", "list", "--json"],
        ["sessions", "list", "--csv"],
    ],
)
@pytest.mark.sqlite_only("the light reads are SQLite's; PostgreSQL reads through the ORM")
def test_the_listings_read_a_current_sqlite_store_without_the_orm(args, cli):
    """issue 22: the three listings people run most read SQLite through sqlite3 (store/lightreads.py);
    --json and --csv without rich either."""
    agent = cli("agents", "create", "helper", "--model", "claude-sonnet-4-0", "--json")
    assert agent.exit_code == 0, agent.output
    recorded = cli(
        "costs",
        "record",
        "--agent",
        "helper",
        "--model",
        "claude-sonnet-4-0",
        "--provider",
        "anthropic",
        "--input-tokens",
        "10",
        "--output-tokens",
        "5",
    )
    assert recorded.exit_code == 0, recorded.output
    heavy = LISTING_HEAVY + (("rich",) if "--json" in args or "--csv" in args else ())
    code = (
        "import sys\n"
        f"sys.argv = ['agentik', *{args!r}]\n"
        "from agentik_cli.cli.app import app\n"
        "try:\n    app()\nexcept SystemExit:\n    pass\n"
        f"heavy = [m for m in {heavy!r} if m in sys.modules]\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    env = base_env()
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert "HEAVY=\n" in result.stderr, result.stderr
    forced = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**env, "AGENTIK_ORM_READS": "1"}, timeout=120
    )
    assert "sqlalchemy" in forced.stderr  # the test can tell the two paths apart
