"""SVHN (Street View House Numbers, the cropped-digit 32x32 format) from its ``.mat``
files, in torchvision's layout: ``train_32x32.mat`` and ``test_32x32.mat`` in the data
folder."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import Budget, Splits, Task
from benchbench.data.readers import read_svhn

from ._augment import random_shift
from ._common import pixel_splits, train_val_test
from .downloads import registered


class SVHN(Task):
    """73,257 training digits (5,000 held out for validation, stratified, fixed seed) and
    the official 26,032 test digits; kept as 8-bit pixels, standardised per channel with the
    training split's statistics. The ``extra`` split (531k easier digits) is read by
    ``svhn-extra`` only."""

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
        x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
        return pixel_splits(x, y, train_val_test(y_train, len(y_test), val_size=5000))


class SVHNExtra(SVHN):
    """``svhn`` with the 531,131 digits of the ``extra`` split offered unlabeled (their
    labels are not read): the setting of MixMatch's "SVHN+Extra" (Berthelot et al., 2019).
    Held as 8-bit pixels, the unlabeled digits take 1.6 GB of memory (6.5 GB as float32)."""

    name = "svhn-extra"
    summary = "svhn plus the 531k digits of DATA/extra_32x32.mat, unlabeled"
    has_unlabeled = True
    downloads = registered("svhn-extra")

    def data_files(self, data_dir: Path) -> list[Path]:
        return [*super().data_files(data_dir), Path(data_dir) / "extra_32x32.mat"]

    def load(self, data_dir: Path) -> Splits:
        splits = super().load(data_dir)
        extra, _ = read_svhn(Path(data_dir) / "extra_32x32.mat", self.name)
        return replace(splits, unlabeled=torch.from_numpy(extra))
