"""No import circles between the suite's modules, and no arrow from the engine up.

Read with `ast`, never imported: every `import` / `from ... import` counts, at module level and
inside functions alike (a function-level import hides a circle, it does not remove it), and so do
imports under `if TYPE_CHECKING:`: a type-only import is still a dependency a reader follows. A
package's `__init__` counts as a module; importing `pkg.mod` counts as an edge to `pkg.mod` (the
module that holds the name).
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("vaal_core", "baselines", "slurm", "analysis")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((REPO / pkg).rglob("*.py"))}


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    return [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module that `name` starts with (`a.b.c` -> `a.b` when c is a name)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for mod, path in modules.items():
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the module pkg.mod when there is one
                targets = [f"{base}.{alias.name}" for alias in node.names] or [base]
                targets = [t if _resolve(t, modules) == t else base for t in targets]
            for target in targets:
                dep = _resolve(target, modules)
                if dep is not None and dep != mod:
                    graph[mod].add(dep)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph, as a path that returns to its start, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                return [*path[path.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_checker_finds_a_circle_through_function_level_and_type_only_imports():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    tree = ast.parse(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import x\n"
        "def f():\n    import y\n"
    )
    assert sorted(n.names[0].name for n in _imports(tree)) == ["TYPE_CHECKING", "x", "y"]


def test_the_graph_sees_relative_and_package_imports():
    graph = import_graph()
    assert "vaal_core.spec" in graph["vaal_core.run.loop"]  # from .spec import ...
    assert (
        "vaal_core.tasks.base" in graph["vaal_core.tasks.classification"]
    )  # from .base import ...
    assert (
        "vaal_core.train.passes" in graph["vaal_core.tasks.segmentation"]
    )  # from ..passes import ...
    assert "vaal_core.datasets.cache" in graph["vaal_core.datasets"]  # from .cache import ...
    assert "vaal_core.run.distributed" in graph["slurm.ddp"]  # absolute


def test_no_import_circle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_every_package_is_listed_for_installation():
    """pyproject's explicit package list names every package folder, so `pip install .` (not only
    the editable install CI uses) ships `vaal_core.tasks`, `vaal_core.datasets`, ..."""
    import tomllib

    listed = set(
        tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    found = {
        ".".join(init.parent.relative_to(REPO).parts)
        for pkg in PACKAGES
        for init in (REPO / pkg).rglob("__init__.py")
    }
    assert found <= listed, (
        f"not in pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
    )


# the engine sits below the layers that read its logs, launch it or plug into it
ENGINE = "vaal_core"
ABOVE = ("analysis", "baselines", "slurm", "benchmarks")


def test_the_engine_imports_nothing_above_it():
    up = sorted(
        f"{mod} -> {dep}"
        for mod, deps in import_graph().items()
        if mod.split(".")[0] == ENGINE
        for dep in deps
        if dep.split(".")[0] in ABOVE
    )
    assert not up, "engine imports a layer above it: " + ", ".join(up)


def test_task_kinds_never_see_strategies_or_the_query_context():
    graph = import_graph()
    kinds = [m for m in graph if m.startswith("vaal_core.tasks")]
    for mod in kinds:
        assert not graph[mod] & {"vaal_core.strategies", "vaal_core.train.batches"}, mod
