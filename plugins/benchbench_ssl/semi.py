"""Semi-supervised methods: trained jointly on labeled and unlabeled batches."""

from __future__ import annotations

import torch
from torch import Tensor

from benchbench import SSL, Float, Int, Model, RunContext

from .losses import fixmatch_loss, pseudo_label_loss, ramp, uda_loss
from .views import Views


class _Joint(SSL):
    """Shared by the joint methods: weak and strong :class:`~.views.Views`. ``ratio``
    unlabeled examples per labeled one; the papers use 7, the default here
    is 3 to fit CPU budgets."""

    def prepare(self, context: RunContext) -> None:
        self.views_of = Views(context.task)

    threshold_range = (0.7, 0.99)

    @classmethod
    def search_space(cls, trial):
        """Every joint method tunes its confidence threshold and unlabeled-loss weight."""
        return {
            "threshold": trial.suggest_float(f"{cls.name}.threshold", *cls.threshold_range),
            "weight": trial.suggest_float(f"{cls.name}.weight", 0.1, 3.0, log=True),
        }

    def views(self, model: Model, x: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Logits of a weak view (no gradient: it only makes targets) and of a strong view."""
        with torch.no_grad():
            logits_weak = model(self.views_of.weak(x, generator))
        return logits_weak, model(self.views_of.strong(x, generator))

    def weight(self, progress: float) -> float:
        return float(self.hparams["weight"]) * ramp(progress, float(self.hparams.get("rampup", 0)))


class PseudoLabel(_Joint):
    """Pseudo-labeling (Lee, 2013): the model's confident predictions on (weakly augmented)
    unlabeled inputs become their hard targets; weight ramped up linearly over the first
    ``rampup`` of the budget, as Lee's schedule, since early predictions are noise."""

    name = "pseudo-label"
    summary = "confident predictions on unlabeled data become targets (threshold, ramp-up)"
    defaults = {"threshold": 0.95, "weight": 1.0, "ratio": 3, "rampup": 0.2}
    params = {
        "threshold": Float(0, 1, help="confidence above which a prediction is a pseudo-label"),
        "weight": Float(0, help="weight of the unlabeled loss"),
        "ratio": Int(1, help="unlabeled examples per labeled one"),
        "rampup": Float(0, 1, help="fraction of the budget ramping the weight up"),
    }

    def unlabeled_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        logits = model(self.views_of.weak(x_unlabeled, generator))
        return self.weight(progress) * pseudo_label_loss(logits, float(self.hparams["threshold"]))


class UDA(_Joint):
    """Unsupervised data augmentation (Xie et al., 2020): the prediction on a strongly
    augmented view is pulled towards the sharpened prediction on a weak view (temperature
    0.4), where the weak view is confident (threshold 0.8), as in the paper."""

    name = "uda"
    summary = "consistency of strong-view predictions with sharpened, confident weak views"
    defaults = {"temperature": 0.4, "threshold": 0.8, "weight": 1.0, "ratio": 3}
    params = {
        "threshold": Float(0, 1, help="confidence above which a prediction is a pseudo-label"),
        "weight": Float(0, help="weight of the unlabeled loss"),
        "ratio": Int(1, help="unlabeled examples per labeled one"),
        "temperature": Float(0, low_open=True, help="sharpening of the guessed targets"),
    }
    threshold_range = (0.5, 0.95)

    @classmethod
    def search_space(cls, trial):
        return {
            **super().search_space(trial),
            "temperature": trial.suggest_float("uda.temperature", 0.2, 1.0),
        }

    def unlabeled_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        logits_weak, logits_strong = self.views(model, x_unlabeled, generator)
        loss = uda_loss(
            logits_weak,
            logits_strong,
            float(self.hparams["temperature"]),
            float(self.hparams["threshold"]),
        )
        return self.weight(progress) * loss


class FixMatch(_Joint):
    """FixMatch (Sohn et al., 2020): hard pseudo-labels from a weak view where its confidence
    reaches 0.95, cross-entropy of the strong view against them, weight 1, as in the paper."""

    name = "fixmatch"
    summary = "hard pseudo-labels from confident weak views, trained on strong views"
    defaults = {"threshold": 0.95, "weight": 1.0, "ratio": 3}
    params = {
        "threshold": Float(0, 1, help="confidence above which a prediction is a pseudo-label"),
        "weight": Float(0, help="weight of the unlabeled loss"),
        "ratio": Int(1, help="unlabeled examples per labeled one"),
    }

    def unlabeled_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        logits_weak, logits_strong = self.views(model, x_unlabeled, generator)
        return self.weight(progress) * fixmatch_loss(
            logits_weak, logits_strong, float(self.hparams["threshold"])
        )
