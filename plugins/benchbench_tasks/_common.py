"""Helpers shared by the built-in tasks."""

from __future__ import annotations

import numpy as np
import torch

from benchbench import Split, Splits, stratified_split


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


def train_val_test(
    y_train: np.ndarray, n_test: int, val_size: int, seed: int = 0
) -> list[np.ndarray]:
    """Indices into ``concat(train, test)``: a stratified, seeded validation set of
    ``val_size`` carved from train, and the official test set after it."""
    n = len(y_train)
    fraction = min(val_size / n, 0.5)
    train, val = stratified_split(y_train, (1 - fraction, fraction), seed)
    return [train, val, np.arange(n, n + n_test)]


__all__ = ["standardized_splits", "stratified_split", "train_val_test"]
