"""Components that register (the contract at registration holds) but break a conformance
check each, loaded with ``-p bb_nonconforming``; plus one that conforms."""

from __future__ import annotations

import itertools
import random

import numpy as np
import torch

import benchbench
from benchbench import Budget, Float, Regularizer, Split, Splits, Task


class Conforming(Regularizer):
    """Scales inputs by a fixed factor: harmless, repeatable, conforming."""

    name = "nc-conforming"
    summary = "multiplies inputs by a constant (tests only)"
    defaults = {"scale": 1.0}
    params = {"scale": Float(0.5, 2.0)}

    @classmethod
    def search_space(cls, trial):
        return {"scale": trial.suggest_float("scale", 0.5, 2.0)}

    def transform(self, x, targets, generator):
        return x * float(self.hparams["scale"]), targets


class SameSummary(Conforming):
    name = "nc-same-summary"
    summary = "no regularization: cross-entropy on the one-hot labels, no weight decay"  # none's


class UnknownKey(Conforming):
    name = "nc-unknown-key"
    summary = "search_space suggests a key it does not have (tests only)"

    @classmethod
    def search_space(cls, trial):
        return {"scael": trial.suggest_float("scael", 0.5, 2.0)}


class OutOfRange(Conforming):
    name = "nc-out-of-range"
    summary = "search_space suggests a value its declaration refuses (tests only)"

    @classmethod
    def search_space(cls, trial):
        return {"scale": trial.suggest_float("scale", 3.0, 4.0)}


class NaNLoss(Conforming):
    name = "nc-nan-loss"
    summary = "its loss is NaN (tests only)"

    def loss(self, logits, targets):
        return super().loss(logits, targets) * float("nan")


_calls = itertools.count()


class Drifting(Conforming):
    name = "nc-drifting"
    summary = "scales inputs by a factor that grows from run to run (tests only)"

    def prepare(self, context):
        self.factor = 1.0 + 0.5 * next(_calls)

    def transform(self, x, targets, generator):
        return x * self.factor, targets


class NumpyRandom(Conforming):
    name = "nc-numpy-random"
    summary = "draws noise from NumPy's global RNG (tests only)"

    def transform(self, x, targets, generator):
        return x + float(np.random.normal(0, 0.1)), targets


class PythonRandom(Conforming):
    name = "nc-python-random"
    summary = "draws noise from Python's global RNG (tests only)"

    def transform(self, x, targets, generator):
        return x + random.gauss(0, 0.1), targets


class TorchRandom(Conforming):
    name = "nc-torch-random"
    summary = "draws noise from torch's global RNG (tests only)"

    def transform(self, x, targets, generator):
        return x + 0.1 * torch.rand(x.shape), targets


class Threads(Conforming):
    name = "nc-threads"
    summary = "changes torch's thread count (tests only)"

    def prepare(self, context):
        torch.set_num_threads(
            max(1, torch.get_num_threads() - 1) if torch.get_num_threads() > 1 else 2
        )


class Float64Task(Task):
    name = "nc-float64"
    summary = "inputs in float64 (tests only)"
    num_classes, input_shape, modality = 2, (4,), "tabular"
    target_accuracy, budget = 0.9, Budget(steps=5)

    def load(self, data_dir):
        x = torch.randn(40, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
        y = torch.arange(40) % 2
        return Splits(Split(x[:20], y[:20]), Split(x[20:30], y[20:30]), Split(x[30:], y[30:]))


class _HiddenMomentum(torch.optim.SGD):
    """Heavy-ball momentum kept in an attribute, not in ``self.state``: a checkpoint loses it."""

    def __init__(self, groups):
        super().__init__(groups, lr=groups[0]["lr"])
        self.velocity = {}

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                v = self.velocity.setdefault(p, torch.zeros_like(p))
                v.mul_(0.9).add_(p.grad)
                p.add_(v, alpha=-group["lr"])


class HiddenState(benchbench.Optimizer):
    name = "nc-hidden-state"
    summary = "momentum SGD that keeps its velocity outside its state_dict"

    def build(self, groups, weight_decay):
        return _HiddenMomentum(groups)


class _Still(torch.optim.SGD):
    def step(self, closure=None):
        return None


class StandsStill(benchbench.Optimizer):
    name = "nc-stands-still"
    summary = "an optimizer whose step changes nothing"

    def build(self, groups, weight_decay):
        return _Still(groups, lr=groups[0]["lr"])


@benchbench.hookimpl
def benchbench_register_components(registry):
    for cls in (
        HiddenState,
        StandsStill,
        Conforming,
        SameSummary,
        UnknownKey,
        OutOfRange,
        NaNLoss,
        Drifting,
        NumpyRandom,
        PythonRandom,
        TorchRandom,
        Threads,
        Float64Task,
    ):
        registry.add(cls)
