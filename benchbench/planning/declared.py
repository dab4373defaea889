"""Tasks a suite file declares from a user's own data (``[tasks.NAME]`` tables: a source,
a path, options), without a plugin of their own. The core does not read the data: it hands
the declarations to the plugins in ``$BENCHBENCH_DATA_TASKS`` (JSON) before they load, so
this process and every worker register the same tasks, and checks that each was."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError
from .suite_file import SUFFIXES, read_suite_file

ENV = "BENCHBENCH_DATA_TASKS"
"""Where the declarations of the suite being run travel to plugins and workers."""


def declare(file: str | None) -> list[str]:
    """Publish the ``[tasks]`` table of a suite file (``file`` names one; a registered
    suite's name declares nothing); the names declared. Relative paths in a declaration
    start at the file's folder."""
    os.environ.pop(ENV, None)
    path = Path(file) if file else None
    if path is None or path.suffix not in SUFFIXES or not path.is_file():
        return []
    raw = read_suite_file(path)
    tasks = raw.get("tasks") if isinstance(raw, dict) else None
    if tasks is None:
        return []
    if not isinstance(tasks, dict) or not all(isinstance(t, dict) for t in tasks.values()):
        raise BenchbenchError(f"{path}: [tasks] must hold one table per task ([tasks.NAME])")
    folder = str(path.resolve().parent)
    declared = {str(name): {**table, "suite_dir": folder} for name, table in tasks.items()}
    os.environ[ENV] = json.dumps(declared, sort_keys=True, default=str)
    return sorted(declared)


def check_declared(names: Sequence[str], pm: Any, file: str) -> None:
    """One line when a declared task did not become a task (a bad source, path, column:
    the plugin's own words)."""
    known = pm.registry.entries.get("task", {})
    missing = [name for name in names if name not in known]
    if missing:
        why = "; ".join(message for _, message in pm.errors) or "no plugin registers it"
        raise BenchbenchError(f"{file}: task {missing[0]!r} cannot be declared: {why}")


def environment() -> dict[str, str]:
    """The variable a remote worker needs (a Ray task's ``runtime_env``)."""
    value = os.environ.get(ENV)
    return {ENV: value} if value else {}
