"""The task's own standard augmentation as a regularizer: the plain baseline of data
regularization."""

from __future__ import annotations

import torch
from torch import Tensor

from benchbench import Float, Regularizer, RunContext


class Augment(Regularizer):
    """Each batch goes through the task's standard augmentation (random shifts and flips for
    images where they keep the label, shifts and noise for 1-D signals), batched on the
    device. ``strength`` scales it; tasks without one are left unchanged."""

    name = "augment"
    summary = "the task's standard augmentation (shift/crop, flip, noise), batched on device"
    defaults = {"strength": 1.0}
    params = {"strength": Float(0, help="scales the task's augmentation (shifts, flips, noise)")}

    @classmethod
    def search_space(cls, trial):
        return {"strength": trial.suggest_float("augment.strength", 0.25, 2.0)}

    def prepare(self, context: RunContext) -> None:
        self.task = context.task

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        return self.task.augment(x, float(self.hparams["strength"]), generator), targets
