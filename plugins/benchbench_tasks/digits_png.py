"""The digits task again, read from PNG files: the disk-bound case of the loader profile."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from benchbench import BenchbenchError, Splits
from benchbench.data.readers import ImageFolder

from ._common import sklearn_digits, stratified_split
from .digits import SPLIT_SEED, Digits

_LEVEL = 15  # pixel values 0..16 become grey levels 0..240, exactly


def write_pngs(root: Path) -> None:
    """Write scikit-learn's digits once as ``root/{train,val,test}/<class>/<index>.png``,
    with digits' own split; a half-written folder is never left behind."""
    from PIL import Image

    images, targets = sklearn_digits()
    parts = stratified_split(targets, (0.6, 0.2, 0.2), SPLIT_SEED)
    # a folder of this process's own: workers starting together each write one, first wins
    partial = root.with_name(f"{root.name}.{os.getpid()}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    for split, index in zip(("train", "val", "test"), parts, strict=True):
        for i in index:
            folder = partial / split / str(targets[i])
            folder.mkdir(parents=True, exist_ok=True)
            pixels = (images[i] * _LEVEL).astype(np.uint8)
            Image.fromarray(pixels, mode="L").save(folder / f"{i:04d}.png")
    try:
        partial.rename(root)
    except OSError:  # another worker's copy arrived first: the same files
        shutil.rmtree(partial, ignore_errors=True)
        if not root.is_dir():
            raise


class DigitsPNG(Digits):
    """Exactly the ``digits`` data and split, but stored as 1,797 PNG files and decoded from
    disk on every access through a DataLoader (validation and test are decoded once). Written
    under the data folder the first time. The same model should reach the same accuracy as on
    ``digits``; only where the time goes differs."""

    name = "digits-png"
    summary = "digits as PNG files in an image folder, decoded per sample (disk-bound case)"

    def load(self, data_dir: Path) -> Splits:
        root = Path(data_dir) / "digits-png"
        if not root.is_dir():
            try:
                write_pngs(root)
            except OSError as exc:
                raise BenchbenchError(
                    f"cannot write the digits PNG files under {root.parent} ({exc.strerror}); "
                    "point --data-dir or BENCHBENCH_DATA at a writable folder"
                ) from exc
        # statistics of the training images, on the decoded scale (level / 255)
        train = ImageFolder(root / "train")
        pixels = np.concatenate([np.asarray(_read(p)) for p, _ in train.samples]) / 255.0
        mean, std = float(pixels.mean()), float(pixels.std())
        return Splits(*(ImageFolder(root / s, mean, std) for s in ("train", "val", "test")))


def _read(path: Path) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image, dtype=np.float64).ravel()
