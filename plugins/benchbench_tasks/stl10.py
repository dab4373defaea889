"""STL-10 (Coates, Ng and Lee, 2011) from its binaries, in torchvision's layout:
``<data>/stl10_binary/{train,test}_{X,y}.bin`` and ``unlabeled_X.bin``.

96x96 colour images of ten classes: 5,000 labeled training images, 8,000 test images and
100,000 unlabeled images from a wider distribution (other animals and vehicles too), the
setting the dataset was made for. Everything stays 8-bit: the unlabeled set is 2.8 GB in
memory (11 GB as float32).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import Budget, Splits, Task
from benchbench.data.readers import read_stl10

from ._augment import random_flip, random_shift
from ._common import pixel_splits, train_val_test
from .downloads import registered

FOLDER = "stl10_binary"


class STL10(Task):
    """4,500 labeled training images (500 held out for validation, stratified, fixed seed),
    the official 8,000 test images and the 100,000 unlabeled images; standardised per
    channel with the labeled training images' statistics."""

    name = "stl10"
    summary = "STL-10 from DATA/stl10_binary: 4.5k / 500 / 8k labeled 96x96 images, 100k unlabeled"
    num_classes = 10
    input_shape = (3, 96, 96)
    modality = "image"
    flips = True
    has_unlabeled = True
    budget = Budget(epochs=30, eval_every=2)
    trainer_defaults = {"batch_size": 128}
    target_accuracy = 0.80  # Cutout (DeVries & Taylor 2017), WRN-16-8, flips + crops: 85.8%
    downloads = registered("stl10")

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """Random crops of the image padded by 12 pixels (an eighth of its side, as 4 of 32
        for CIFAR), and horizontal flips."""
        return random_flip(random_shift(x, round(12 * strength), generator), generator)

    def data_files(self, data_dir: Path) -> list[Path]:
        folder = Path(data_dir) / FOLDER
        names = ("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin", "unlabeled_X.bin")
        return [folder / name for name in names]

    def load(self, data_dir: Path) -> Splits:
        folder = Path(data_dir) / FOLDER
        x_train, y_train = read_stl10(folder, "train", self.name)
        x_test, y_test = read_stl10(folder, "test", self.name)
        unlabeled, _ = read_stl10(folder, "unlabeled", self.name, labeled=False)
        x, y = np.concatenate([x_train, x_test]), np.concatenate([y_train, y_test])
        parts = train_val_test(y_train, len(y_test), val_size=len(y_train) // 10)
        return pixel_splits(x, y, parts, unlabeled)
