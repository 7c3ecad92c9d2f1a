"""The layers: store/ is the only package that speaks SQL, nothing imports from a layer above it, and
no module imports itself back through a chain of imports (imports inside functions count too).

cli/        parses and prints
services/   decides what things mean
store/      the only place that speaks SQL        providers/   speaks to the SDKs    skills/   runs tools
                                                  sources/     reads other tools' usage logs
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
    "cli": {"cli", "services", "store", "providers", "skills", "sources"},
    "services": {"services", "store", "providers", "skills", "sources"},
    "store": {"store"},
    "providers": {"providers"},
    "sources": {"sources"},  # files in, values out: no store, no prices
    "skills": {"skills"},  # a skill reaches the ledger only through its context (skills/base.Context.spend)
    "bottom": set(),
}
# the only modules of store/ that cli/ imports (everything else it reaches through services/), and why
CLI_REACHES_STORE = {
    "store.quickread": "tab completion reads names with sqlite3 alone, without SQLAlchemy (cli/complete.py)",
    "store.changes": "--watch waits on the store's changes between two redraws (cli/costs.py, cli/sessions.py)",
}
SQL_MODULES = ("sqlalchemy", "sqlmodel", "sqlite3", "psycopg")
# modules outside store/ that speak SQL, and why: none of them to agentik's store
SQL_ELSEWHERE = {
    "sources/llm.py": "llm's own log is a SQLite database (logs.db), read read-only, as the other sources read files",
}
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
        if layer == "store" or str(path.relative_to(PACKAGE)) in SQL_ELSEWHERE:
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


def test_the_cli_reaches_the_store_only_through_its_short_list():
    offenders = []
    for layer, path in modules():
        if layer != "cli":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                # `from agentik_cli.store import quickread` and `from agentik_cli.store.quickread import X`
                named = (
                    [f"{node.module}.{a.name}" for a in node.names]
                    if node.module == "agentik_cli.store"
                    else [node.module]
                )
            elif isinstance(node, ast.Import):
                named = [alias.name for alias in node.names]
            else:
                continue
            for name in named:
                if name.startswith("agentik_cli.store") and name.removeprefix("agentik_cli.") not in CLI_REACHES_STORE:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} imports {name}")
    assert offenders == []


def test_completion_knows_every_built_in_skill():
    from agentik_cli.cli.complete import BUILTIN_SKILLS
    from agentik_cli.skills.registry import BUILTIN

    assert set(BUILTIN_SKILLS) == set(BUILTIN)


def module_name(path: Path) -> str:
    """agentik_cli/store/unit.py -> store.unit; a package's __init__.py -> the package."""
    parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    """Every module of agentik_cli and the modules of ours it imports, at module level or inside a function."""
    known = {module_name(path) for _, path in modules()}
    graph: dict[str, set[str]] = {name: set() for name in known}
    for _, path in modules():
        source = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = []
                for alias in node.names:
                    # `from agentik_cli.store import unit` imports the module store.unit
                    candidate = f"{node.module}.{alias.name}"
                    targets.append(candidate if candidate.removeprefix("agentik_cli.") in known else node.module)
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            for target in targets:
                if target.startswith("agentik_cli."):
                    name = target.removeprefix("agentik_cli.")
                    if name in known and name != source:
                        graph[source].add(name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for after in sorted(graph[node]):
            if after not in index:
                visit(after)
                low[node] = min(low[node], low[after])
            elif after in on_stack:
                low[node] = min(low[node], index[after])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def a_loop(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One shortest loop through the component's first module, to show a reader where to cut."""
    members = set(component)
    start = component[0]
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for after in sorted(graph[node] & members):
            if after == start:
                return [*paths[node], start]
            if after not in paths:
                paths[after] = [*paths[node], after]
                queue.append(after)
    return component


def test_the_cycle_finder_finds_a_loop_and_only_a_loop():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert cycles(graph) == [["a", "b", "c"]]
    assert a_loop(graph, ["a", "b", "c"]) == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_loop_even_through_imports_inside_functions():
    graph = import_graph()
    assert "store.unit" in graph and graph["services.agents"], "the graph must see our modules and their imports"
    found = []
    for component in cycles(graph):
        arrows = [f"{module} -> {after}" for module in component for after in sorted(graph[module] & set(component))]
        found.append(
            f"{len(component)} modules: {', '.join(component)}\n"
            f"    e.g. {' -> '.join(a_loop(graph, component))}\n"
            f"    its arrows: {'; '.join(arrows)}"
        )
    assert not found, "import loops:\n  " + "\n  ".join(found)
