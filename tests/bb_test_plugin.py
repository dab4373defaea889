"""A plugin used by the tests, loaded with ``-p bb_test_plugin`` like a local plugin would be.

It brings a tiny synthetic task (fast, separable), regularizers that misbehave on purpose
(diverge, raise, hang), a pretraining method that records its calls, optimizers that record
their closure's passes or break the weights, and an observer of the lifecycle hooks.
"""

from __future__ import annotations

import os
import threading
import time

import torch
from torch.utils.data import Dataset

import benchbench
from benchbench import SSL, Budget, Optimizer, Regularizer, Split, Splits, Task


class Blobs(Task):
    """Four Gaussian blobs in 8 dimensions: learnable in a few steps."""

    name = "blobs"
    summary = "four separable Gaussian blobs in 8-D (tests only)"
    num_classes = 4
    input_shape = (8,)
    modality = "tabular"
    target_accuracy = 0.9
    budget = Budget(epochs=3)
    trainer_defaults = {"batch_size": 32}
    defaults = {"n": 512}

    def load(self, data_dir):
        g = torch.Generator().manual_seed(1234)
        n = int(self.hparams["n"])
        centers = torch.randn(4, 8, generator=g) * 3
        y = torch.arange(n) % 4
        x = centers[y] + torch.randn(n, 8, generator=g)
        a, b = n // 2, 3 * n // 4
        return Splits(Split(x[:a], y[:a]), Split(x[a:b], y[a:b]), Split(x[b:], y[b:]))


class _Slow(Dataset):
    """A dataset that takes ``delay`` seconds per example, like a slow disk."""

    def __init__(self, split, delay):
        self.split, self.delay = split, delay

    def __len__(self):
        return len(self.split)

    def __getitem__(self, i):
        time.sleep(self.delay)
        return self.split.x[i], self.split.y[i]


class SlowBlobs(Blobs):
    """The blobs, read through a dataset that sleeps per example: an input-bound task."""

    name = "slow-blobs"
    summary = "blobs behind an artificially slow per-example loader (tests only)"
    defaults = {"n": 512, "delay": 0.002}

    def load(self, data_dir):
        splits = super().load(data_dir)
        return Splits(_Slow(splits.train, self.hparams["delay"]), splits.val, splits.test)


class Inflate(Regularizer):
    """Multiplies the loss by ``factor`` from step ``at`` on: it explodes without ever being
    NaN (AdamW barely notices a scaled loss, so the model itself stays sane)."""

    name = "inflate"
    summary = "finite loss multiplied a millionfold after a few steps (tests only)"
    defaults = {"at": 5, "factor": 1e6}

    def __init__(self, **hparams):
        super().__init__(**hparams)
        self.calls = 0

    def factor(self) -> float:
        return self.hparams["factor"]

    def loss(self, logits, targets):
        self.calls += 1
        loss = super().loss(logits, targets)
        return loss * self.factor() if self.calls >= self.hparams["at"] else loss


class Diverge(Inflate):
    """Returns a NaN loss from step ``at`` on."""

    name = "diverge"
    summary = "NaN loss after a few steps (tests only)"
    defaults = {"at": 3}

    def factor(self) -> float:
        return float("nan")


class Explode(Regularizer):
    """Raises inside the run."""

    name = "explode"
    summary = "raises RuntimeError in transform (tests only)"

    def transform(self, x, targets, generator):
        raise RuntimeError("boom")


class Hang(Regularizer):
    """Blocks for good on its first batch: only a time limit ends it."""

    name = "hang"
    summary = "blocks forever on its first batch (tests only)"

    def transform(self, x, targets, generator):
        threading.Event().wait()
        return x, targets


class Crash(Regularizer):
    """Kills its own process, as a segfault in an extension would."""

    name = "crash"
    summary = "exits the process on its first batch (tests only)"

    def transform(self, x, targets, generator):
        os._exit(3)


TEST_SPLIT_READS: list[str] = []
"""Every torch operation on ``watched-blobs``'s test split, for the tuning tests."""


class _Watched(torch.Tensor):
    """A tensor that records every torch operation on it (but its length, which building
    a split asks for)."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", str(func))
        if name != "__len__":
            TEST_SPLIT_READS.append(name)
        return super().__torch_function__(func, types, args, kwargs or {})


class WatchedBlobs(Blobs):
    """``blobs`` whose test split records any access to it."""

    name = "watched-blobs"
    summary = "blobs with a test split that records every read (tests only)"

    def load(self, data_dir):
        splits = super().load(data_dir)
        test = Split(splits.test.x.as_subclass(_Watched), splits.test.y.as_subclass(_Watched))
        return Splits(splits.train, splits.val, test)


PRETRAIN_CALLS: list[tuple[float, int]] = []
"""(progress, batch size) of every ``pretrain-probe`` step, for the loop's tests."""


class PretrainProbe(SSL):
    """A pretraining method that shrinks the encoder's features and records each call;
    ``nan_at`` makes its loss non-finite from that step on."""

    name = "pretrain-probe"
    summary = "records its pretraining calls (tests only)"
    defaults = {"share": 0.25, "ratio": 2, "nan_at": -1}

    def pretrain_loss(self, model, x_unlabeled, progress, generator):
        PRETRAIN_CALLS.append((progress, len(x_unlabeled)))
        loss = model.features(x_unlabeled).pow(2).mean()
        if 0 <= self.hparams["nan_at"] < len(PRETRAIN_CALLS):
            loss = loss * float("nan")
        return loss


class Observer:
    """Records every lifecycle hook call."""

    def __init__(self):
        self.calls = []

    @benchbench.hookimpl
    def benchbench_run_started(self, spec, model):
        self.calls.append(("started", spec.run_id))

    @benchbench.hookimpl
    def benchbench_eval_point(self, spec, point):
        self.calls.append(("eval", point["step"]))

    @benchbench.hookimpl
    def benchbench_run_finished(self, spec, result):
        self.calls.append(("finished", result.status))


class _TwoPasses(torch.optim.SGD):
    """SGD that asks for the loss twice more before each step, recording what it got."""

    passes: list = []

    def step(self, closure=None):
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        first = [p.grad.clone() for p in params]
        again = [closure().item(), [p.grad.clone() for p in params]]
        twice = [closure().item(), [p.grad.clone() for p in params]]
        _TwoPasses.passes.append((first, again, twice))
        return super().step()


class ClosureProbe(Optimizer):
    name = "closure-probe"
    summary = "SGD that evaluates the closure twice per step and records what it returned"
    closure = True

    def build(self, groups, weight_decay):
        return _TwoPasses(groups, lr=groups[0]["lr"])


class _Poison(torch.optim.SGD):
    def step(self, closure=None):
        super().step()
        with torch.no_grad():
            self.param_groups[0]["params"][0].fill_(float("nan"))


class PoisonStep(Optimizer):
    name = "poison-step"
    summary = "SGD whose step leaves a weight NaN"

    def build(self, groups, weight_decay):
        return _Poison(groups, lr=groups[0]["lr"])


class RaiseStep(Optimizer):
    name = "raise-step"
    summary = "An optimizer whose build raises"

    def build(self, groups, weight_decay):
        raise RuntimeError("no update today")


@benchbench.hookimpl
def benchbench_register_components(registry):
    for cls in (
        ClosureProbe,
        PoisonStep,
        RaiseStep,
        Blobs,
        SlowBlobs,
        WatchedBlobs,
        Diverge,
        Inflate,
        Explode,
        Hang,
        Crash,
        PretrainProbe,
    ):
        registry.add(cls)
