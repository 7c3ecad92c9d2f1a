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
