"""The data of the runs to come, checked before anything trains: :func:`check_data` loads each
task's data once, so a missing or damaged dataset fails its own runs (in seconds, with one
line) and the rest of a suite goes on; :func:`prepare_data` fetches what a registry knows
(:mod:`benchbench.data.fetch`) before runs are planned, since a run's id holds its data's
fingerprint."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from ..errors import BenchbenchError
from ..plugins.registry import Registry
from ..spec import RunResult, RunSpec


def prepare_data(
    tasks: Iterable[str],
    registry: Registry,
    data_dir: Path | None,
    download: bool,
    progress: bool = True,
) -> dict[str, str]:
    """For ``tasks`` whose files a registry knows (:mod:`benchbench.data.fetch`) and that
    are missing or damaged here: with ``download``, fetch them (before runs are planned:
    a run's id holds its data's fingerprint); without, the line per task that says how."""
    from ..data.fetch import prepare
    from ..tasks import default_data_dir

    known = registry.entries.get("task", {})
    classes = {name: known[name].cls for name in sorted(set(tasks)) if name in known}
    folder = Path(data_dir) if data_dir else default_data_dir()
    return prepare(classes, folder, download, progress=progress)


def check_data(
    specs: Iterable[RunSpec], registry: Registry, data_dir: Path | None
) -> dict[str, RunResult]:
    """Load each task's data (per task and task hyperparameters) once; every spec of a
    task whose data cannot be loaded gets a ``failed`` result with the task's one-line
    reason, by run id. Loading generates and caches generated data too, before workers
    would race to. The line of a task whose files a registry knows says how to fetch them
    (:mod:`benchbench.data.fetch`)."""
    from ..tasks import default_data_dir

    data_dir = Path(data_dir) if data_dir else default_data_dir()
    by_task: dict[tuple[str, str], list[RunSpec]] = {}
    for spec in specs:
        key = (spec.task, json.dumps(spec.component_hparams(spec.task), sort_keys=True))
        by_task.setdefault(key, []).append(spec)
    failures = {}
    for (name, hparams), group in by_task.items():
        try:
            registry.build("task", name, json.loads(hparams)).load(data_dir)
        except Exception as exc:
            if isinstance(exc, BenchbenchError):  # checksums read only for a failed task
                hint = prepare_data([name], registry, data_dir, download=False).get(name)
                exc = BenchbenchError(f"{exc}; {hint}") if hint else exc
            for spec in group:
                failures[spec.run_id] = RunResult.failed(spec, exc, f"task {name}")
    return failures
