"""scikit-learn's bundled handwritten digits (8x8 grey images, 10 classes)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import Budget, Splits, Task

from ._augment import random_shift
from ._common import sklearn_digits, standardized_splits, stratified_split

SPLIT_SEED = 0


class Digits(Task):
    """The 1,797 digits of the UCI optical-recognition set, as shipped with scikit-learn.

    A fixed, seeded, class-stratified 60/20/20 train/val/test split (1,078 / 359 / 360), so
    every run of every method sees the same examples.
    """

    name = "digits"
    summary = "scikit-learn's 1,797 8x8 digit images, fixed stratified 60/20/20 split"
    num_classes = 10
    input_shape = (1, 8, 8)
    modality = "image"
    has_unlabeled = False
    target_accuracy = 0.95
    budget = Budget(epochs=30)
    trainer_defaults = {"batch_size": 64}

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """Shifts of up to one pixel (of eight); no flips, which would change digits."""
        return random_shift(x, round(strength), generator)

    def load(self, data_dir: Path) -> Splits:
        images, y = sklearn_digits()
        x = images.astype(np.float32)[:, None] / 16.0
        return standardized_splits(x, y, stratified_split(y, (0.6, 0.2, 0.2), SPLIT_SEED))
