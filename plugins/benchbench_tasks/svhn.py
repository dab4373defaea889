"""SVHN (Street View House Numbers, the cropped-digit 32x32 format) from its ``.mat``
files, in torchvision's layout: ``train_32x32.mat`` and ``test_32x32.mat`` in the data
folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import Budget, Splits, Task
from benchbench.data.readers import read_svhn

from ._augment import random_shift
from ._common import standardized_splits, train_val_test
from .downloads import registered


class SVHN(Task):
    """73,257 training digits (5,000 held out for validation, stratified, fixed seed) and
    the official 26,032 test digits; per-channel standardisation with the training split's
    statistics. The ``extra`` split (531k easier digits) is not read."""

    name = "svhn"
    summary = "SVHN house-number digits from DATA/{train,test}_32x32.mat: 68k / 5k / 26k"
    num_classes = 10
    input_shape = (3, 32, 32)
    modality = "image"
    has_unlabeled = False
    budget = Budget(epochs=5)
    trainer_defaults = {"batch_size": 512}
    target_accuracy = 0.95  # fully supervised SVHN without extra: ~96-97% (FixMatch, Table 2)
    downloads = registered("svhn")

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """Shifts of up to 2 pixels; no flips (they change digits)."""
        return random_shift(x, round(2 * strength), generator)

    def data_files(self, data_dir: Path) -> list[Path]:
        return [Path(data_dir) / f"{split}_32x32.mat" for split in ("train", "test")]

    def load(self, data_dir: Path) -> Splits:
        x_train, y_train = read_svhn(Path(data_dir) / "train_32x32.mat", self.name)
        x_test, y_test = read_svhn(Path(data_dir) / "test_32x32.mat", self.name)
        x = np.concatenate([x_train, x_test]).astype(np.float32) / 255.0
        y = np.concatenate([y_train, y_test])
        parts = train_val_test(y_train, len(y_test), val_size=5000)
        return standardized_splits(x, y, parts, per_channel=True)
