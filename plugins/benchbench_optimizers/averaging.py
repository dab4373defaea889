"""Weight averaging over a base optimizer: the weights evaluated (at every eval point, for the
test score and in the returned model) are an average of those the base trains, not its last
iterate. ``ema``: an exponential moving average (Polyak & Juditsky 1992; as timm's
``ModelEmaV3``, with its warm-up of the decay); ``swa``: the plain mean of the iterates from a
point of the budget on (Izmailov et al. 2018). Buffers (batch-norm statistics) stay those
gathered while training; SWA's authors recompute them at the average with a pass over the
training data, which this does not."""

from __future__ import annotations

from typing import Any

import torch

from benchbench.optimizers import Optimizer
from benchbench.params import Float, Param

from .wrappers import BASE_HELP, Wrapper


class Averaging(Wrapper):
    """A torch optimizer that steps its base, then folds the new weights into an average
    (kept in its state, so a checkpoint carries it) with the weight :meth:`share` gives;
    :meth:`evaluate` swaps the average into the parameters and back."""

    def __init__(self, base: torch.optim.Optimizer, defaults: dict[str, Any]) -> None:
        super().__init__(base, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["average"] = p.detach().clone()
        self.state["folded"] = 0  # type: ignore[index]
        self.progress = 0.0
        self.evaluating = False

    def share(self) -> float | None:
        """The new weights' share of the average after this step; None: not folded in."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = self.base.step(closure)
        share = self.share()
        if share is not None:
            for group in self.param_groups:
                for p in group["params"]:
                    self.state[p]["average"].lerp_(p, share)
            self.state["folded"] += 1  # type: ignore[index]
        return loss

    @torch.no_grad()
    def evaluate(self, evaluated: bool) -> None:
        """The average in the parameters (``True``), or the trained weights back."""
        if evaluated == self.evaluating:
            return
        self.evaluating = evaluated
        if evaluated and not self.state["folded"]:  # type: ignore[index]
            return  # nothing averaged yet (SWA before its start): the trained weights
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                if evaluated:
                    state["trained"] = p.detach().clone()
                    p.copy_(state["average"])
                elif "trained" in state:
                    p.copy_(state.pop("trained"))


class MovingAverage(Averaging):
    """The average moves toward each new iterate by ``1 - decay``, the decay warmed up as
    ``min(decay, (1 + n) / (10 + n))`` over the first steps (so early averages are not
    dominated by the initial weights)."""

    def share(self) -> float:
        folded = self.state["folded"]  # type: ignore[index]
        decay = min(self.param_groups[0]["decay"], (1 + folded) / (10 + folded))
        return 1.0 - decay


class StochasticAverage(Averaging):
    """Every iterate from ``start`` of the budget on counts the same: the n-th folded in has
    share 1/n (the first replaces the average kept until then)."""

    def share(self) -> float | None:
        if self.progress < self.param_groups[0]["start"]:
            return None
        return 1.0 / (self.state["folded"] + 1)  # type: ignore[index]


class _AverageWrapper(Optimizer):
    """What the two averages share: a base, the swap at evaluation, the budget's progress."""

    wraps = True

    def use_weights(self, evaluated: bool) -> None:
        if self.built is not None:
            self.built.evaluate(evaluated)  # type: ignore[attr-defined]
        super().use_weights(evaluated)

    def on_step(self, progress: float) -> None:
        if self.built is not None:
            self.built.progress = progress  # type: ignore[attr-defined]
        super().on_step(progress)


class EMA(_AverageWrapper):
    """An exponential moving average of the base's weights, evaluated in their place."""

    name = "ema"
    summary = "EMA (Polyak averaging): an exponential moving average of the weights is evaluated"
    version = 1
    defaults = {"decay": 0.999, "base": "adamw"}
    params = {
        "decay": Float(0, 1, low_open=True, high_open=True, help="the average's decay per step"),
        "base": Param("str", help=BASE_HELP),
    }

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"decay": trial.suggest_float("decay", 0.9, 0.9999)}

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        base = self.build_base(groups, weight_decay)
        return MovingAverage(base, {"decay": float(self.hparams["decay"])})


class SWA(_AverageWrapper):
    """The mean of the base's weights over the last part of the budget, evaluated in their
    place (before ``start`` the evaluated weights are the base's own)."""

    name = "swa"
    summary = "SWA (Izmailov et al. 2018): the mean of the weights over the budget's last part"
    version = 1
    defaults = {"start": 0.75, "base": "adamw"}
    params = {
        "start": Float(0, 1, high_open=True, help="fraction of the budget when averaging starts"),
        "base": Param("str", help=BASE_HELP),
    }

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        base = self.build_base(groups, weight_decay)
        return StochasticAverage(base, {"start": float(self.hparams["start"])})
