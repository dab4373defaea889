"""The task kind: data, its splits, and what counts as good on it.

A task loads its data once into :class:`Splits` of CPU tensors; the loop moves them to the
device. Eight-bit images may stay eight-bit (:class:`Pixels`): four times less memory on the
host and the device, standardised one batch at a time where the batch is.
``target_accuracy`` is the validation accuracy that defines time-to-target, and ``budget``
the budget a run gets when the suite names none. A transfer task names a
``source`` task to pretrain on.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from .budget import Budget
from .components import INPUT_KINDS, INPUT_RANKS, Component
from .errors import BenchbenchError
from .paths import DATA_DIR_ENV, default_data_dir  # noqa: F401 (their home before paths)


@dataclass(frozen=True)
class Split:
    """Inputs (float) and integer class labels of one split."""

    x: Tensor
    y: Tensor

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"split has {len(self.x)} inputs but {len(self.y)} labels")

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Pixels:
    """How a task's inputs are stored when they are 8-bit images: uint8 tensors ``(N, C, ...)``
    (CIFAR-10's 60k images take 184 MB rather than 737 MB as float32; STL-10's 100k unlabeled
    images 2.8 GB rather than 11 GB), turned into the float32 inputs the model sees one batch
    at a time, on the batch's device: ``(x / 255 - mean[c]) / std[c]``, ``mean`` and ``std``
    per channel on the [0, 1] scale (the training split's statistics)."""

    mean: tuple[float, ...]
    std: tuple[float, ...]
    _affine: dict[Any, tuple[Tensor, Tensor]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if len(self.mean) != len(self.std) or not self.mean:
            raise ValueError(f"need one mean and one std per channel; got {self.mean}, {self.std}")
        if not all(math.isfinite(s) and s > 0 for s in self.std):
            raise ValueError(f"every channel's std must be positive, got {self.std}")

    def decode(self, x: Tensor) -> Tensor:
        """float32 model inputs from a batch of uint8 pixels ``(B, C, ...)``, computed on the
        batch's device (one multiply-add per value)."""
        key = (x.device, x.ndim)
        if key not in self._affine:  # per device: a new tensor on a GPU is a synchronous copy
            shape = (1, len(self.mean)) + (1,) * (x.ndim - 2)
            std = torch.tensor(self.std, dtype=torch.float64)
            scale = (1.0 / (255.0 * std)).float().reshape(shape).to(x.device)
            shift = (-torch.tensor(self.mean, dtype=torch.float64) / std).float()
            self._affine[key] = (scale, shift.reshape(shape).to(x.device))
        scale, shift = self._affine[key]
        return torch.addcmul(shift, x.float(), scale)


@dataclass(frozen=True)
class Splits:
    """Train / val / test, plus unlabeled inputs for semi- and self-supervised tasks.

    With ``pixels`` set, every split's inputs and the unlabeled inputs are uint8 tensors that
    :meth:`decode` turns into model inputs batch by batch; without, they are the model inputs."""

    train: Split
    val: Split
    test: Split
    unlabeled: Tensor | None = None
    pixels: Pixels | None = None

    def decode(self, x: Tensor) -> Tensor:
        """Model inputs from a batch of stored inputs (the batch itself without ``pixels``)."""
        return x if self.pixels is None else self.pixels.decode(x)


class Task(Component):
    """Data plus the definition of success on it.

    Required class attributes, checked at registration: ``num_classes`` (an int >= 2),
    ``input_shape`` (one example's shape, no batch dimension), ``modality`` (one of
    :data:`~benchbench.components.INPUT_KINDS`, matching the rank of ``input_shape``),
    ``target_accuracy`` (in (0, 1]) and ``budget`` (a :class:`Budget`). What :meth:`load`
    returns is checked against them once per load (:func:`~benchbench.tasks.check_splits`)."""

    kind = "task"
    hooks = ("load", "data_files", "augment")
    num_classes: ClassVar[int]
    input_shape: ClassVar[tuple[int, ...]]
    modality: ClassVar[str]
    target_accuracy: ClassVar[float]
    budget: ClassVar[Budget]
    trainer_defaults: ClassVar[Mapping[str, Any]] = {}
    """Training-loop hyperparameters this task prefers (``batch_size``, ``lr``...)."""
    source: ClassVar[str | None] = None
    """The task whose trained encoder every run of a transfer task starts from. The source
    model is trained once per architecture and seed (within ``source_budget``), cached under
    the data folder, and its cost is reported apart from the run's."""
    source_budget: ClassVar[Budget | None] = None
    flips: ClassVar[bool] = False
    """Whether an input mirrored along its last axis keeps its class (objects, not digits):
    test-time augmentation (the ``tta`` loop setting) then adds mirrored views."""
    has_unlabeled: ClassVar[bool | None] = None
    """Whether :meth:`load` offers unlabeled data; when declared, a semi-supervised method on
    a task without any is refused when the run is planned rather than when it starts."""

    @classmethod
    def validate_class(cls) -> None:
        super().validate_class()
        where = cls.__qualname__
        missing = [
            a
            for a in ("num_classes", "input_shape", "modality", "target_accuracy", "budget")
            if not hasattr(cls, a)
        ]
        if missing:
            raise ValueError(
                f"{where} does not declare {', '.join(missing)}, which every task must"
            )
        if isinstance(cls.num_classes, bool) or not isinstance(cls.num_classes, int):
            raise ValueError(f"{where}.num_classes must be an int, got {cls.num_classes!r}")
        if cls.num_classes < 2:
            raise ValueError(f"{where}.num_classes must be at least 2, got {cls.num_classes}")
        shape = cls.input_shape
        if (
            not isinstance(shape, tuple)
            or not shape
            or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
        ):
            raise ValueError(f"{where}.input_shape must be a tuple of positive ints, got {shape!r}")
        if cls.modality not in INPUT_KINDS:
            raise ValueError(
                f"{where}.modality must be one of {', '.join(INPUT_KINDS)}, got {cls.modality!r}"
            )
        if len(shape) != INPUT_RANKS[cls.modality]:
            raise ValueError(
                f"{where}.input_shape {shape} does not fit modality {cls.modality!r}, whose "
                f"examples have {INPUT_RANKS[cls.modality]} dimension(s)"
            )
        target = cls.target_accuracy
        if isinstance(target, bool) or not isinstance(target, int | float) or not 0 < target <= 1:
            raise ValueError(f"{where}.target_accuracy must be in (0, 1], got {target!r}")
        for attr in ("budget", "source_budget"):
            value = getattr(cls, attr)
            if not isinstance(value, Budget) and not (attr == "source_budget" and value is None):
                raise ValueError(f"{where}.{attr} must be a benchbench.Budget, got {value!r}")
        if cls.source is not None and cls.source_budget is None:
            raise ValueError(f"{where} names source {cls.source!r} but no source_budget")

    @abstractmethod
    def load(self, data_dir: Path) -> Splits:
        """Read (or generate and cache) the data under ``data_dir``.

        Every split's inputs are float32 CPU tensors ``(N, *input_shape)`` with finite
        values, standardised as the model should see them, or uint8 pixels with
        :class:`Pixels` set on the splits; labels are int64 ``(N,)`` in ``[0, num_classes)``;
        ``unlabeled`` (or None) is stored like the inputs. Raise
        :class:`~benchbench.BenchbenchError` with a sentence on how to get missing data; never
        download at run time without saying so."""

    def data_files(self, data_dir: Path) -> list[Path]:
        """The files under ``data_dir`` that :meth:`load` reads, whether present or not.
        Their contents are fingerprinted into every run id of the task, so other or repaired
        data is another run. Tasks whose data is bundled or generated by code return none
        (the default): code identifies them."""
        return []

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """The task's standard augmentation of a batch ``(B, *input_shape)`` on its device,
        ``strength`` in [0, 1]; a new tensor of the same shape, randomness only from
        ``generator``. None by default."""
        return x


def check_splits(task: Task, splits: Splits, include_test: bool = True) -> None:
    """Raise :class:`~benchbench.tasks.TaskDataError` for the first way ``splits`` break what
    ``task`` declares: types, dtypes, shapes, label range, classes used, finite inputs. Run once per
    load; without it such data fails deep inside torch, blamed on no one, or trains silently
    on the wrong problem (NaN inputs even end as a method's divergence). A split that is a
    dataset read from disk is checked on its first, middle and last examples.
    ``include_test=False`` leaves the test split unread (tuning never reads it)."""
    if not isinstance(splits, Splits):
        raise TaskDataError(task.name, f"load() returned {type(splits).__name__}, not Splits")
    seen: set[int] = set()
    complete = True
    stored = torch.float32 if splits.pixels is None else torch.uint8
    if splits.pixels is not None and len(splits.pixels.mean) != task.input_shape[0]:
        raise TaskDataError(
            task.name,
            f"pixels standardise {len(splits.pixels.mean)} channel(s), but inputs of "
            f"{tuple(task.input_shape)} have {task.input_shape[0]}",
        )
    for part in ("train", "val", "test") if include_test else ("train", "val"):
        data = getattr(splits, part)
        if isinstance(data, Split):
            _check_inputs(task, f"{part} inputs", data.x, stored=stored)
            seen.update(_check_labels(task, part, data.y))
            continue
        complete = False
        if splits.pixels is not None:
            raise TaskDataError(task.name, f"the {part} split is a dataset, but pixels are set")
        if len(data) == 0:
            raise TaskDataError(task.name, f"the {part} split is empty")
        for index in sorted({0, len(data) // 2, len(data) - 1}):
            x, y = data[index]
            _check_inputs(task, f"{part} example {index}", x, single=True)
            label = torch.as_tensor(y)
            if label.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
                raise TaskDataError(task.name, f"{part} label {index} is {y!r}, not an integer")
            _check_labels(task, part, label.reshape(1).long())
    if splits.unlabeled is not None:
        _check_inputs(task, "unlabeled inputs", splits.unlabeled, allow_empty=True, stored=stored)
    if complete and len(seen) < task.num_classes:
        raise TaskDataError(
            task.name,
            f"the labels use only {len(seen)} of the {task.num_classes} classes "
            "num_classes declares",
        )


def _check_inputs(
    task: Task,
    what: str,
    x: Any,
    single: bool = False,
    allow_empty: bool = False,
    stored: torch.dtype = torch.float32,
) -> None:
    shape = tuple(task.input_shape)
    if not isinstance(x, Tensor):
        raise TaskDataError(task.name, f"{what} are {type(x).__name__}, not a torch.Tensor")
    if x.dtype != stored:
        raise TaskDataError(task.name, f"{what} are {x.dtype}, not {stored}")
    example = tuple(x.shape) if single else tuple(x.shape[1:])
    if example != shape:
        raise TaskDataError(
            task.name,
            f"{what} have shape {tuple(x.shape)}: examples of {example}, but the "
            f"task declares input_shape {shape}",
        )
    if not single and len(x) == 0 and not allow_empty:
        raise TaskDataError(task.name, f"{what}: the split is empty")
    if not x.is_floating_point():
        return  # pixels: every value is a finite byte
    if not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).reshape(len(x) if not single else 1, -1).any(1).sum())
        raise TaskDataError(task.name, f"{what}: {bad} example(s) hold NaN or infinite values")


def _check_labels(task: Task, part: str, y: Any) -> set[int]:
    if not isinstance(y, Tensor):
        raise TaskDataError(task.name, f"{part} labels are {type(y).__name__}, not a torch.Tensor")
    if y.dtype != torch.int64:
        raise TaskDataError(task.name, f"{part} labels are {y.dtype}, not torch.int64")
    if y.ndim != 1:
        raise TaskDataError(task.name, f"{part} labels have shape {tuple(y.shape)}, not (N,)")
    low, high = int(y.min()), int(y.max())
    if low < 0 or high >= task.num_classes:
        raise TaskDataError(
            task.name,
            f"{part} labels run from {low} to {high}, outside 0..{task.num_classes - 1} "
            f"(num_classes = {task.num_classes})",
        )
    return set(torch.unique(y).tolist())


class TaskDataError(BenchbenchError):
    """Data a task loaded that breaks what the task declares; blamed on the task."""

    def __init__(self, task: str, problem: str) -> None:
        super().__init__(f"task {task!r} loaded data that breaks its declaration: {problem}")
        self.component = f"task {task}"


def stratified_split(labels: np.ndarray, sizes: Sequence[float], seed: int) -> list[np.ndarray]:
    """Indices of a seeded, class-stratified split into parts of the given fractions.

    ``sizes`` are fractions summing to 1, e.g. ``(0.6, 0.2, 0.2)``. The same labels and seed
    always give the same indices. scikit-learn computes them; they are kept under the data
    folder, keyed by the labels, fractions, seed and scikit-learn's version, so a process that
    loads a task again need not import scikit-learn (1-2 s) to split it.
    """
    if not np.isclose(sum(sizes), 1.0):
        raise ValueError(f"split fractions must sum to 1, got {sizes}")
    labels = np.asarray(labels)
    identity = json.dumps(
        [list(map(float, sizes)), seed, version("scikit-learn"), labels.dtype.str]
    )
    key = hashlib.sha256(labels.tobytes() + identity.encode()).hexdigest()[:20]
    path = default_data_dir() / "splits" / f"{key}.npz"
    try:
        with np.load(path) as cached:
            return [cached[f"part{i}"] for i in range(len(sizes))]
    except (OSError, ValueError, KeyError):
        pass
    parts = _split(labels, sizes, seed)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
        np.savez(partial, **{f"part{i}": part for i, part in enumerate(parts)})
        os.replace(partial, path)
    except OSError:
        pass  # a read-only data folder: split again next time
    return parts


def _split(labels: np.ndarray, sizes: Sequence[float], seed: int) -> list[np.ndarray]:
    from sklearn.model_selection import train_test_split  # slow import: only when splitting

    rest = np.arange(len(labels))
    parts, remaining = [], 1.0
    for fraction in sizes[:-1]:
        part, rest = train_test_split(
            rest,
            train_size=fraction / remaining,
            stratify=labels[rest],
            random_state=seed,
        )
        parts.append(np.sort(part))
        remaining -= fraction
    parts.append(np.sort(rest))
    return parts
