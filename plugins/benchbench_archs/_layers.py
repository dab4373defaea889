"""Layer families for 1-D signals and 2-D images, shared by the convolutional networks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from benchbench import Model


@dataclass(frozen=True)
class Layers:
    """The convolution, batch norm, max pool and global pool classes of one dimensionality."""

    conv: type[nn.Module]
    norm: type[nn.Module]
    pool: type[nn.Module]
    global_pool: type[nn.Module]


def layers_for(arch: str, input_shape: Sequence[int]) -> Layers:
    """1-D layers for ``(channels, length)``, 2-D for ``(channels, height, width)``; any other
    shape is refused in one line naming the architecture."""
    dims = len(input_shape) - 1
    if dims == 1:
        return Layers(nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d, nn.AdaptiveMaxPool1d)
    if dims == 2:
        return Layers(nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveMaxPool2d)
    raise ValueError(
        f"{arch} needs an input shape (channels, length) or (channels, height, width); "
        f"got {tuple(input_shape)} (use mlp for flat inputs)"
    )


def flat_size(module: nn.Module, input_shape: Sequence[int]) -> int:
    """Values per example leaving ``module``, from one forward pass in eval mode (so
    batch-norm statistics are untouched)."""
    with torch.no_grad():
        size = module.eval()(torch.zeros(2, *input_shape)).flatten(1).shape[1]
    module.train()
    return size


def with_linear_head(model: Model, input_shape: Sequence[int], num_classes: int) -> Model:
    """Give ``model`` a linear head on its flattened encoder output."""
    model.head = nn.Linear(flat_size(model.encoder, input_shape), num_classes)
    return model
