"""Fine-tune strategies: which blocks of a pretrained network learn, how fast and when."""

from __future__ import annotations

from typing import Any

import numpy as np

from benchbench import Choice, Finetune, Float, Int, Model, set_trainable


class Full(Finetune):
    """Every parameter trains at the run's learning rate (the default of every run)."""

    name = "full"
    summary = "every parameter trains at the run's learning rate"


class Scratch(Finetune):
    """The same network freshly initialised, every parameter trained: the baseline every
    transfer row is compared with (it ignores the source model)."""

    name = "scratch"
    summary = "the same network re-initialised and trained from scratch (transfer baseline)"
    uses_pretrained = False


class LinearProbe(Finetune):
    """The pretrained encoder frozen (batch-norm statistics too); only a new head trains."""

    name = "linear-probe"
    expects_pretrained = True
    summary = "frozen encoder, only a new linear head trains"

    def param_groups(self, model: Model, lr: float) -> list[dict[str, Any]]:
        set_trainable(model.encoder, False)
        return [{"params": list(model.head.parameters()), "lr": lr}]


class LastK(Finetune):
    """The last ``k`` encoder blocks and the head train; the blocks below stay frozen. ``k``
    beyond the encoder's depth trains everything."""

    name = "last-k"
    expects_pretrained = True
    summary = "the last k encoder blocks and the head train, the rest stays frozen (k tuned)"
    defaults = {"k": 1}
    params = {"k": Int(0, help="last encoder blocks that learn (the head always does)")}

    @classmethod
    def search_space(cls, trial):
        return {"k": trial.suggest_int("last-k.k", 0, 4)}

    def param_groups(self, model: Model, lr: float) -> list[dict[str, Any]]:
        blocks = list(model.encoder)
        frozen = max(0, len(blocks) - int(self.hparams["k"]))
        for block in blocks[:frozen]:
            set_trainable(block, False)
        params = [p for block in blocks[frozen:] for p in block.parameters()]
        return [{"params": [*params, *model.head.parameters()], "lr": lr}]


class DiscriminativeLR(Finetune):
    """Discriminative fine-tuning (Howard and Ruder, 2018, ULMFiT): the head learns at the
    run's rate and each block below at the rate of the one above divided by ``decay`` (2.6,
    the paper's), so early, general blocks move least."""

    name = "discriminative-lr"
    expects_pretrained = True
    summary = "layer-wise learning rates: each block lr / decay of the one above (2.6)"
    defaults = {"decay": 2.6}
    params = {"decay": Float(1, help="each block deeper learns decay times slower")}

    @classmethod
    def search_space(cls, trial):
        return {"decay": trial.suggest_float("discriminative-lr.decay", 1.0, 5.0)}

    def param_groups(self, model: Model, lr: float) -> list[dict[str, Any]]:
        blocks, decay = list(model.encoder), float(self.hparams["decay"])
        groups = [{"params": list(model.head.parameters()), "lr": lr}]
        for depth, block in enumerate(reversed(blocks), start=1):
            groups.append({"params": list(block.parameters()), "lr": lr / decay**depth})
        return [g for g in groups if g["params"]]


class GradualUnfreeze(Finetune):
    """Gradual unfreezing (Howard and Ruder, 2018): the head trains alone at first; blocks
    are unfrozen from the top, one at a time, at equal intervals until ``until`` of the
    phase (block j from the top at ``until * j / blocks``); then everything trains."""

    name = "gradual-unfreeze"
    expects_pretrained = True
    summary = "blocks unfrozen from the top, one at a time, over the first half of the budget"
    defaults = {"until": 0.5}
    params = {
        "until": Float(0, 1, low_open=True, help="fraction of the phase by which all is unfrozen")
    }

    @classmethod
    def search_space(cls, trial):
        return {"until": trial.suggest_float("gradual-unfreeze.until", 0.1, 0.9)}

    def param_groups(self, model: Model, lr: float) -> list[dict[str, Any]]:
        set_trainable(model.encoder, False)
        self.unfrozen = 0
        return [{"params": list(model.parameters()), "lr": lr}]  # frozen ones get no grad

    def schedule(self, progress: float, blocks: int) -> int:
        """How many blocks (from the top) are unfrozen at ``progress`` through the phase."""
        until = float(self.hparams["until"])
        if until <= 0:
            return blocks
        return min(blocks, int(progress * blocks / until + 1e-9))

    def on_step(self, model: Model, progress: float) -> None:
        blocks = list(model.encoder)
        target = self.schedule(progress, len(blocks))
        while self.unfrozen < target:
            self.unfrozen += 1
            set_trainable(blocks[-self.unfrozen], True)


class SVM(Finetune):
    """A linear classifier from scikit-learn fitted on the frozen encoder's features of the
    labeled examples (standardised), no gradient step: ``classifier`` ``svm`` (LinearSVC,
    one-vs-rest squared hinge) or ``logistic`` (multinomial logistic regression). The fit
    becomes the model's linear head. ``C`` is 0.01, not scikit-learn's 1.0: on ~1,000
    standardised features, C = 1 barely regularises, LinearSVC had not converged after
    1,000 iterations (11 s on MNIST-1D transfer, 1,750 examples) and scored lower (43.1% vs
    45.3% at C = 0.01, which converges in 7 iterations)."""

    name = "svm"
    expects_pretrained = True
    summary = "linear SVM (or logistic regression) fitted on frozen features, no gradient step"
    defaults = {"classifier": "svm", "C": 0.01}
    params = {
        "classifier": Choice("svm", "logistic", help="LinearSVC or logistic regression"),
        "C": Float(0, low_open=True, help="inverse regularization strength"),
    }

    @classmethod
    def search_space(cls, trial):
        return {"C": trial.suggest_float("svm.C", 1e-3, 1e2, log=True)}

    def fit(
        self, features: np.ndarray, labels: np.ndarray, num_classes: int
    ) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.linear_model import LogisticRegression
        from sklearn.preprocessing import StandardScaler
        from sklearn.svm import LinearSVC

        kind, c = self.hparams["classifier"], float(self.hparams["C"])
        scaler = StandardScaler().fit(features)
        model = (
            LinearSVC(C=c, max_iter=1000, random_state=0)
            if kind == "svm"
            else LogisticRegression(C=c, max_iter=1000)
        ).fit(scaler.transform(features), labels)
        weight = np.zeros((num_classes, features.shape[1]), dtype=np.float64)
        bias = np.full(num_classes, -1e4)  # classes absent from the labels are never chosen
        coef, intercept = model.coef_, model.intercept_
        if len(model.classes_) == 2:  # one decision function: class 1 when positive
            coef, intercept = (
                np.vstack([-coef, coef]) / 2,
                np.array([-intercept[0], intercept[0]]) / 2,
            )
        weight[model.classes_] = coef
        bias[model.classes_] = intercept
        # fold the standardisation in: w . (x - mean) / scale + b
        scale = np.where(scaler.scale_ > 0, scaler.scale_, 1.0)
        folded = weight / scale
        return folded.astype(np.float32), (bias - folded @ scaler.mean_).astype(np.float32)
