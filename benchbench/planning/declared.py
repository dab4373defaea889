"""Tasks a suite file declares from a user's own data (``[tasks.NAME]`` tables: a source,
a path, options), without a plugin of their own. The core does not read the data: it hands
the declarations to the plugins in ``$BENCHBENCH_DATA_TASKS`` before they load, so this
process and every worker register the same tasks (:func:`declarations` reads them back), and
checks that each was.

The variable holds the declarations as JSON, or, when that would pass
:data:`INLINE_MOST` (an environment variable over 128 KiB cannot start a process at all: a
suite of 1,200 declared tasks made every worker fail without a word), the suite file's path
and a digest of its bytes, from which a worker reads them again."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError
from .suite_file import SUFFIXES, read_suite_file

ENV = "BENCHBENCH_DATA_TASKS"
"""Where the declarations of the suite being run travel to plugins and workers."""
INLINE_MOST = 32 * 1024
"""The most characters of declarations carried in the variable itself."""


def declare(file: str | None) -> list[str]:
    """Publish the ``[tasks]`` table of a suite file (``file`` names one; a registered
    suite's name declares nothing); the names declared. Relative paths in a declaration
    start at the file's folder."""
    os.environ.pop(ENV, None)
    path = Path(file) if file else None
    if path is None or path.suffix not in SUFFIXES or not path.is_file():
        return []
    declared = _read(path)
    if not declared:
        return []
    text = json.dumps(declared, sort_keys=True, default=str)
    if len(text) > INLINE_MOST:
        text = f"{path.resolve()}#{_digest(path)}"
    os.environ[ENV] = text
    return sorted(declared)


def declarations() -> dict[str, dict[str, Any]]:
    """The declarations published by :func:`declare` (none when nothing is): each task's
    table, with ``suite_dir``, the folder its relative paths start at."""
    value = os.environ.get(ENV)
    if not value:
        return {}
    if value.startswith("{"):
        return json.loads(value)
    file, _, digest = value.rpartition("#")
    path = Path(file)
    if not path.is_file() or _digest(path) != digest:
        raise BenchbenchError(
            f"{path}: the suite file changed (or went) while its runs were going; its "
            "declared tasks are read from it, so run the suite again"
        )
    return json.loads(json.dumps(_read(path), default=str))


def _read(path: Path) -> dict[str, dict[str, Any]]:
    raw = read_suite_file(path)
    tasks = raw.get("tasks") if isinstance(raw, dict) else None
    if tasks is None:
        return {}
    if not isinstance(tasks, dict) or not all(isinstance(t, dict) for t in tasks.values()):
        raise BenchbenchError(f"{path}: [tasks] must hold one table per task ([tasks.NAME])")
    folder = str(path.resolve().parent)
    return {str(name): {**table, "suite_dir": folder} for name, table in tasks.items()}


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def check_declared(names: Sequence[str], pm: Any, file: str) -> None:
    """One line when a declared task did not become a task (a bad source, path, column:
    the plugin's own words), or when its name is another component's: the plugin that builds
    declared tasks marks each class it makes with its ``declaration`` and registers last
    (``trylast``), leaving a name that is taken to what took it."""
    for name in names:
        entry = next((e[name] for e in pm.registry.entries.values() if name in e), None)
        if entry is None:
            why = "; ".join(message for _, message in pm.errors) or "no plugin registers it"
            raise BenchbenchError(f"{file}: task {name!r} cannot be declared: {why}")
        if getattr(entry.cls, "declaration", None) is None:
            raise BenchbenchError(
                f"{file}: task {name!r} cannot be declared: {entry.kind} {name!r} of "
                f"{entry.origin.describe()} has that name; name yours otherwise ([tasks.NAME])"
            )


def environment() -> dict[str, str]:
    """The variable a remote worker needs (a Ray task's ``runtime_env``)."""
    value = os.environ.get(ENV)
    return {ENV: value} if value else {}
