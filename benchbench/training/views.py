"""Test-time augmentation: the model evaluated on several views of each input, its logits
averaged (the ``tta`` loop setting; airbench's levels). The views come from what the task's
own augmentation does: mirror images where its classes survive them
(:attr:`~benchbench.Task.flips`), and shifts of one position."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

TTA_LEVELS = {0: "none", 1: "mirror", 2: "mirror and translate"}


class TestTimeViews(nn.Module):
    """``model`` on several views of each input, logits averaged: at level 1 the input and
    its mirror image along the last axis (when ``mirrors``); at level 2 also the input
    shifted by one position back and forth along every spatial axis (reflect-padded), the
    shifted views weighing half, as airbench's ``infer_mirror_translate`` weighs them."""

    def __init__(self, model: nn.Module, level: int, mirrors: bool) -> None:
        super().__init__()
        self.model, self.level, self.mirrors = model, level, mirrors

    @property
    def views(self) -> int:
        """Forward passes per input."""
        return (2 if self.mirrors else 1) * (3 if self.level >= 2 else 1)

    def _mirrored(self, x: Tensor) -> Tensor:
        if not self.mirrors:
            return self.model(x)
        return 0.5 * (self.model(x) + self.model(x.flip(-1)))

    def forward(self, x: Tensor) -> Tensor:
        logits = self._mirrored(x)
        if self.level < 2:
            return logits
        spatial = x.ndim - 2
        padded = F.pad(x, [1] * (2 * spatial), mode="reflect")
        if spatial == 1:
            shifted = (padded[..., :-2], padded[..., 2:])
        else:
            shifted = (padded[..., :-2, :-2], padded[..., 2:, 2:])
        return 0.5 * logits + 0.25 * (self._mirrored(shifted[0]) + self._mirrored(shifted[1]))


def evaluated(model: nn.Module, level: int, mirrors: bool) -> nn.Module:
    """What is evaluated and deployed: ``model`` itself at level 0, else its views."""
    return model if level == 0 else TestTimeViews(model, level, mirrors)


def tta_problem(level: int, modality: str, mirrors: bool, task: str) -> str | None:
    """Why test-time augmentation at ``level`` cannot apply to a task (one line), or None."""
    if level == 0:
        return None
    if modality == "tabular":
        return (
            f"tta {level} mirrors and shifts images and signals; task {task}'s inputs are tabular"
        )
    if level == 1 and not mirrors:
        return (
            f"tta 1 adds mirror images, and task {task}'s classes do not survive mirroring "
            "(its augmentation does not flip): use tta 2 (shifted views only) or 0"
        )
    return None
