"""Muon: momentum orthogonalised by Newton-Schulz iterations, for the matrix and convolution
weights of the encoder; a base optimizer for the rest (biases, norms, the head)."""

from __future__ import annotations

import math
from typing import Any

import torch

from benchbench.optimizers import Optimizer
from benchbench.params import Choice, Float, Int, Param

from .basic import PerParameter
from .wrappers import BASE_HELP

QUINTIC = (3.4445, -4.7750, 2.0315)
"""The Newton-Schulz quintic's coefficients (Jordan et al. 2024), tuned to push every
singular value toward 1 in few steps."""
HEAD = "head."
"""The name prefix of the model's head (benchbench's networks are an encoder and a head):
its weights are a classifier's, not a hidden layer's, and go to the base optimizer."""


def orthogonalised(update: torch.Tensor, steps: int) -> torch.Tensor:
    """The nearest semi-orthogonal matrix to ``update`` (flattened past its first dimension),
    approximately: ``steps`` iterations of the quintic on the matrix scaled to norm 1."""
    a, b, c = QUINTIC
    x = update.reshape(len(update), -1)
    tall = x.size(0) > x.size(1)
    if tall:
        x = x.T
    x = x / (torch.linalg.matrix_norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return (x.T if tall else x).reshape(update.shape)


def lr_scale(shape: torch.Size, adjust: str) -> float:
    """The learning rate's multiplier for a weight of ``shape``: ``original`` (Jordan's,
    sqrt(max(1, rows / columns))) or ``match-adamw`` (Liu et al. 2025, 0.2 sqrt(max(rows,
    columns)): the update's RMS matches AdamW's, so both share the loop's learning rate)."""
    rows, columns = shape[0], math.prod(shape[1:])
    if adjust == "original":
        return math.sqrt(max(1.0, rows / columns))
    return 0.2 * math.sqrt(max(rows, columns))


class OrthogonalMomentum(PerParameter):
    """Muon's update of each weight: Nesterov momentum, orthogonalised, scaled by
    :func:`lr_scale`, with decoupled weight decay."""

    def __init__(
        self,
        groups: list[dict[str, Any]],
        momentum: float,
        steps: int,
        adjust: str,
        weight_decay: float,
    ) -> None:
        defaults = {"momentum": momentum, "steps": steps, "adjust": adjust}
        super().__init__(groups, {**defaults, "lr": groups[0]["lr"], "weight_decay": weight_decay})

    def update(self, p: torch.Tensor, buffer: torch.Tensor, group: dict[str, Any]) -> None:
        beta, lr = group["momentum"], group["lr"]
        buffer.lerp_(p.grad, 1 - beta)
        update = orthogonalised(p.grad.lerp(buffer, beta), group["steps"])  # Nesterov
        p.mul_(1 - lr * group["weight_decay"])
        p.add_(update, alpha=-lr * lr_scale(p.shape, group["adjust"]))


class Joined:
    """Two torch optimizers stepped as one: their parameter groups in one list (the loop
    rescales every group's learning rate), one ``step``, one ``state_dict``."""

    def __init__(self, *parts: torch.optim.Optimizer) -> None:
        self.parts = [part for part in parts if part is not None]
        self.param_groups = [group for part in self.parts for group in part.param_groups]
        self.defaults = self.parts[-1].defaults

    @property
    def state(self) -> dict[Any, Any]:
        """Every part's state, by parameter."""
        return {k: v for part in self.parts for k, v in part.state.items()}

    def step(self, closure: Any = None) -> Any:
        *first, last = self.parts
        for part in first:
            part.step()
        return last.step(closure) if closure is not None else last.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        for part in self.parts:
            part.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"parts": [part.state_dict() for part in self.parts]}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        for part, state in zip(self.parts, state_dict["parts"], strict=True):
            part.load_state_dict(state)
        self.param_groups = [group for part in self.parts for group in part.param_groups]


class Muon(Optimizer):
    """Muon (Jordan et al. 2024; Liu et al. 2025 for the learning-rate matching): the encoder's
    weights of two or more dimensions (linear matrices, convolution filters flattened to
    out x in*k*k) take orthogonalised Nesterov momentum; everything else (biases, norms, the
    head, or all of a network without such weights) takes the base optimizer's step."""

    name = "muon"
    summary = "Muon (Jordan et al. 2024): orthogonalised momentum for matrices, a base for the rest"
    version = 1
    wraps = True
    defaults = {"momentum": 0.95, "steps": 5, "adjust": "match-adamw", "base": "adamw"}
    params = {
        "momentum": Float(0, 1, high_open=True, help="Nesterov momentum before orthogonalising"),
        "steps": Int(1, 20, help="Newton-Schulz iterations"),
        "adjust": Choice("match-adamw", "original", help="learning-rate scale per weight shape"),
        "base": Param("str", help=BASE_HELP),
    }

    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        matrices, rest = [], []
        for group in groups:
            names = group.get("param_names") or [""] * len(group["params"])
            pairs = list(zip(names, group["params"], strict=True))
            mine = [(n, p) for n, p in pairs if p.dim() >= 2 and not n.startswith(HEAD)]
            others = [(n, p) for n, p in pairs if p.dim() < 2 or n.startswith(HEAD)]
            for chosen, out in ((mine, matrices), (others, rest)):
                if chosen:
                    part = {**group, "params": [p for _, p in chosen]}
                    if "param_names" in group:
                        part["param_names"] = [n for n, _ in chosen]
                    out.append(part)
        hp = self.hparams
        own = (
            OrthogonalMomentum(matrices, hp["momentum"], hp["steps"], hp["adjust"], weight_decay)
            if matrices
            else None
        )
        base = self.build_base(rest, weight_decay) if rest else None
        return Joined(own, base)  # type: ignore[return-value]
