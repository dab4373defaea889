"""CIFAR-10 and CIFAR-100 from the python batches, in torchvision's folder layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import Budget, Splits, Task
from benchbench.data.readers import read_cifar

from ._augment import random_flip, random_shift
from ._common import pixel_splits, train_val_test
from .downloads import registered


class _CIFARTask(Task):
    """32x32 colour images from ``<data>/<folder>/``; 5,000 training images (stratified,
    fixed seed) held out for validation, the official 10,000 as test; kept as 8-bit pixels,
    standardised per channel with the training split's statistics batch by batch."""

    folder = ""
    train_files: tuple[str, ...] = ()
    test_files: tuple[str, ...] = ()
    label_key = ""
    input_shape = (3, 32, 32)
    modality = "image"
    flips = True
    has_unlabeled = False
    budget = Budget(epochs=10)
    trainer_defaults = {"batch_size": 512}

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """The standard CIFAR augmentation: random crops of the image padded by 4 pixels, and
        horizontal flips."""
        return random_flip(random_shift(x, round(4 * strength), generator), generator)

    def data_files(self, data_dir: Path) -> list[Path]:
        folder = Path(data_dir) / self.folder
        return [folder / name for name in (*self.train_files, *self.test_files)]

    def load(self, data_dir: Path) -> Splits:
        folder = Path(data_dir) / self.folder
        x_train, y_train = read_cifar(folder, self.train_files, self.label_key, self.name)
        x_test, y_test = read_cifar(folder, self.test_files, self.label_key, self.name)
        x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
        return pixel_splits(x, y, train_val_test(y_train, len(y_test), val_size=5000))


class CIFAR10(_CIFARTask):
    name = "cifar10"
    summary = "CIFAR-10 from the python batches in DATA/cifar-10-batches-py: 45k / 5k / 10k"
    folder = "cifar-10-batches-py"
    train_files = tuple(f"data_batch_{i}" for i in range(1, 6))
    test_files = ("test_batch",)
    label_key = "labels"
    num_classes = 10
    target_accuracy = 0.94  # the DAWNBench and airbench target
    downloads = registered("cifar10")


class CIFAR100(_CIFARTask):
    name = "cifar100"
    summary = "CIFAR-100 (fine labels) from DATA/cifar-100-python: 45k / 5k / 10k"
    folder = "cifar-100-python"
    train_files = ("train",)
    test_files = ("test",)
    label_key = "fine_labels"
    num_classes = 100
    target_accuracy = 0.70
    downloads = registered("cifar100")
