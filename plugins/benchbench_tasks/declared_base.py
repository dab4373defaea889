"""What every task declared in a suite file shares (:mod:`.declared`): where its files are,
and how its data is split into train, validation and test, scaled and labeled."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbench import BenchbenchError, Split, Splits, Task, stratified_split

from ._common import pixel_scale

_SPLIT = (0.7, 0.15, 0.15)
_SEED = 0


class _Declared(Task):
    """What every declared task shares: where its files are, how its data is split."""

    root: Path = Path()
    source_kind = ""
    has_unlabeled = True
    trainer_defaults = {"batch_size": 128}

    @property
    def options(self) -> dict[str, Any]:
        return json.loads(self.hparams["options"])

    @classmethod
    def describe(
        cls, path: Path, options: dict[str, Any], where: str
    ) -> tuple[tuple[int, ...], int, str]:
        raise NotImplementedError

    def _missing(self) -> BenchbenchError:
        return BenchbenchError(f"task {self.name}: no {self.source_kind} data at {self.root}")


def _splits(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    unlabeled: np.ndarray | None,
    per_channel: bool,
    where: str,
) -> Splits:
    """Train, validation and test from the data's own splits, or a stratified split of what
    there is (fixed seed); scaled by the training split's statistics (8-bit images stay
    8-bit, scaled batch by batch); classes as 0..k-1."""
    if "train" not in parts:
        raise BenchbenchError(f"{where}: no training data")
    x, y = parts["train"]
    if "val" not in parts and "test" not in parts:  # one set: a stratified split of it
        index = split_by_class(y, _SPLIT, where)
        parts = {s: (x[i], y[i]) for s, i in zip(("train", "val", "test"), index, strict=True)}
    elif "val" not in parts or "test" not in parts:  # one of them given: carve the other
        kept, carved = split_by_class(y, (0.85, 0.15), where)
        parts = {**parts, "train": (x[kept], y[kept])}
        parts.setdefault("val", (x[carved], y[carved]))
        parts.setdefault("test", (x[carved], y[carved]))
    train_x = parts["train"][0]
    if per_channel and train_x.dtype == np.uint8 and train_x.ndim == 4:
        pixels = pixel_scale(train_x, np.arange(len(train_x)))
        kept = {s: _kept(x, y) for s, (x, y) in parts.items()}
        extra = None
        if unlabeled is not None and len(unlabeled):
            extra = torch.from_numpy(np.ascontiguousarray(unlabeled))
        return Splits(kept["train"], kept["val"], kept["test"], unlabeled=extra, pixels=pixels)
    train_x = train_x.astype(np.float32)
    axes = (0, *range(2, train_x.ndim)) if per_channel else (0,)
    mean = train_x.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = train_x.std(axis=axes, keepdims=True, dtype=np.float64)
    std[std == 0] = 1.0

    def scaled(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x.astype(np.float32) - mean) / std).astype(np.float32))

    made = [Split(scaled(x), torch.from_numpy(y.astype(np.int64))) for x, y in parts.values()]
    named = dict(zip(parts, made, strict=True))
    extra = scaled(unlabeled) if unlabeled is not None and len(unlabeled) else None
    return Splits(named["train"], named["val"], named["test"], unlabeled=extra)


def split_by_class(labels: np.ndarray, sizes: tuple[float, ...], where: str) -> list[np.ndarray]:
    """:func:`~benchbench.stratified_split` with the fixed seed, its refusal (a class too
    small to appear in every part) said in the task's words, not scikit-learn's."""
    try:
        return stratified_split(labels, sizes, _SEED)
    except ValueError as exc:
        values, counts = np.unique(labels, return_counts=True)
        smallest = int(np.argmin(counts))
        raise BenchbenchError(
            f"{where}: too few examples to split by class into {len(sizes)} parts "
            f"({', '.join(f'{f:.0%}' for f in sizes)}) of {len(labels)} examples in "
            f"{len(values)} classes; the smallest class, {values.tolist()[smallest]!r}, has "
            f"{counts[smallest]}: add examples, or give validation and test splits of your own"
        ) from exc


def _memory() -> int:
    """This machine's physical memory in bytes (what declared data may take half of)."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _kept(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)))


def _labels(values: list[Any], where: str) -> tuple[list[Any], dict[Any, int]]:
    classes = sorted(set(values), key=str)
    if len(classes) < 2:
        raise BenchbenchError(f"{where}: needs at least two classes, found {classes}")
    return classes, {c: i for i, c in enumerate(classes)}
