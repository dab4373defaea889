"""A fixed, seeded sample of a run's training inputs, for a component's data-dependent
initialisation before the first step (airbench's whitening layer; LSUV)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor


def sampler(
    train: Any, decode: Callable[[Tensor], Tensor], generator: torch.Generator, device: Any
) -> Callable[[int], Tensor]:
    """What :meth:`~benchbench.RunContext.training_sample` calls: ``n`` of ``train``'s inputs
    (all of them when it has fewer), drawn without replacement with ``generator`` (the run's:
    the same run draws the same sample), decoded as the model sees them, on ``device``."""

    def sample(n: int) -> Tensor:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"a training sample needs a whole number of inputs >= 1, got {n!r}")
        order = torch.randperm(len(train), generator=generator, device=generator.device)
        chosen = order[: min(n, len(train))].cpu()
        x = (
            train.x[chosen]
            if isinstance(train.x, Tensor)
            else torch.stack([train[int(i)][0] for i in chosen])
        )
        return decode(x.to(device))

    return sample
