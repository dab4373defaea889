"""The core's layers only look down: every import inside ``benchbench/`` (at the top of a
module, inside a function, or for a type checker) goes to a module of the same layer or a
lower one, and no modules import each other in a circle. The layers are those of
docs/architecture.md; no module is longer than 500 lines."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1] / "benchbench"

LAYERS = [
    # 0: what everything shares: errors, values, a run's spec and identity
    (
        "errors",
        "phrasing",
        "arguments",
        "paths",
        "params",
        "budget",
        "kinds",
        "spec",
        "public",
        "identity",
        "progress",
    ),
    # 1: the plugin contracts (what a plugin subclasses), and the machine a run trains on
    (
        "components",
        "tasks",
        "optimizers",
        "plugins.config",
        "tracking.base",
        "executors.options",
        "executors.base",
        "host",
    ),  # fmt: skip
    # 2: the hooks, the plugin manager and its registry
    ("hookspecs", "plugins"),
    # 3: data, and the one training loop
    ("data", "training"),
    # 4: from names to runs: suites, specs, tuning targets, data checks
    ("planning",),
    # 5: one run, in this process
    ("execution",),
    # 6: where runs are placed, and what trackers hear of them
    ("executors", "tracking"),
    # 7: the results database and result files
    ("storage",),
    # 8: tuning with Optuna
    ("tuning",),
    # 9: what users read: leaderboards, reports, the plugin listing
    ("ranking", "reporting", "inventory"),
    # 10: what users run: a suite, one run, verify, profile
    ("running",),
    # 11: for plugin authors: conformance checks, the pytest plugin, the scaffold
    ("authoring",),
    # 12: the public index and API, and their stable aliases
    ("", "api", "conformance", "testing"),
    # 13: the command line
    ("cli", "__main__"),
]


def modules() -> dict[str, Path]:
    """Every module of benchbench by dotted name, relative to the package (``""``: its index)."""
    found = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def layer(module: str) -> int:
    """The layer of ``module``: the most specific entry of :data:`LAYERS` that names it or
    a package above it."""
    best, depth = None, -1
    for number, names in enumerate(LAYERS):
        for name in names:
            if module == name or (name and module.startswith(name + ".")):
                if len(name) > depth:
                    best, depth = number, len(name)
    assert best is not None, f"benchbench.{module} is in no layer: add it to LAYERS"
    return best


def imports(module: str, path: Path, known: dict[str, Path]) -> dict[str, int]:
    """The benchbench modules ``module`` imports (any import, anywhere in it), with a line."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    package = [p for p in package if p]
    found: dict[str, int] = {}
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            elif node.module == "benchbench" or (node.module or "").startswith("benchbench."):
                target = node.module.removeprefix("benchbench").lstrip(".")
            else:
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}".lstrip(".")
                name = sub if sub in known else target
                if name in known and name != module:
                    found.setdefault(name, node.lineno)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "benchbench" or alias.name.startswith("benchbench."):
                    name = alias.name.removeprefix("benchbench").lstrip(".")
                    if name in known and name != module:
                        found.setdefault(name, node.lineno)
    return found


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {module: imports(module, path, known) for module, path in known.items()}


def circle(edges: dict[str, dict[str, int]]) -> list[str] | None:
    """One import circle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if state.get(target) is None:
                found = visit(target)
                if found:
                    return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(edges):
        if module not in state:
            found = visit(module)
            if found:
                return found
    return None


def test_the_walk_finds_the_imports_it_must():
    """The walk sees imports at the top, inside functions and for type checkers, relative
    and absolute, and ``from package import module``."""
    edges = graph()
    assert "execution.execute" in edges["executors.worker"]  # at the top
    assert "planning.data_check" in edges["running.session"]  # inside a function
    assert "plugins.registry" in edges["hookspecs"]  # for a type checker only
    assert "host.numerics" in edges["executors.worker"]  # from ..host import numerics
    assert circle({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}}) == ["a", "b", "c", "a"]
    assert circle({"a": {"b": 1}, "b": {}}) is None


def test_no_import_circle_inside_benchbench():
    found = circle(graph())
    assert found is None, "import circle: " + " -> ".join(f"benchbench.{m}" for m in found)


def test_every_import_looks_down_the_layers():
    upward = [
        f"benchbench.{module} (layer {layer(module)}) imports benchbench.{target} "
        f"(layer {layer(target)}) on line {line}"
        for module, targets in graph().items()
        for target, line in targets.items()
        if layer(target) > layer(module)
    ]
    assert upward == []


def test_no_module_is_longer_than_500_lines():
    lengths = {
        str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in modules().values()
    }
    assert {name: n for name, n in lengths.items() if n > 500} == {}


def test_every_folder_of_modules_is_a_package():
    """A folder without ``__init__.py`` is a namespace package, which setuptools leaves out
    of the wheel: an installed benchbench would miss its modules."""
    folders = {path.parent for path in ROOT.rglob("*.py")}
    assert (
        sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").exists()) == []
    )
