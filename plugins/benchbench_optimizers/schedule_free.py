"""Schedule-free AdamW (Defazio et al. 2024), from the authors' ``schedulefree`` package
(``pip install 'benchbench[schedulefree]'``)."""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from typing import Any

import torch

from benchbench.optimizers import Optimizer
from benchbench.params import Float

PACKAGE = "schedulefree"


class ScheduleFree(Optimizer):
    """AdamW without a decaying schedule: it steps from an interpolation of its iterate and
    their running average, and is evaluated at the average. A warm-up is the loop's
    ``warmup`` (it scales the learning rate the package reads each step); the schedule is
    ``constant`` (its default here; another is refused). Batch-norm statistics are those
    gathered while training, at the iterate (the package's authors recompute them at the
    average for their own results; this does not)."""

    name = "schedule-free"
    summary = "Schedule-free AdamW (Defazio et al. 2024): averaged iterates, no schedule"
    version = 1
    loop_defaults = {"schedule": "constant"}
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8, "weight_lr_power": 2.0}
    params = {
        "beta1": Float(0, 1, high_open=True, help="interpolation between iterate and average"),
        "beta2": Float(0, 1, high_open=True, help="decay of the squared gradient's average"),
        "eps": Float(0, low_open=True, help="added to the denominator"),
        "weight_lr_power": Float(0, help="averaging weight: the learning rate to this power"),
    }

    @classmethod
    def problem(cls, settings: Mapping[str, Any]) -> str | None:
        if settings.get("schedule") != "constant":
            return (
                f"optimizer {cls.name} averages its iterates instead of decaying the learning "
                f"rate: it needs schedule constant (a warmup is allowed), not "
                f"{settings.get('schedule')}"
            )
        if importlib.util.find_spec(PACKAGE) is None:
            return (
                f"optimizer {cls.name} needs the {PACKAGE} package: "
                "pip install 'benchbench[schedulefree]'"
            )
        return None

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        from schedulefree import AdamWScheduleFree

        hp = self.hparams
        optimizer = AdamWScheduleFree(
            groups,
            lr=groups[0]["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=weight_decay,
            weight_lr_power=hp["weight_lr_power"],
        )
        optimizer.train()
        return optimizer

    def use_weights(self, evaluated: bool) -> None:
        if self.built is not None:
            self.built.eval() if evaluated else self.built.train()  # type: ignore[attr-defined]
