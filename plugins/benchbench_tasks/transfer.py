"""Transfer and domain-shift tasks.

Transfer: a source task (digits 0-4) to pretrain on and a target task (digits 5-9, relabeled
0-4) with few or many labels, from the same domain or a different one; the four situations
of the transfer literature are the target's task hyperparameters ``labels_per_class`` (10 by
default; 0 labels every training example) and ``domain`` (``similar`` or ``different``).
Target training examples left unlabeled are offered as unlabeled data.

Domain shift: MNIST-1D from the generator's default arguments as the labeled source, and
from changed arguments (more scale, shear and noise) as the unlabeled target, with the
target's validation and test splits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import torch
from torch import Tensor

from benchbench import Budget, Choice, Int, Split, Splits

from .digits import Digits
from .mnist1d import MNIST1D
from .semi import labeled_subset

SOURCE_CLASSES = (0, 1, 2, 3, 4)
TARGET_CLASSES = (5, 6, 7, 8, 9)
SHIFTED_MNIST1D = {
    "scale_coeff": 0.8,  # default 0.4
    "shear_scale": 1.5,  # default 0.75
    "corr_noise_scale": 0.5,  # default 0.25
    "iid_noise_scale": 0.1,  # default 0.02
    "seed": 7,  # default 42: other draws
}
"""The generator arguments of the shifted MNIST-1D domain (the package's defaults doubled
for scale and shear, correlated noise doubled, i.i.d. noise five times)."""


def keep_classes(splits: Splits, classes: tuple[int, ...]) -> Splits:
    """Only the examples of ``classes``, relabeled ``0 .. len(classes) - 1``."""
    lookup = torch.full((10,), -1, dtype=torch.long)
    lookup[list(classes)] = torch.arange(len(classes))

    def keep(split: Split) -> Split:
        mask = lookup[split.y] >= 0
        return Split(split.x[mask], lookup[split.y[mask]])

    parts = keep(splits.train), keep(splits.val), keep(splits.test)
    return Splits(*parts, pixels=splits.pixels)


def map_inputs(splits: Splits, change: Callable[[Tensor], Tensor]) -> Splits:
    """The same splits with every input changed by ``change`` (model inputs: not pixels)."""
    if splits.pixels is not None:
        raise ValueError("map_inputs changes model inputs; these splits hold 8-bit pixels")

    def apply(split: Split) -> Split:
        return Split(change(split.x), split.y)

    unlabeled = None if splits.unlabeled is None else change(splits.unlabeled)
    return Splits(apply(splits.train), apply(splits.val), apply(splits.test), unlabeled)


def rotate_and_invert(x: Tensor) -> Tensor:
    """The different digits domain: images turned a quarter to the left and inverted
    (white on black becomes black on white; inputs are standardised, so a sign flip)."""
    return -torch.rot90(x, 1, dims=(-2, -1))


class _Source:
    """The source half of a transfer pair: classes 0-4 only."""

    num_classes = 5

    def load(self, data_dir: Path) -> Splits:
        return keep_classes(super().load(data_dir), SOURCE_CLASSES)


class _Target:
    """The target half: classes 5-9, ``labels_per_class`` of each training class labeled
    (0: all), the rest unlabeled; inputs from the ``similar`` or a ``different`` domain."""

    num_classes = 5
    defaults = {"labels_per_class": 10, "domain": "similar", "label_seed": 0}
    params = {
        "labels_per_class": Int(0, help="training examples of each class labeled (0: all)"),
        "domain": Choice("similar", "different", help="inputs from the source's domain or not"),
        "label_seed": Int(0, help="seed of the choice of labeled examples"),
    }
    has_unlabeled = True
    trainer_defaults = {"batch_size": 64}

    def load(self, data_dir: Path) -> Splits:
        domain, per_class = self.hparams["domain"], int(self.hparams["labels_per_class"])
        splits = keep_classes(self.domain_splits(data_dir, domain), TARGET_CLASSES)
        if per_class == 0:
            return splits
        labeled, rest = labeled_subset(splits.train.y, per_class, int(self.hparams["label_seed"]))
        train = splits.train
        return replace(
            splits, train=Split(train.x[labeled], train.y[labeled]), unlabeled=train.x[rest]
        )


class DigitsSource(_Source, Digits):
    """``digits`` restricted to the classes 0-4: the source of ``digits-transfer``."""

    name = "digits-source"
    summary = "digits 0-4 only: the source task of digits-transfer"


class DigitsTransfer(_Target, Digits):
    """Digits 5-9 (relabeled 0-4) starting from a model trained on digits 0-4. ``domain``
    ``different`` turns and inverts the target images (:func:`rotate_and_invert`). About
    108 training images per class: 10 labeled by default, 0 labels them all."""

    name = "digits-transfer"
    summary = "digits 5-9 from a digits 0-4 model; few/many labels, similar/different domain"
    target_accuracy = 0.90
    budget = Budget(steps=200, eval_every=20)
    source = "digits-source"
    source_budget = Budget(epochs=30)

    def domain_splits(self, data_dir: Path, domain: str) -> Splits:
        splits = Digits.load(self, data_dir)
        return splits if domain == "similar" else map_inputs(splits, rotate_and_invert)


class MNIST1DSource(_Source, MNIST1D):
    """``mnist1d`` restricted to the classes 0-4: the source of ``mnist1d-transfer``."""

    name = "mnist1d-source"
    summary = "MNIST-1D 0-4 only: the source task of mnist1d-transfer"


class _ShiftedMNIST1D(MNIST1D):
    generator_args = SHIFTED_MNIST1D


class MNIST1DTransfer(_Target, MNIST1D):
    """MNIST-1D 5-9 (relabeled 0-4) starting from a model trained on 0-4. ``domain``
    ``different`` generates the target with :data:`SHIFTED_MNIST1D`. About 350 training
    signals per class: 10 labeled by default, 0 labels them all."""

    name = "mnist1d-transfer"
    summary = "MNIST-1D 5-9 from a 0-4 model; few/many labels, similar/different domain"
    target_accuracy = 0.70
    budget = Budget(steps=200, eval_every=20)
    source = "mnist1d-source"
    source_budget = Budget(epochs=30)

    def domain_splits(self, data_dir: Path, domain: str) -> Splits:
        if domain == "similar":
            return MNIST1D.load(self, data_dir)
        return _ShiftedMNIST1D().load(data_dir)


class MNIST1DShift(MNIST1D):
    """Domain shift: the labeled training split of ``mnist1d`` (the source domain) and the
    training inputs of a shifted generator (:data:`SHIFTED_MNIST1D`) unlabeled; validation
    and test come from the shifted domain, so a method is scored where it is deployed (and
    tuned on a small labeled target set, as most adaptation benchmarks do). Semi-supervised
    methods that use the unlabeled target inputs are unsupervised domain adaptation here.
    Each domain is standardised by its own training inputs (no labels needed)."""

    name = "mnist1d-shift"
    summary = "labeled MNIST-1D, unlabeled shifted MNIST-1D (more scale, shear, noise) as target"
    target_accuracy = 0.70
    budget = Budget(steps=600, eval_every=5)
    has_unlabeled = True

    def load(self, data_dir: Path) -> Splits:
        source, target = MNIST1D.load(self, data_dir), _ShiftedMNIST1D().load(data_dir)
        return Splits(source.train, target.val, target.test, target.train.x)
