"""Helpers shared by the built-in tasks."""

from __future__ import annotations

import numpy as np
import torch

from benchbench import Split, Splits, stratified_split


def standardized_splits(x: np.ndarray, y: np.ndarray, parts: list[np.ndarray]) -> Splits:
    """Train / val / test from index ``parts``, scaled by the train split's mean and std."""
    train_index = parts[0]
    mean, std = x[train_index].mean(), x[train_index].std()

    def split(index: np.ndarray) -> Split:
        xs = torch.from_numpy(((x[index] - mean) / std).astype(np.float32))
        return Split(xs, torch.from_numpy(y[index].astype(np.int64)))

    return Splits(*(split(index) for index in parts))


__all__ = ["standardized_splits", "stratified_split"]
