"""The Python API of ``benchbench data``: which tasks' data is here, and fetching it
(:mod:`benchbench.data.fetch` does the work; this module finds the tasks and their
registry entries through the plugins)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ..arguments import checked
from ..errors import unknown_name
from ..paths import PathLike, default_data_dir, optional_path
from .fetch import DataStatus, fetch, registry, status


def _tasks(names: Sequence[str], plugins: Sequence[str]) -> tuple[dict[str, type], set[str]]:
    """The named tasks' classes (every task's when none is named), and every task's name."""
    from ..plugins.manager import load_plugins

    known = load_plugins(plugins).registry.entries.get("task", {})
    for name in names:
        if name not in known:
            raise unknown_name("task", name, set(known))
    chosen = names or sorted(known)
    return {name: known[name].cls for name in chosen}, set(known)


@checked()
def data_status(
    *tasks: str,
    registry_file: PathLike | None = None,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
) -> list[DataStatus]:
    """Where each of ``tasks``' data stands (every task when none is named) in the data
    folder (``data_dir``): present, missing, damaged (a file with the wrong checksum) or
    included (nothing to fetch), with the size a fetch downloads, the folder and the
    command that fetches it. ``registry_file`` replaces tasks' own entries (else
    ``$BENCHBENCH_DATA_REGISTRY``)."""
    classes, known = _tasks(tasks, plugins)
    folder = optional_path(data_dir) or default_data_dir()
    entries = registry(classes, registry_file, known)
    return [status(name, cls, entries.get(name), folder) for name, cls in classes.items()]


@checked()
def fetch_data(
    *tasks: str,
    registry_file: PathLike | None = None,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> dict[str, list[Path]]:
    """Download the named ``tasks``' files into the data folder (``data_dir``), in the
    layout their readers expect, each checked against its checksum and renamed into place
    only then (files already here with the right checksum are kept), archives unpacked
    safely; the files per task. A task whose data needs no files is skipped.
    ``registry_file`` replaces the tasks' own entries (else ``$BENCHBENCH_DATA_REGISTRY``);
    ``progress`` shows a progress bar per file.

    :raises ~benchbench.BenchbenchError: an unknown task, or a file no mirror served with
        the right checksum (nothing half-written is left).
    """
    from ..errors import BenchbenchError
    from ..phrasing import either

    if not tasks:
        raise BenchbenchError(
            "name the tasks whose data to fetch (see "
            f"{either('benchbench data list', 'bb.data_status()')})"
        )
    classes, known = _tasks(tasks, plugins)
    folder = optional_path(data_dir) or default_data_dir()
    entries = registry(classes, registry_file, known)
    return {
        name: fetch(name, entries[name], folder, progress) for name in classes if name in entries
    }
