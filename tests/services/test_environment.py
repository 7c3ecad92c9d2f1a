"""The bottom layers (issue 9): value types below every package, the provider registry, and the
environment a command runs in (store, streams, terminal or not, clock, user), injectable as a whole."""

from __future__ import annotations

import ast
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agentik_cli import environment, timeutil
from agentik_cli.environment import Environment
from agentik_cli.providers import registry
from agentik_cli.providers.openai_provider import OpenAIProvider
from tests.conftest import base_env, db_rows

PACKAGE = Path(__file__).resolve().parents[2] / "agentik_cli"
VALUE_TYPES = {"Usage", "UnitPrices", "Priced", "Attachment", "Turn", "ChatRequest", "Chunk", "DEFAULT_MAX_TOKENS"}


def imports(path: Path) -> list[tuple[str, list[str]]]:
    """Every import in a module, at any depth (function-level ones too): (module, names)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found.extend((alias.name, []) for alias in node.names)
    return found


def modules(*parts: str) -> list[Path]:
    out = []
    for part in parts:
        target = PACKAGE / part
        out.extend(sorted(target.rglob("*.py")) if target.is_dir() else [target])
    return out


# ---- value types at the bottom ----


def test_nothing_below_services_imports_from_above():
    below = modules(
        "providers", "store", "values.py", "environment.py", "timeutil.py", "paths.py", "money.py", "limits.py"
    )
    wrong = [
        (path.relative_to(PACKAGE).as_posix(), module)
        for path in below
        for module, names in imports(path)
        if module.startswith(("agentik_cli.services", "agentik_cli.cli"))
        or (module == "agentik_cli" and {"services", "cli", "config"} & set(names))
    ]
    assert wrong == []


def test_values_import_only_the_bottom():
    allowed = {"agentik_cli.errors", "agentik_cli.limits", "agentik_cli.money", "agentik_cli.text"}
    own = [module for module, _ in imports(PACKAGE / "values.py") if module.startswith("agentik_cli")]
    assert own and set(own) <= allowed


def test_value_types_are_imported_from_values_only():
    """No re-export: a value type is taken from agentik_cli.values, never through another module."""
    wrong = []
    for path in [*modules("."), *sorted((PACKAGE.parent / "tests").rglob("*.py"))]:
        for module, names in imports(path):
            if module.startswith("agentik_cli") and module != "agentik_cli.values" and VALUE_TYPES & set(names):
                wrong.append((path.name, module, sorted(VALUE_TYPES & set(names))))
    assert wrong == []
    defined = [
        (path.relative_to(PACKAGE).as_posix(), node.name)
        for path in modules(".")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.ClassDef) and node.name in VALUE_TYPES
    ]
    assert sorted(defined) == sorted(("values.py", name) for name in VALUE_TYPES - {"DEFAULT_MAX_TOKENS"})


# ---- the provider registry ----


class AcmeProvider(OpenAIProvider):
    """A provider added the way the registry says: one class (here on the OpenAI wire format)."""

    name = "acme"
    display_name = "Acme"
    key_env = "ACME_API_KEY"
    base_url_env = "OPENAI_BASE_URL"
    default_model = "acme-large"
    model_prefixes = ("acme-",)


@pytest.fixture
def acme(monkeypatch, fake):
    monkeypatch.setitem(registry.PROVIDERS, "acme", AcmeProvider)
    return fake


def test_a_provider_is_one_class_in_the_registry(cli, acme, monkeypatch, agentik_home):
    from agentik_cli.cli import complete

    # first use, with only the new provider's key: the agent made is on its default model
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("ACME_API_KEY", "acme-key-0123456789")
    assert cli("chat", "-m", "hi").stdout == "Hello from the fake provider.\n"
    assert acme.requests[-1].headers["authorization"] == "Bearer acme-key-0123456789"
    assert acme.requests[-1].body["model"] == "acme-large"
    assert cli.json("agents", "show", "assistant")["provider"] == "acme"
    # its model names tell the provider; its name is a choice wherever providers are
    assert cli.json("agents", "create", "b", "--model", "ACME-small")["provider"] == "acme"
    assert cli.json("agents", "create", "c", "--model", "x1", "--provider", "ACME")["provider"] == "acme"
    keys = {row["provider"]: row for row in cli.json("keys", "list")}
    assert keys["acme"]["source"] == "$ACME_API_KEY"
    assert "acme" in complete.providers("a")
    cli("keys", "set", "acme", input="stored-acme-key\n")
    assert "unknown provider 'zzz'" in cli("keys", "set", "zzz", input="k\n", code=2).stderr
    refused = cli("agents", "create", "d", "--model", "m", "--provider", "zzz", code=2)
    assert "use one of: anthropic, openai, acme" in refused.stderr


def test_the_registry_imports_no_sdk():
    code = (
        "import sys, agentik_cli.providers.registry as r\n"
        "r.names(); r.infer('claude-x'); r.get('openai').key_env\n"
        "print(sorted(m for m in ('anthropic', 'openai', 'httpx', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=base_env(), check=True)
    assert result.stdout.strip() == "[]"


def test_each_provider_declares_what_the_tree_asks_of_it():
    for name in registry.names():
        cls = registry.get(name)
        assert cls.name == name
        for attribute in ("display_name", "key_env", "key_header", "default_model", "base_url_env"):
            assert getattr(cls, attribute), (name, attribute)
        assert registry.infer(cls.default_model) == name
    assert not registry.takes_temperature("anthropic") and registry.takes_temperature("openai")


# ---- the environment ----

FROZEN = datetime(2031, 5, 6, 12, 30, tzinfo=UTC)


def test_a_frozen_clock_is_the_time_of_every_write_and_report(cli):
    with environment.use(Environment(clock=lambda: FROZEN)):
        assert timeutil.now_utc() == FROZEN
        assert timeutil.parse_when("today") == datetime(2031, 5, 6, tzinfo=UTC)  # TZ is UTC in the suite
        cli(
            "costs",
            "record",
            "--model",
            "gpt-4o-mini",
            "--provider",
            "openai",
            "--input-tokens",
            "1000000",
            "--output-tokens",
            "0",
        )
        cli(
            "costs",
            "record",
            "--model",
            "gpt-4o-mini",
            "--provider",
            "openai",
            "--input-tokens",
            "1000000",
            "--output-tokens",
            "0",
            "--at",
            "2d",
        )
        stamps = sorted(row["timestamp"] for row in cli.json("costs", "list"))
        assert stamps == ["2031-05-04T12:30:00Z", "2031-05-06T12:30:00Z"]
        assert cli.json("costs", "summary")["today"] == 0.15
    with environment.use(Environment(clock=lambda: FROZEN + timedelta(days=1))):
        summary = cli.json("costs", "summary")
        assert (summary["today"], summary["month"]) == (0, 0.3)


@pytest.mark.parametrize("value", ["", "   ", "a\x1bb", "x" * 201, "a\x85b"])
def test_a_bad_agentik_user_is_refused_before_anything_runs(cli, fake, agentik_home, monkeypatch, value):
    cli("agents", "create", "a", "--model", "gpt-4o-mini")
    monkeypatch.setenv("AGENTIK_USER", value)
    for args in (["chat", "a", "-m", "hi"], ["agents", "list"], ["costs", "summary"]):
        lines = cli(*args, code=2).stderr.splitlines()
        assert lines[0].startswith("agentik: error: AGENTIK_USER is") and lines[1].startswith("hint: ")
        assert len(lines) == 2
    assert fake.requests == []
    assert db_rows(agentik_home, "SELECT count(*) FROM messages") == [(0,)]
    assert cli("--version").stdout.startswith("agentik ")  # nothing that records anything


def test_the_root_options_last_one_command(cli, tmp_path, agentik_home):
    other = tmp_path / "other.db"
    cli("--db", str(other), "agents", "create", "elsewhere", "--model", "gpt-4o-mini")
    assert cli.json("agents", "list") == []  # back on the default store
    assert [a["name"] for a in cli.json("--db", str(other), "agents", "list")] == ["elsewhere"]
    assert environment.current().db is None


def test_a_command_writes_to_the_environments_streams(cli):
    out, err = io.StringIO(), io.StringIO()
    with environment.use(Environment(stdout=out, stderr=err, stdout_isatty=False, stderr_isatty=False)):
        result = cli("agents", "create", "a", "--model", "gpt-4o-mini", "--json")
        cli("agents", "list")
    assert result.stdout == ""
    assert json.loads(out.getvalue().split("\n}\n")[0] + "\n}")["name"] == "a"
    assert "a " in out.getvalue().split("\n}\n")[1]


def test_the_environment_describes_the_real_process_by_default(monkeypatch):
    env = Environment()
    assert env.stdout is sys.stdout and env.stdin is sys.stdin
    assert env.stdout_isatty == sys.stdout.isatty()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not env.color
    monkeypatch.delenv("NO_COLOR")
    assert env.color and not Environment(no_color=True).color
    monkeypatch.setenv("AGENTIK_USER", " ana ")
    assert env.user == "ana"
    assert Environment(user="bo").user == "bo"
    assert env.given_isatty("stdout") is None and Environment(stdout_isatty=True).given_isatty("stdout") is True
    assert os.environ.get("AGENTIK_USER") == " ana "
