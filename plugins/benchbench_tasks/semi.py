"""Label-scarce variants of the built-in tasks, for semi- and self-supervised methods.

The same data and validation/test splits as the parent task; a seeded, class-balanced
subset of the training split keeps its labels and the rest is offered unlabeled. The number
of labels per class is a task hyperparameter, so a suite can sweep it
(``hparams = { "digits-semi.labels_per_class" = 4 }``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from benchbench import Budget, Int, Split, Splits

from .digits import Digits
from .mnist1d import MNIST1D


def labeled_subset(
    labels: torch.Tensor, per_class: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of ``per_class`` examples of every class (drawn with ``seed``) and of the rest."""
    y = labels.numpy()
    rng = np.random.default_rng(seed)
    chosen = []
    for label in np.unique(y):
        members = np.flatnonzero(y == label)
        if len(members) <= per_class:
            raise ValueError(
                f"class {label} has {len(members)} training examples; "
                f"labels_per_class must be below that, got {per_class}"
            )
        chosen.append(rng.choice(members, per_class, replace=False))
    labeled = np.sort(np.concatenate(chosen))
    return labeled, np.setdiff1d(np.arange(len(y)), labeled)


SEMI_PARAMS = {
    "labels_per_class": Int(1, help="training examples of each class that keep their label"),
    "label_seed": Int(0, help="seed of the choice of labeled examples"),
}


class _Semi:
    """Mixin turning a task's training split into a small labeled set plus unlabeled data
    (the rest of the training split, then whatever unlabeled data the task has)."""

    has_unlabeled = True

    def load(self, data_dir: Path) -> Splits:
        splits = super().load(data_dir)
        per_class = int(self.hparams["labels_per_class"])
        labeled, rest = labeled_subset(splits.train.y, per_class, int(self.hparams["label_seed"]))
        train = splits.train
        unlabeled = train.x[rest]
        if splits.unlabeled is not None:
            unlabeled = torch.cat([unlabeled, splits.unlabeled])
        return replace(splits, train=Split(train.x[labeled], train.y[labeled]), unlabeled=unlabeled)


class DigitsSemi(_Semi, Digits):
    """``digits`` with 10 labels per class (100 labeled, 978 unlabeled training images)."""

    name = "digits-semi"
    summary = "digits with 10 labels per class (tunable) and 978 unlabeled training images"
    defaults = {"labels_per_class": 10, "label_seed": 0}
    params = SEMI_PARAMS
    target_accuracy = 0.90
    budget = Budget(steps=600, eval_every=25)  # 1 step per labeled epoch at batch 64
    trainer_defaults = {"batch_size": 64}


class MNIST1DSemi(_Semi, MNIST1D):
    """``mnist1d`` with 40 labels per class (400 labeled, 3,100 unlabeled training signals)."""

    name = "mnist1d-semi"
    summary = "MNIST-1D with 40 labels per class (tunable) and 3,100 unlabeled signals"
    defaults = {"labels_per_class": 40, "label_seed": 0}
    params = SEMI_PARAMS
    target_accuracy = 0.70
    budget = Budget(steps=1200, eval_every=20)  # 6 steps per labeled epoch at batch 64
    trainer_defaults = {"batch_size": 64}
