"""The layers: store/ is the only package that speaks SQL, and nothing imports from a layer above it.

cli/        parses and prints
services/   decides what things mean
store/      the only place that speaks SQL        providers/   speaks to the SDKs
values, records, environment, money, limits, text, errors, timeutil, paths, netcheck, owner: below all of them
"""

from __future__ import annotations

import ast
from pathlib import Path

import agentik_cli

PACKAGE = Path(agentik_cli.__file__).parent

# what each layer may import from agentik_cli (the bottom modules are open to every layer)
BOTTOM = {
    "values",
    "records",
    "environment",
    "money",
    "limits",
    "text",
    "errors",
    "timeutil",
    "paths",
    "netcheck",  # which addresses a hostile URL may reach, and within what time: fetch's and the webhooks'
    "owner",  # which process holds a reservation, and whether it still runs
    "__init__",
    "__version__",
}
ALLOWED = {
    "cli": {"cli", "services", "store", "providers", "config"},
    "services": {"services", "store", "providers"},
    "store": {"store"},
    "providers": {"providers"},
    "bottom": set(),
}
SQL_MODULES = ("sqlalchemy", "sqlmodel", "sqlite3", "psycopg")
# calls that run a statement, whoever builds it
STATEMENT_METHODS = {"execute", "exec", "exec_driver_sql", "executemany", "scalars", "scalar_one", "merge", "add_all"}


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        layer = relative.parts[0] if len(relative.parts) > 1 else "bottom"
        if layer == "bottom" and relative.stem not in BOTTOM:
            layer = relative.stem  # config, __main__: the wiring at the top
        found.append((layer, path))
    return found


def imports(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def test_only_the_store_speaks_sql():
    offenders = []
    for layer, path in modules():
        if layer == "store":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for name in imports(tree):
            if name.split(".")[0] in SQL_MODULES:
                offenders.append(f"{path.relative_to(PACKAGE)} imports {name}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in STATEMENT_METHODS
            ):
                offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} calls .{node.func.attr}()")
    assert offenders == []


def test_nothing_imports_from_a_layer_above_it():
    offenders = []
    for layer, path in modules():
        allowed = ALLOWED.get(layer)
        if allowed is None:
            continue
        for name in imports(ast.parse(path.read_text(encoding="utf-8"))):
            parts = name.split(".")
            if parts[0] != "agentik_cli" or len(parts) < 2:
                continue
            target = parts[1]
            if target in BOTTOM or target in allowed:
                continue
            offenders.append(f"{path.relative_to(PACKAGE)} ({layer}) imports {name}")
    assert offenders == []


def test_completion_knows_every_built_in_skill():
    from agentik_cli.cli.complete import BUILTIN_SKILLS
    from agentik_cli.services.skills.registry import BUILTIN

    assert set(BUILTIN_SKILLS) == set(BUILTIN)
