"""The baseline and label smoothing."""

from __future__ import annotations

import torch
from torch import Tensor

from benchbench import Regularizer


class NoRegularizer(Regularizer):
    """Plain cross-entropy on one-hot targets: the baseline of every regularizer."""

    name = "none"
    summary = "no regularization: cross-entropy on the one-hot labels (the baseline)"


class LabelSmoothing(Regularizer):
    """Label smoothing (Szegedy et al., 2016): the true class keeps ``1 - alpha + alpha/k``,
    every other class ``alpha/k``, for ``k`` classes."""

    name = "label-smoothing"
    summary = "soft targets: true class 1 - alpha + alpha/k, every other class alpha/k"
    defaults = {"alpha": 0.1}

    @classmethod
    def search_space(cls, trial):
        return {"alpha": trial.suggest_float("label-smoothing.alpha", 0.0, 0.3)}

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        alpha = float(self.hparams["alpha"])
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"label-smoothing alpha must lie in [0, 1], got {alpha}")
        return x, targets * (1.0 - alpha) + alpha / targets.shape[-1]
