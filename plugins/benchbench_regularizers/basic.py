"""The baselines: nothing, weight decay, and label smoothing."""

from __future__ import annotations

import torch
from torch import Tensor

from benchbench import Float, Regularizer


class NoRegularizer(Regularizer):
    """Plain cross-entropy on one-hot targets, no weight decay: the baseline of every
    regularizer."""

    baseline = True
    name = "none"
    summary = "no regularization: cross-entropy on the one-hot labels, no weight decay"


class WeightDecay(Regularizer):
    """Decoupled weight decay (Loshchilov & Hutter, 2019): each step shrinks every weight by
    ``lr * decay``, apart from the gradient. The reference every other regularizer should also
    beat. The default 0.05 lies in the AdamW paper's normalised range for image classifiers;
    5e-4 is the SGD convention and does almost nothing under AdamW."""

    name = "weight-decay"
    summary = "decoupled (AdamW) weight decay only"
    defaults = {"decay": 0.05}
    params = {"decay": Float(0, help="AdamW's decoupled weight decay")}

    @classmethod
    def search_space(cls, trial):
        return {"decay": trial.suggest_float("weight-decay.decay", 1e-4, 0.5, log=True)}

    def weight_decay(self) -> float:
        return float(self.hparams["decay"])


class LabelSmoothing(Regularizer):
    """Label smoothing (Szegedy et al., 2016): the true class keeps ``1 - alpha + alpha/k``,
    every other class ``alpha/k``, for ``k`` classes. Default alpha 0.1, the paper's."""

    name = "label-smoothing"
    summary = "soft targets: true class 1 - alpha + alpha/k, every other class alpha/k"
    defaults = {"alpha": 0.1}
    params = {"alpha": Float(0, 1, help="weight of the uniform distribution in the target")}

    @classmethod
    def search_space(cls, trial):
        return {"alpha": trial.suggest_float("label-smoothing.alpha", 0.0, 0.3)}

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        alpha = float(self.hparams["alpha"])
        return x, targets * (1.0 - alpha) + alpha / targets.shape[-1]
