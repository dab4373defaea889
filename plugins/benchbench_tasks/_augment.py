"""Batched augmentations on the device, shared by the built-in tasks' ``augment``.

Every draw comes from the run's generator; nothing loops over examples in Python.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def random_shift(x: Tensor, max_shift: int, generator: torch.Generator) -> Tensor:
    """Shift each example by its own whole number of positions in ``[-max_shift, max_shift]``
    along every spatial axis (the last one for signals, the last two for images), filling
    with zeros: random crops of a zero-padded input."""
    if max_shift <= 0:
        return x
    axes = x.ndim - 2
    padded = F.pad(x, [max_shift] * (2 * axes))
    batch = torch.arange(len(x), device=x.device)
    offsets = [
        torch.randint(0, 2 * max_shift + 1, (len(x),), generator=generator, device=generator.device)
        for _ in range(axes)
    ]
    if axes == 1:
        positions = offsets[0][:, None] + torch.arange(x.shape[-1], device=x.device)
        return padded[
            batch[:, None, None],
            torch.arange(x.shape[1], device=x.device)[None, :, None],
            positions[:, None, :],
        ]
    rows = offsets[0][:, None] + torch.arange(x.shape[-2], device=x.device)
    cols = offsets[1][:, None] + torch.arange(x.shape[-1], device=x.device)
    channels = torch.arange(x.shape[1], device=x.device)
    return padded[
        batch[:, None, None, None],
        channels[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def random_flip(x: Tensor, generator: torch.Generator) -> Tensor:
    """Mirror a random half of the examples along the last (width) axis."""
    flip = torch.rand(len(x), generator=generator, device=generator.device) < 0.5
    return torch.where(flip.view(-1, *[1] * (x.ndim - 1)), x.flip(-1), x)


def gaussian_noise(x: Tensor, std: float, generator: torch.Generator) -> Tensor:
    """Add independent normal noise of standard deviation ``std``."""
    if std <= 0:
        return x
    return x + std * torch.randn(x.shape, generator=generator, device=generator.device)
