"""The README's two set-up commands, and CI running exactly the second one."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_readme_starts_with_install_and_test_commands():
    install, test = readme_commands()
    assert "pip install -e ." in install and "agentik --help" in install
    assert "pip install -e '.[test]'" in test and "pytest" in test


def test_ci_runs_exactly_the_readme_test_command():
    _, test = readme_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines
    assert any(line.strip().startswith(".venv/bin/ruff check") for line in ci_lines)


def test_ci_runs_the_slow_tests_too():
    """The `slow` marker is for leaving them out while iterating (`-m "not slow"`); if the default run
    ever leaves them out, CI must run them on its own."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "slow" in " ".join(options["markers"])
    ci = (ROOT / ".ci" / "run").read_text()
    assert "not slow" not in options.get("addopts", "") or re.search(r"pytest .*-m slow", ci)
