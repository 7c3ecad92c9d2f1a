"""The README's two set-up commands, and CI running exactly the second one."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"```sh\n(.+?)\n```", text)[:2]


def test_readme_starts_with_install_and_test_commands():
    install, test = readme_commands()
    assert "pip install -c requirements.lock -e ." in install and "agentik --help" in install
    assert "pip install -c requirements.lock -e '.[test]'" in test and test.endswith("python -m pytest")


def test_ci_runs_exactly_the_readme_test_command():
    _, test = readme_commands()
    ci_lines = (ROOT / ".ci" / "run").read_text().splitlines()
    assert test in ci_lines
    assert any(line.strip().startswith(".venv/bin/ruff check") for line in ci_lines)


def test_the_test_command_runs_the_slow_tests_too():
    """The `slow` marker is for leaving them out while iterating (`-m "not slow"`): one command runs
    everything."""
    options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    assert "slow" in " ".join(options["markers"])
    assert " -m " not in f" {options.get('addopts', '')} "


def _name(text: str) -> str:
    return re.sub(r"[-_.]+", "-", text).lower()


def test_the_lock_pins_every_dependency_within_its_range():
    """requirements.lock (uv pip compile, see the README) pins one version of every package the
    test install takes, each inside the range pyproject.toml gives: a range changed without
    locking again fails here."""
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = [*project["dependencies"]]
    for extra in ("test", "postgres", "mcp"):
        wanted += project["optional-dependencies"][extra]
    pins = {
        _name(found.group(1)): found.group(2)
        for found in re.finditer(r"^([A-Za-z0-9_.\-]+)==([^\s;]+)", (ROOT / "requirements.lock").read_text(), re.M)
    }
    for line in wanted:
        requirement = Requirement(line)
        name = _name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: lock again (README, Contributing)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name} {pins[name]}, outside {requirement.specifier}: lock again"
        )
