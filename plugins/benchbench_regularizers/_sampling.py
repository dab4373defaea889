"""Random draws for regularizers, all from the run's generator (never the global RNGs)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def host_rng(generator: torch.Generator) -> np.random.Generator:
    """A NumPy generator seeded by one draw from ``generator``: for scalar draws (a Beta
    lambda, a box) that torch cannot make with a generator, still fixed by the run's seed."""
    seed = torch.randint(0, 2**62, (1,), generator=generator, device=generator.device)
    return np.random.default_rng(int(seed))


def partners(batch: int, generator: torch.Generator) -> Tensor:
    """A random permutation pairing each example with another of the same batch."""
    return torch.randperm(batch, generator=generator, device=generator.device)


def spatial_shape(x: Tensor) -> tuple[int, ...]:
    """The axes a box or span is cut from: (H, W) of images, (L,) of signals, (F,) of tables."""
    return tuple(x.shape[2:]) if x.ndim > 2 else tuple(x.shape[1:])


def mix(a: Tensor, b: Tensor, lam: float) -> Tensor:
    """``lam * a + (1 - lam) * b``."""
    return a * lam + b * (1.0 - lam)
