"""Tasks from a user's own data, declared in a suite file instead of written as a plugin::

    [tasks.leaves]
    source = "imagefolder"   # or "csv", "parquet", "npz", "hf"
    path = "~/data/leaves"   # relative paths start at the suite file's folder
    image_size = [64, 64]
    target_accuracy = 0.9
    budget = { epochs = 20 }

- ``imagefolder``: one sub-folder of images per class; ``train/``, ``val/`` and ``test/``
  folders of such sub-folders when present (else a stratified split with a fixed seed), and
  an ``unlabeled/`` folder of images as unlabeled data. Images are decoded once (resized to
  ``image_size`` when given; ``grayscale = true`` for one channel) and cached under the data
  folder as 8-bit pixels, keyed by the files' content, when they fit in memory
  (``declared_images.IN_MEMORY_BYTES``); else, or with ``in_memory = false``, they are
  decoded per sample through the loop's disk path, standardised by the training images'
  statistics (one pass, cached).
- ``csv`` and ``parquet``: one file (or ``train``/``val``/``test`` files in a folder) with a
  ``target`` column; ``features`` lists the input columns (default: every other one),
  standardised with the training split's statistics; rows without a target are unlabeled.
- ``hf``: a Hugging Face ``datasets`` dataset saved on disk (``save_to_disk``), its
  ``image`` (or ``features``) and ``label`` columns; rows labeled -1 or None are unlabeled.
  Needs ``pip install 'benchbench[hf]'``.
- ``npz``: arrays ``x`` and ``y`` (and ``x_val``/``y_val``, ``x_test``/``y_test``,
  ``x_unlabeled`` when the file has its own splits); ``x`` is ``(N, C, H, W)`` images,
  ``(N, C, L)`` sequences or ``(N, F)`` features.

The sources live in :mod:`.declared_images` and :mod:`.declared_tables`, what they share in
:mod:`.declared_base`. The core hands the declarations of the suite being run to this plugin
(:func:`benchbench.planning.declared.declarations`), published before plugins load, so worker
processes register the same tasks. The declared options other than the path become the
task's ``options`` hyperparameter (so they are part of every run id), and the files' content
fingerprint is too; the path is not, so the same data elsewhere gives the same ids.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import benchbench
from benchbench import Budget, Task
from benchbench.params import Param
from benchbench.planning.declared import declarations

from .declared_images import ImageFolderTask
from .declared_tables import HFTask, NpzTask, ParquetTask, TableTask

_COMMON = {"source", "path", "target_accuracy", "budget", "summary", "suite_dir"}
_OPTIONS = {
    "imagefolder": {"image_size", "grayscale", "in_memory"},
    "csv": {"target", "features"},
    "parquet": {"target", "features"},
    "npz": set(),
    "hf": {"image", "features", "label", "image_size", "grayscale"},
}
_MADE: dict[str, type[Task]] = {}


def declared_tasks() -> list[type[Task]]:
    """The task classes of the declarations of the suite being run (none when there is
    none); the same class again for a declaration seen before in this process."""
    return [make(name, spec) for name, spec in sorted(declarations().items())]


def make(name: str, spec: dict[str, Any]) -> type[Task]:
    """A task class named ``name`` from one declaration; ``ValueError`` naming the task and
    the problem for a declaration that cannot be one."""
    key = json.dumps([name, spec], sort_keys=True)
    if key in _MADE:
        return _MADE[key]
    where = f"task {name!r} (declared in a suite file)"
    source = spec.get("source")
    if source not in _OPTIONS:
        raise ValueError(f"{where}: source must be one of {', '.join(_OPTIONS)}, got {source!r}")
    unknown = set(spec) - _COMMON - _OPTIONS[source]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for {source}")
    if not isinstance(spec.get("path"), str):
        raise ValueError(f"{where}: 'path' must name the data (a folder or a file)")
    if "target_accuracy" not in spec:
        raise ValueError(
            f"{where}: give target_accuracy (the validation accuracy whose time-to-target "
            "is measured)"
        )
    check_types(spec, where)
    path = Path(spec["path"]).expanduser()
    if not path.is_absolute():
        path = Path(spec.get("suite_dir") or ".") / path
    options = {k: spec[k] for k in sorted(_OPTIONS[source]) if k in spec}
    base = _BASES[source]
    shape, classes, modality = base.describe(path, options, where)
    attributes = {
        "name": name,
        "summary": spec.get("summary") or f"{source} data from {path}",
        "root": path,
        "source_kind": source,
        "num_classes": classes,
        "input_shape": shape,
        "modality": modality,
        "target_accuracy": spec.get("target_accuracy"),
        "budget": Budget.from_dict(spec.get("budget", {"epochs": 10})),
        "declaration": spec,
        "defaults": {"options": json.dumps(options, sort_keys=True)},
        "params": {"options": Param("str", help="the declaration's options (from the suite file)")},
        "__module__": __name__,
        "__qualname__": f"Declared[{name}]",
    }
    cls = type(f"Declared_{len(_MADE)}", (base,), attributes)
    _MADE[key] = cls
    return cls


def _flag(value: Any) -> bool:
    return isinstance(value, bool)


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and value.isprintable()


def _columns(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(_text(v) for v in value)


def _size(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and all(type(v) is int and 0 < v <= IMAGE_SIDE_MOST for v in value)
    )


def _accuracy(value: Any) -> bool:
    return type(value) in (int, float) and 0 < value <= 1


def _budget(value: Any) -> bool:
    return isinstance(value, dict) and bool(value)


IMAGE_SIDE_MOST = 8192
"""The largest side ``image_size`` takes (one 8192x8192 RGB image is 200 MB decoded)."""

_TYPES: dict[str, tuple[Any, str]] = {
    "target_accuracy": (_accuracy, "a number above 0 and at most 1"),
    "budget": (_budget, "a table of limits, e.g. { epochs = 20 }"),
    "summary": (_text, "one line of text without control characters"),
    "features": (_columns, 'a list of column names, e.g. ["a", "b"]'),
    "target": (_text, "a column name"),
    "label": (_text, "a column name"),
    "image": (_text, "a column name"),
    "grayscale": (_flag, "true or false"),
    "in_memory": (_flag, "true or false"),
    "image_size": (_size, f"[height, width], each a whole number from 1 to {IMAGE_SIDE_MOST}"),
}
"""What each key of a declaration must be: a string of column names is not a list of them
(``features = "ab"`` meant ["a", "b"]), "no" is not false, 0 is not a budget."""


def check_types(spec: dict[str, Any], where: str) -> None:
    """``ValueError`` naming the first key of ``spec`` whose value is not what it must be."""
    for key, (fits, what) in _TYPES.items():
        if key in spec and not fits(spec[key]):
            raise ValueError(f"{where}: {key} must be {what}, got {ascii(spec[key])[:80]}")


_BASES: dict[str, Any] = {
    "imagefolder": ImageFolderTask,
    "csv": TableTask,
    "parquet": ParquetTask,
    "npz": NpzTask,
    "hf": HFTask,
}


@benchbench.hookimpl(trylast=True)
def benchbench_register_components(registry: Any) -> None:
    """After every other plugin: a declaration named like a component already registered
    (``[tasks.digits]``) is left out, not the component (the core says which, naming the
    declaration), so the built-in tasks stay whole."""
    taken = {name for entries in registry.entries.values() for name in entries}
    for task in declared_tasks():
        if task.name not in taken:
            registry.add(task)
