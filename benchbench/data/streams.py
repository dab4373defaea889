"""The device-resident batch stream: the fast path for datasets that fit in device memory.

The whole split lives on the device; each epoch is one seeded ``randperm`` and each batch one
index gather, so no per-sample Python runs and no host-to-device copy happens while training.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor


class DeviceStream:
    """Endless shuffled batches of ``(x, y)`` from tensors already on the device.

    The last incomplete batch of an epoch is dropped (every step sees ``batch_size``
    examples), unless the split is smaller than one batch, in which case a batch is the whole
    split. Order depends only on ``generator``, so a seed fixes it.
    """

    def __init__(self, x: Tensor, y: Tensor, batch_size: int, generator: torch.Generator) -> None:
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"need equal, non-zero numbers of inputs and labels; got {len(x)}, {len(y)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.x, self.y = x, y
        self.batch_size = min(batch_size, len(x))
        self.generator = generator
        self.steps_per_epoch = len(x) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n, b = len(self.x), self.batch_size
        while True:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            for i in range(self.steps_per_epoch):
                index = order[i * b : (i + 1) * b]
                yield self.x[index], self.y[index]


def batches(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    """Consecutive slices of ``x`` for evaluation (no shuffling, nothing dropped)."""
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size]
