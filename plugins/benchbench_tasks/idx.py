"""MNIST and Fashion-MNIST from their IDX files, in torchvision's folder layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import Budget, Splits, Task
from benchbench.data.readers import find, idx_pair_names, read_idx_pair

from ._augment import random_flip, random_shift
from ._common import pixel_splits, train_val_test
from .downloads import registered


class _IDXTask(Task):
    """28x28 grey images and labels read from ``<data>/<folder>/raw/{train,t10k}-*-ubyte[.gz]``.

    5,000 training images (stratified, fixed seed) are held out for validation; the official
    10,000 are the test split.
    """

    folder = ""
    num_classes = 10
    input_shape = (1, 28, 28)
    modality = "image"
    has_unlabeled = False
    budget = Budget(epochs=5)
    trainer_defaults = {"batch_size": 256}

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """Shifts of up to 2 pixels (and mirror images where they keep the class)."""
        x = random_shift(x, round(2 * strength), generator)
        return random_flip(x, generator) if self.flips else x

    def data_files(self, data_dir: Path) -> list[Path]:
        """The four IDX files, plain or gzipped, whichever is there."""
        raw = Path(data_dir) / self.folder / "raw"
        names = [*idx_pair_names("train"), *idx_pair_names("t10k")]
        return [find(raw, name) or raw / name for name in names]

    def load(self, data_dir: Path) -> Splits:
        raw = Path(data_dir) / self.folder / "raw"
        x_train, y_train = read_idx_pair(raw, "train", self.name)
        x_test, y_test = read_idx_pair(raw, "t10k", self.name)
        x = np.concatenate([x_train, x_test])[:, None]
        y = np.concatenate([y_train, y_test]).astype(np.int64)
        return pixel_splits(x, y, train_val_test(y_train, len(y_test), val_size=5000))


class MNIST(_IDXTask):
    name = "mnist"
    summary = "MNIST digits from IDX files in DATA/MNIST/raw: 55k train / 5k val / 10k test"
    folder = "MNIST"
    target_accuracy = 0.99
    downloads = registered("mnist")


class FashionMNIST(_IDXTask):
    name = "fashion-mnist"
    summary = "Fashion-MNIST from IDX files in DATA/FashionMNIST/raw: 55k / 5k / 10k"
    folder = "FashionMNIST"
    flips = True
    target_accuracy = 0.90
    downloads = registered("fashion-mnist")


class KMNIST(_IDXTask):
    name = "kmnist"
    summary = "Kuzushiji-MNIST (cursive Japanese characters) from IDX files in DATA/KMNIST/raw"
    folder = "KMNIST"
    target_accuracy = 0.95  # Clanuwat et al. 2018 report 95-98% for CNNs (ResNet-18: 97.3%)
    downloads = registered("kmnist")
