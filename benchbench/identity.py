"""What produced a run: each component's origin and version, and benchbench's own.

A run's id hashes its resolved spec *and* this code identity (``RunSpec.code``), so an
upgraded plugin or an edited source tree makes new runs: results made by other code are
stale, never reused and never averaged with new ones; tuning studies are keyed the same way.

A component is identified, first rule that applies:

1. by a ``version`` declared on its class: the plugin's promise to bump it whenever the
   component's behaviour changes, so a release that changes nothing else (documentation,
   another component) keeps the results: ``bb-extra 0.3.2`` -> ``bb-extra (mixup version 2)``;
2. by its distribution and version when installed from a release: ``bb-extra 0.3.2``;
3. for an unreleased source tree (an editable install, a ``-p`` module, a plugin on the
   path) by the version plus a fingerprint of the source: ``benchbench 0.1.0+src.1a2b3c4d5e6f``.
   The fingerprint is a SHA-256 over the module that defines the class and every module of
   its own top-level package or of benchbench that it imports, transitively (imports inside
   functions too), so editing one plugin module re-runs the components that use it and no
   others, and a core helper a plugin uses (a file reader) counts for that plugin. A name
   imported from the package (``from benchbench import Regularizer``) counts as the module
   that defines it, not as the package's index; imports only a type checker reads
   (``if TYPE_CHECKING:``) do not count.

benchbench itself follows rules 2 and 3, its fingerprint starting at
:mod:`benchbench.execution.execute`, the single entry to training: the modules that only plan,
store, rank or show results (``cli``, ``storage``, ``ranking``, ``reporting``, the suite
session) can change without making results stale.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import importlib.metadata
import importlib.util
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

CORE_ENTRY = "benchbench.execution.execute"
"""Where the fingerprint of benchbench's own training code starts."""


def component_identity(cls: type, distribution: str | None, plugin: str) -> str:
    """The identity of one component class registered by ``plugin`` (from ``distribution``,
    None for a ``-p`` module): see the module's docstring for the rules."""
    owner = distribution or f"-p {plugin}"
    declared = getattr(cls, "version", None)
    if declared is not None:
        return f"{owner} ({cls.name} version {declared})"
    if cls.__module__ == "__main__":  # a script's or a notebook cell's class: its own source
        import inspect

        try:
            text = inspect.getsource(cls)
        except (OSError, TypeError):
            text = ""
        return f"{owner} 0+src.{hashlib.sha256(text.encode()).hexdigest()[:12]}"
    return f"{owner} {_version(distribution, cls.__module__)}"


def core_identity() -> str:
    """benchbench's own identity: ``benchbench 0.1.0`` or ``benchbench 0.1.0+src.<hash>``."""
    return f"benchbench {_version('benchbench', CORE_ENTRY)}"


def run_code(registry: Any, components: Iterable[tuple[str, str]]) -> dict[str, str]:
    """The code identity of a run: ``{"benchbench": ..., "<kind>:<name>": ...}`` for each
    (kind, name) in ``components`` (a transfer task's source task included by the caller)."""
    code = {"benchbench": core_identity()}
    for kind, name in components:
        entry = registry.entries[kind][name]
        code[f"{kind}:{name}"] = component_identity(
            entry.cls, entry.origin.distribution, entry.origin.plugin
        )
    return dict(sorted(code.items()))


def changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """What differs between two code identities, one ``key: old -> new`` each."""
    keys = sorted(set(old) | set(new))
    return [
        f"{key}: {old.get(key, 'unrecorded')} -> {new.get(key, 'absent')}"
        for key in keys
        if old.get(key) != new.get(key)
    ]


