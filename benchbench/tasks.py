"""The task kind: data, its splits, and what counts as good on it.

A task loads its data once into :class:`Splits` of CPU tensors; the loop moves them to the
device. ``target_accuracy`` is the validation accuracy that defines time-to-target, and
``budget`` the budget a run gets when the suite names none. A transfer task names a
``source`` task to pretrain on.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from .budget import Budget
from .components import Component

DATA_DIR_ENV = "BENCHBENCH_DATA"


def default_data_dir() -> Path:
    """``$BENCHBENCH_DATA``, else ``~/.cache/benchbench``: where tasks read and cache data."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "benchbench")


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
class Splits:
    """Train / val / test, plus unlabeled inputs for semi- and self-supervised tasks."""

    train: Split
    val: Split
    test: Split
    unlabeled: Tensor | None = None


class Task(Component):
    """Data plus the definition of success on it."""

    kind = "task"
    num_classes: ClassVar[int]
    input_shape: ClassVar[tuple[int, ...]]
    modality: ClassVar[str]  # "image", "signal" or "tabular"
    target_accuracy: ClassVar[float]
    budget: ClassVar[Budget]
    trainer_defaults: ClassVar[Mapping[str, Any]] = {}
    """Training-loop hyperparameters this task prefers (``batch_size``, ``lr``...)."""
    source: ClassVar[str | None] = None
    """For a transfer task: the task whose trained encoder every run starts from. The source
    model is trained once per architecture and seed (within ``source_budget``), cached under
    the data folder, and its cost is reported apart from the run's."""
    source_budget: ClassVar[Budget | None] = None

    def load(self, data_dir: Path) -> Splits:
        """Read (or generate and cache) the data under ``data_dir``."""
        raise NotImplementedError

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """The task's standard augmentation of a batch, on its device; none by default."""
        return x


def stratified_split(labels: np.ndarray, sizes: Sequence[float], seed: int) -> list[np.ndarray]:
    """Indices of a seeded, class-stratified split into parts of the given fractions.

    ``sizes`` are fractions summing to 1, e.g. ``(0.6, 0.2, 0.2)``. The same labels and seed
    always give the same indices.
    """
    from sklearn.model_selection import train_test_split  # slow import: only when splitting

    if not np.isclose(sum(sizes), 1.0):
        raise ValueError(f"split fractions must sum to 1, got {sizes}")
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
