"""The optimizer kind: the update, and who owns the parameter groups it steps.

An optimizer component builds a ``torch.optim.Optimizer``
(:meth:`~benchbench.Optimizer.build`) over the parameter groups the fine-tune strategy hands
out, each with its own ``lr``, and the regularizer's decoupled weight decay. The loop
multiplies every group's ``lr`` by the schedule's factor before each step: the learning-rate
schedule stays a loop setting, shared by every optimizer, so a comparison of optimizers
compares updates, not schedules.

Two-pass methods (SAM) set :attr:`~benchbench.Optimizer.closure`: the loop then calls
``step(closure)``, the closure as ``torch.optim`` defines it (zero the gradients, evaluate the
loss at the current weights, backpropagate, return the loss), on the same batch with the same
augmentation, without updating batch-norm statistics a second time. A wrapper (Lookahead,
SAM, EMA, SWA, Muon's other parameters) names its base optimizer with a ``base``
hyperparameter; the base is another registered optimizer, with its own hyperparameters under
its own name (``lookahead.base = "sgd"`` with ``sgd.momentum``), built by
:meth:`~benchbench.Optimizer.build_base`. An optimizer whose evaluated weights differ from
those it trains (schedule-free's averaged iterate, an EMA or SWA of the weights) puts them in
place in :meth:`~benchbench.Optimizer.use_weights`: validation points, the test score,
time-to-target and the model a run returns all use them.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import torch

from .components import Component


class Optimizer(Component):
    """How parameters are updated from their gradients (see the module's docstring).

    The parameter groups are lists of dicts as ``torch.optim`` takes them (``params``,
    ``lr``, maybe ``name``); an optimizer may split them further (Muon: matrices apart), keeping
    each group's ``lr`` key, which the loop rescales every step. Its state lives in the
    built optimizer's ``state_dict``; randomness, if any, only from the run's generator.
    """

    kind = "optimizer"
    hooks = ("build", "use_weights", "on_step", "problem")
    closure: ClassVar[bool] = False
    """True for methods that evaluate the loss more than once per step: the loop passes
    ``step`` a closure (``torch.optim``'s convention). fp16's gradient scaler cannot step
    them; planning refuses that pairing."""
    wraps: ClassVar[bool] = False
    """True for an optimizer over a base optimizer, which its ``base`` hyperparameter names."""
    loop_defaults: ClassVar[Mapping[str, Any]] = {}
    """Loop settings it trains with unless the run sets them, after the task's preferences
    (schedule-free: ``{"schedule": "constant"}``)."""

    def __init__(self, **hparams: Any) -> None:
        super().__init__(**hparams)
        self.base: Optimizer | None = None
        """The base optimizer's component, for a wrapper (set when the run is built)."""
        self.built: torch.optim.Optimizer | None = None
        """What :meth:`make` built last (the loop builds one per training phase)."""

    @abstractmethod
    def build(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        """A ``torch.optim.Optimizer`` over ``groups`` (each with its ``params`` and ``lr``),
        applying ``weight_decay`` as decoupled decay (0: none)."""

    def make(self, groups: list[dict[str, Any]], weight_decay: float) -> torch.optim.Optimizer:
        """:meth:`build`, remembered as :attr:`built` (what the loop calls)."""
        self.built = self.build(groups, weight_decay)
        return self.built

    def build_base(
        self, groups: list[dict[str, Any]], weight_decay: float
    ) -> torch.optim.Optimizer:
        """The base optimizer over ``groups``: what a wrapper's :meth:`build` wraps."""
        if self.base is None:
            raise ValueError(f"optimizer {self.name!r} wraps a base optimizer, and none was built")
        return self.base.make(groups, weight_decay)

    def takes_closure(self) -> bool:
        """Whether the built optimizer's ``step`` wants a closure (:attr:`closure`, here or
        in a base)."""
        return self.closure or (self.base is not None and self.base.takes_closure())

    def use_weights(self, evaluated: bool) -> None:
        """Put in the model the weights to evaluate (``True``: before an eval point and after
        training) or to train from (``False``: after an eval point). Both are the same for
        most optimizers; a wrapper passes the call to its base by default."""
        if self.base is not None:
            self.base.use_weights(evaluated)

    def on_step(self, progress: float) -> None:
        """Called before each step with the fraction of the phase's budget spent (weight
        averaging over its last part); a wrapper passes the call to its base by default."""
        if self.base is not None:
            self.base.on_step(progress)

    @classmethod
    def problem(cls, settings: Mapping[str, Any]) -> str | None:
        """Why this optimizer cannot train a run with these loop settings here (one line), or
        None; asked when a run is planned (schedule-free: a schedule that decays, a package
        that is not installed)."""
        return None