def stale_line(pairs: Iterable[tuple[Mapping[str, str], Mapping[str, str]]], shown: int = 3) -> str:
    """What made stored results stale, for ``(stored code, planned code)`` pairs: the most
    common changes with the number of results each concerns."""
    counts = Counter(line for old, new in pairs for line in changes(old, new))
    lines = [f"{line} ({n})" for line, n in counts.most_common(shown)]
    if len(counts) > shown:
        lines.append(f"{len(counts) - shown} more changes")
    return "; ".join(lines)


def digest(value: Any) -> str:
    """Short stable hash of a JSON-able value (a code identity, a variant)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


@functools.cache
def _version(distribution: str | None, module: str) -> str:
    """A released distribution's version, else the version (or 0) with the source's
    fingerprint. Computed once per process: the fingerprint describes the code this process
    imported when it first asked."""
    released, number = _release(distribution, _source_file(module))
    if released:
        return number
    return f"{number}+src.{source_fingerprint(module)}"


def _release(distribution: str | None, source: Path | None) -> tuple[bool, str]:
    """(is ``source`` a file installed by a release of ``distribution``?, its version or
    "0"). A wheel's RECORD lists every file it installed with a hash; an editable install
    lists only its path hook, and a source tree's egg-info lists files without hashes."""
    if distribution is None:
        return False, "0"
    found = list(importlib.metadata.distributions(name=distribution))
    if not found:
        return False, "0"
    for dist in found:
        for file in dist.files or () if source else ():
            if file.hash is not None and Path(file.locate()).resolve() == source.resolve():
                return True, dist.version
    return False, found[0].version


@functools.cache
def source_fingerprint(module: str) -> str:
    """SHA-256 (12 hex digits) over the sources of :func:`sources`: names and contents count."""
    files = sources(module)
    hasher = hashlib.sha256()
    for name in sorted(files):
        hasher.update(name.encode() + b"\0" + files[name].read_bytes() + b"\0")
    return hasher.hexdigest()[:12]


def sources(module: str) -> dict[str, Path]:
    """``module``'s source file and that of every module of its top-level package or of
    benchbench it imports, transitively, by module name."""
    tops = {module.partition(".")[0], "benchbench"}
    files: dict[str, Path] = {}
    todo = [module]
    while todo:
        name = todo.pop()
        if name in files or name == "benchbench":  # an index: see _public_module
            continue
        path = _source_file(name)
        if path is None:
            todo.extend(_public_module(name))
            continue
        files[name] = path
        todo.extend(n for n in _imported(path, name) if n.partition(".")[0] in tops)
    return files


def _public_module(name: str) -> list[str]:
    """The module that defines ``benchbench.<Name>``, a name of the package's public index
    (``from benchbench import Regularizer``). The index itself (``benchbench/__init__.py``)
    only maps names to modules, imported on first use: it is nobody's code, and a name
    added to it makes no result stale."""
    index, _, attr = name.partition(".")
    if index != "benchbench" or "." in attr:
        return []
    from .public import PUBLIC

    found = PUBLIC.get(attr)
    return [f"benchbench.{found}"] if found else []


def _source_file(module: str) -> Path | None:
    """The ``.py`` file of a module, or None (not a module, or no source)."""
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError, AttributeError):
        return None
    origin = spec.origin if spec else None
    return Path(origin) if origin and origin.endswith(".py") else None


def _imported(path: Path, module: str) -> set[str]:
    """Every module name ``path`` (the source of ``module``) imports, relative imports
    resolved; ``from a import b`` yields ``a`` and ``a.b`` (b may be a submodule). Imports
    under ``if TYPE_CHECKING:`` never run, so they are not the module's code."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _runtime_nodes(ast.parse(path.read_bytes(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package
            for _ in range(max(node.level - 1, 0)):
                base = base.rpartition(".")[0]
            if node.level == 0:
                base = node.module or ""
            elif node.module:
                base = f"{base}.{node.module}" if base else node.module
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names if alias.name != "*")
    return {n for n in names if n}


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node of ``tree`` but those inside ``if TYPE_CHECKING:`` blocks."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        found.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return found
