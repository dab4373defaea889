"""Optimizers that are one ``torch.optim`` update: AdamW, Nesterov SGD, Lion."""

from __future__ import annotations

from typing import Any

import torch

from benchbench.optimizers import Optimizer
from benchbench.params import Float


def _beta(help: str) -> Any:
    return Float(0, 1, high_open=True, help=help)


class AdamW(Optimizer):
    """``torch.optim.AdamW``, the loop's default optimizer since the first release, with
    torch's defaults: runs stored before optimizers were components train and verify
    under it bit for bit."""

    name = "adamw"
    summary = "AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay"
    version = 1
    defaults = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}
    params = {
        "beta1": _beta("decay of the gradient's moving average"),
        "beta2": _beta("decay of the squared gradient's moving average"),
        "eps": Float(0, low_open=True, help="added to the denominator"),
    }

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        hp = self.hparams
        return torch.optim.AdamW(
            groups,
            lr=groups[0]["lr"],
            betas=(hp["beta1"], hp["beta2"]),
            eps=hp["eps"],
            weight_decay=weight_decay,
        )


class SGD(Optimizer):
    """``torch.optim.SGD`` with Nesterov momentum, as the loop's ``sgd`` setting was: the
    weight decay is torch's (added to the gradient, so it goes through the momentum)."""

    name = "sgd"
    summary = "SGD with Nesterov momentum (Sutskever et al. 2013)"
    version = 1
    loop_defaults = {"lr": 0.05}
    """A common SGD learning rate at batch sizes near 128 (AdamW's 3e-3 undertrains it: on
    mnist1d's cnn, 10 epochs, 0.844 test accuracy against 0.958 at 0.05)."""
    defaults = {"momentum": 0.9}
    params = {
        "momentum": Float(0, 1, low_open=True, high_open=True, help="Nesterov momentum"),
    }

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        return torch.optim.SGD(
            groups,
            lr=groups[0]["lr"],
            momentum=self.hparams["momentum"],
            nesterov=True,
            weight_decay=weight_decay,
        )


class PerParameter(torch.optim.Optimizer):
    """A torch optimizer that updates each parameter on its own from its gradient and one
    buffer of state (:attr:`buffer`, zeros at first): ``step`` evaluates the closure, if
    given, then calls :meth:`update` for each parameter that has a gradient."""

    buffer = "momentum_buffer"

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state[self.buffer] = torch.zeros_like(p)
                self.update(p, state[self.buffer], group)
        return loss

    def update(self, p: torch.Tensor, buffer: torch.Tensor, group: dict[str, Any]) -> None:
        """Step ``p`` from ``p.grad`` and ``buffer`` (updated in place), with ``group``'s
        settings."""
        raise NotImplementedError


class LionUpdate(PerParameter):
    """Lion's update (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms",
    Algorithm 2): the sign of an interpolation of momentum and gradient, decoupled weight
    decay, then the momentum's own update at a second rate."""

    def __init__(
        self,
        groups: list[dict[str, Any]],
        lr: float,
        betas: tuple[float, float],
        weight_decay: float,
    ) -> None:
        super().__init__(groups, {"lr": lr, "betas": betas, "weight_decay": weight_decay})

    buffer = "exp_avg"

    def update(self, p: torch.Tensor, momentum: torch.Tensor, group: dict[str, Any]) -> None:
        (beta1, beta2), lr = group["betas"], group["lr"]
        update = momentum.mul(beta1).add_(p.grad, alpha=1 - beta1).sign_()
        p.mul_(1 - lr * group["weight_decay"]).add_(update, alpha=-lr)
        momentum.mul_(beta2).add_(p.grad, alpha=1 - beta2)


class Lion(Optimizer):
    """Lion: every weight moves by the learning rate, in the sign's direction. Its
    authors use a learning rate 3-10x below AdamW's: its default is a third of the loop's
    (tuning searches the loop's ``lr`` as for every optimizer)."""

    name = "lion"
    summary = "Lion (Chen et al. 2023): the sign of interpolated momentum, decoupled decay"
    version = 1
    loop_defaults = {"lr": 1e-3}
    """A third of the loop's AdamW rate: its authors advise 3-10x below AdamW's."""
    defaults = {"beta1": 0.9, "beta2": 0.99}
    params = {
        "beta1": _beta("weight of the momentum in the update's sign"),
        "beta2": _beta("decay of the momentum"),
    }

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        hp = self.hparams
        return LionUpdate(groups, groups[0]["lr"], (hp["beta1"], hp["beta2"]), weight_decay)
