"""Helpers shared by the built-in tasks."""

from __future__ import annotations

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


def pixel_scale(x: np.ndarray, train: np.ndarray) -> Pixels:
    """Per-channel mean and std (on the [0, 1] scale) of the 8-bit images ``x[train]``
    ``(N, C, H, W)``, summed in float64 a block at a time; a constant channel gets std 1."""
    if x.dtype != np.uint8 or x.ndim != 4:
        raise ValueError(f"need uint8 images (N, C, H, W), got {x.dtype} {x.shape}")
    total, squares = np.zeros(x.shape[1]), np.zeros(x.shape[1])
    for start in range(0, len(train), 4096):
        chunk = x[train[start : start + 4096]].astype(np.float64) / 255.0
        total += chunk.sum(axis=(0, 2, 3))
        squares += np.square(chunk).sum(axis=(0, 2, 3))
    count = len(train) * x.shape[2] * x.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    std[std == 0] = 1.0
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
    "pixel_scale",
    "pixel_splits",
    "standardized_splits",
    "stratified_split",
    "train_val_test",
]
