"""Helpers shared by the built-in tasks."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch

from benchbench import Pixels, Split, Splits, stratified_split


def standardized_splits(
    x: np.ndarray, y: np.ndarray, parts: list[np.ndarray], per_channel: bool = False
) -> Splits:
    """Train / val / test from index ``parts``, scaled by the train split's mean and std
    (one pair for the whole input, or one per channel, axis 1)."""
    train = x[parts[0]]
    axes = (0, *range(2, x.ndim)) if per_channel else None
    mean = train.mean(axis=axes, keepdims=per_channel, dtype=np.float64)
    std = train.std(axis=axes, keepdims=per_channel, dtype=np.float64)

    def split(index: np.ndarray) -> Split:
        xs = torch.from_numpy(((x[index] - mean) / std).astype(np.float32))
        return Split(xs, torch.from_numpy(y[index].astype(np.int64)))

    return Splits(*(split(index) for index in parts))


def pixel_moments(blocks: Iterable[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel mean and std (on the [0, 1] scale) of 8-bit images arriving in blocks
    ``(n, C, H, W)``, summed in float64 one block at a time (a folder read from disk one
    image at a time, or an array in chunks); a constant channel gets std 1."""
    total = squares = None
    count = 0
    for block in blocks:
        scaled = block.astype(np.float64) / 255.0
        sums, sum_squares = scaled.sum(axis=(0, 2, 3)), np.square(scaled).sum(axis=(0, 2, 3))
        total = sums if total is None else total + sums
        squares = sum_squares if squares is None else squares + sum_squares
        count += block.shape[0] * block.shape[2] * block.shape[3]
    if total is None or squares is None:
        raise ValueError("no images to take the statistics of")
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    std[std == 0] = 1.0
    return mean, std


def pixel_scale(x: np.ndarray, train: np.ndarray) -> Pixels:
    """The :class:`~benchbench.Pixels` of the 8-bit images ``x[train]`` ``(N, C, H, W)``:
    their per-channel mean and std (:func:`pixel_moments`, 4,096 images at a time)."""
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"need uint8 images (N, C, H, W), got {x.dtype} {x.shape}")
    blocks = (x[train[start : start + 4096]] for start in range(0, len(train), 4096))
    mean, std = pixel_moments(blocks)
    return Pixels(tuple(map(float, mean)), tuple(map(float, std)))


def pixel_splits(
    x: np.ndarray, y: np.ndarray, parts: list[np.ndarray], unlabeled: np.ndarray | None = None
) -> Splits:
    """Train / val / test from index ``parts`` of 8-bit images ``x`` ``(N, C, H, W)``, kept
    8-bit and standardised per channel by the train split's mean and std as the loop draws
    batches (:class:`~benchbench.Pixels`); ``unlabeled`` images are kept the same way."""
    pixels = pixel_scale(x, parts[0])

    def split(index: np.ndarray) -> Split:
        return Split(torch.from_numpy(x[index]), torch.from_numpy(y[index].astype(np.int64)))

    extra = None if unlabeled is None else torch.from_numpy(np.ascontiguousarray(unlabeled))
    return Splits(*(split(index) for index in parts), unlabeled=extra, pixels=pixels)


def train_val_test(
    y_train: np.ndarray, n_test: int, val_size: int, seed: int = 0
) -> list[np.ndarray]:
    """Indices into ``concat(train, test)``: a stratified, seeded validation set of
    ``val_size`` carved from train, and the official test set after it."""
    n = len(y_train)
    fraction = min(val_size / n, 0.5)
    train, val = stratified_split(y_train, (1 - fraction, fraction), seed)
    return [train, val, np.arange(n, n + n_test)]


__all__ = [
    "pixel_moments",
    "pixel_scale",
    "pixel_splits",
    "standardized_splits",
    "stratified_split",
    "train_val_test",
]


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1,797 digits as ``(images, targets)``: images ``(N, 8, 8)`` float64
    of 0..16, targets int, exactly what ``sklearn.datasets.load_digits()`` returns, read
    from the file scikit-learn ships without importing ``sklearn.datasets`` (whose imports,
    SciPy's statistics and pandas among them, took 1.7 s of every fresh worker's start)."""
    import gzip
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")  # the package's folder, not imported
    if spec is None or spec.origin is None:
        from benchbench import BenchbenchError

        raise BenchbenchError("the digits tasks need scikit-learn: pip install scikit-learn")
    path = Path(spec.origin).parent / "datasets" / "data" / "digits.csv.gz"
    with gzip.open(path, "rt") as rows:
        data = np.loadtxt(rows, delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int, copy=False)
