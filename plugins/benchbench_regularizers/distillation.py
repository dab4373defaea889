"""Knowledge distillation from the student's own earlier snapshots."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import Tensor

from benchbench import Float, Int, Model, Regularizer, soft_cross_entropy


def distillation_loss(student_logits: Tensor, teacher_logits: Tensor, temperature: float) -> Tensor:
    """Hinton et al. (2015): ``T^2 * KL(softmax(teacher / T) || softmax(student / T))``, batch
    mean. The ``T^2`` keeps the gradient's scale independent of the temperature."""
    t = float(temperature)
    return (
        t
        * t
        * F.kl_div(
            F.log_softmax(student_logits / t, dim=-1),
            F.log_softmax(teacher_logits / t, dim=-1),
            reduction="batchmean",
            log_target=True,
        )
    )


class Distillation(Regularizer):
    """Knowledge distillation inside one budget, with the student's own earlier predictions
    as the teacher (snapshot self-distillation, as in Yang et al., 2019).

    Why not a separate teacher: a teacher of its own would have to be trained inside the same
    budget (every phase counts), leaving the student a fraction of it, and would need the loop
    to restart the optimizer; a snapshot costs nothing to train. The budget is cut into
    ``snapshots`` equal parts; the first trains on the labels alone, and at the end of each
    part a frozen copy of the model becomes the teacher of the next. Loss:
    ``(1 - weight) * CE(student, targets) + weight * T^2 * KL(teacher_T || student_T)``.
    Defaults: temperature 4 and weight 0.5, common settings since Hinton et al."""

    name = "distillation"
    summary = "self-distillation: earlier snapshots of the model teach it, T^2-scaled KL"
    defaults = {"temperature": 4.0, "weight": 0.5, "snapshots": 4}
    params = {
        "temperature": Float(0, low_open=True, help="softmax temperature of both models"),
        "weight": Float(0, 1, help="share of the loss on the teacher's targets"),
        "snapshots": Int(2, help="teacher checkpoints kept during its training"),
    }

    @classmethod
    def search_space(cls, trial):
        return {
            "temperature": trial.suggest_float("distillation.temperature", 1.0, 8.0, log=True),
            "weight": trial.suggest_float("distillation.weight", 0.1, 0.9),
        }

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)
        self.teacher: Model | None = None
        self.taken = 0
        self._teacher_logits: Tensor | None = None

    def forward(
        self, model: Model, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        self._teacher_logits = None
        if self.teacher is not None:
            with torch.no_grad():
                self._teacher_logits = self.teacher(x)
        return model(x), targets

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        hard = soft_cross_entropy(logits, targets)
        if self._teacher_logits is None:
            return hard
        weight = float(self.hparams["weight"])
        soft = distillation_loss(logits, self._teacher_logits, self.hparams["temperature"])
        return (1.0 - weight) * hard + weight * soft

    def on_step(self, model: Model, progress: float) -> None:
        parts = int(self.hparams["snapshots"])
        due = min(int(progress * parts), parts - 1)  # snapshots taken by now
        if due > self.taken:
            self.teacher = copy.deepcopy(model).eval()
            self.teacher.requires_grad_(False)
            self.taken = due
