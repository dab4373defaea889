"""Augmented views of unlabeled batches and the shapes of a model's blocks, shared by the
semi- and self-supervised methods."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from benchbench import Model, RunContext


class Views:
    """Weak and strong views of a batch, made by the task's own batched augmentation. The
    weak view is the task's standard augmentation; the strong one doubles its strength and
    adds cutout (FixMatch's strong views always include cutout)."""

    def __init__(self, task) -> None:
        from benchbench_regularizers.masking import Cutout

        self.task, self.cutout = task, Cutout(size=0.5)

    def weak(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return self.task.augment(x, 1.0, generator)

    def strong(self, x: Tensor, generator: torch.Generator) -> Tensor:
        x = self.task.augment(x, 2.0, generator)
        return self.cutout.transform(x, x[:, :0], generator)[0]


def block_shapes(context: RunContext) -> list[tuple[int, ...]]:
    """The shape of one example entering each encoder block, then leaving the last one,
    read off a forward pass in eval mode (so batch-norm statistics are left alone)."""
    model: Model = context.model
    hidden = torch.zeros(2, *context.task.input_shape, device=context.device)
    shapes = [tuple(hidden.shape[1:])]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        for block in model.encoder:
            hidden = block(hidden)
            shapes.append(tuple(hidden.shape[1:]))
    model.train(was_training)
    return shapes


def size(shape: Sequence[int]) -> int:
    """Number of values in one example of ``shape``."""
    return math.prod(shape)


def mask(x: Tensor, fraction: float, generator: torch.Generator) -> Tensor:
    """Masking noise (Vincent et al., 2008): each value set to 0 with probability
    ``fraction``, independently."""
    if fraction <= 0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=generator.device) >= fraction
    return x * keep
