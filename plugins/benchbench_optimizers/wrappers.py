"""Optimizers over a base optimizer: SAM (a second gradient at a nearby worse point) and
Lookahead (slow weights pulled toward the fast ones every k steps). Each names its base with
a ``base`` hyperparameter: any registered optimizer, with its own hyperparameters."""

from __future__ import annotations

from typing import Any

import torch

from benchbench.optimizers import Optimizer
from benchbench.params import Bool, Float, Int, Param

BASE_HELP = "the optimizer that takes the step ('benchbench list --kind optimizer')"


class Wrapper(torch.optim.Optimizer):
    """A torch optimizer around a base one: the same parameter groups (so the loop's
    learning-rate changes reach the base), its own state beside the base's in
    ``state_dict``."""

    def __init__(self, base: torch.optim.Optimizer, defaults: dict[str, Any]) -> None:
        super().__init__(base.param_groups, defaults)
        self.base = base
        self.param_groups = base.param_groups

    def state_dict(self) -> dict[str, Any]:
        return {"own": super().state_dict(), "base": self.base.state_dict()}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base.load_state_dict(state_dict["base"])
        super().load_state_dict(state_dict["own"])
        self.param_groups = self.base.param_groups


class SharpnessAware(Wrapper):
    """SAM's step (Foret et al. 2021, Algorithm 1): from the gradient g at w, climb to
    w + rho * g / ||g|| (ASAM, Kwon et al. 2021: each coordinate scaled by |w|), take the
    gradient there (the closure), come back to w and let the base step with it."""

    def __init__(self, base: torch.optim.Optimizer, rho: float, adaptive: bool) -> None:
        super().__init__(base, {"rho": rho, "adaptive": adaptive})

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        if closure is None:
            raise ValueError("SAM needs the loss again at the perturbed weights: step(closure)")
        pairs = [
            (p, p.abs() if group["adaptive"] else None, group["rho"])
            for group in self.param_groups
            for p in group["params"]
            if p.grad is not None
        ]
        if not pairs:
            return self.base.step()
        scaled = [p.grad if size is None else size * p.grad for p, size, _ in pairs]
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(s) for s in scaled]))
        climbs = []
        for (p, size, rho), s in zip(pairs, scaled, strict=True):
            climb = (s if size is None else size * s) * (rho / (norm + 1e-12))
            p.add_(climb)
            climbs.append(climb)
        with torch.enable_grad():
            loss = closure()
        for (p, _, _), climb in zip(pairs, climbs, strict=True):
            p.sub_(climb)
        self.base.step()
        return loss


class SAM(Optimizer):
    """Sharpness-aware minimisation over a base optimizer: two forward-backward passes per
    step (the second on the same batch, batch-norm statistics left alone)."""

    name = "sam"
    summary = "SAM (Foret et al. 2021): the base's step with the gradient at the worst nearby point"
    version = 1
    closure = True
    wraps = True
    defaults = {"rho": 0.05, "adaptive": False, "base": "adamw"}
    params = {
        "rho": Float(0, 10, low_open=True, help="radius of the neighbourhood searched"),
        "adaptive": Bool(help="ASAM: the neighbourhood scaled by each weight's size"),
        "base": Param("str", help=BASE_HELP),
    }

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"rho": trial.suggest_float("rho", 0.01, 0.5, log=True)}

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        base = self.build_base(groups, weight_decay)
        return SharpnessAware(base, self.hparams["rho"], bool(self.hparams["adaptive"]))


class SlowWeights(Wrapper):
    """Lookahead's step (Zhang et al. 2019, Algorithm 1): the base steps the fast weights;
    every ``k`` steps the slow weights move ``alpha`` of the way to them and the fast
    weights start again from there."""

    def __init__(self, base: torch.optim.Optimizer, k: int, alpha: float) -> None:
        super().__init__(base, {"k": k, "alpha": alpha})
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["slow"] = p.detach().clone()
        self.state["steps"] = 0  # type: ignore[index]

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = self.base.step(closure)
        self.state["steps"] += 1  # type: ignore[index]
        for group in self.param_groups:
            if self.state["steps"] % group["k"]:  # type: ignore[index]
                continue
            for p in group["params"]:
                slow = self.state[p]["slow"]
                slow.add_(p - slow, alpha=group["alpha"])
                p.copy_(slow)
        return loss


class Lookahead(Optimizer):
    """Lookahead over a base optimizer: k fast steps, then a step of the slow weights."""

    name = "lookahead"
    summary = "Lookahead (Zhang et al. 2019): slow weights follow the base's k fast steps"
    version = 1
    wraps = True
    defaults = {"k": 5, "alpha": 0.5, "base": "adamw"}
    params = {
        "k": Int(1, help="fast steps between two slow ones"),
        "alpha": Float(0, 1, low_open=True, help="how far the slow weights move to the fast"),
        "base": Param("str", help=BASE_HELP),
    }

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        return {"alpha": trial.suggest_float("alpha", 0.3, 0.9)}

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        base = self.build_base(groups, weight_decay)
        return SlowWeights(base, int(self.hparams["k"]), float(self.hparams["alpha"]))
