"""Base classes of the component kinds, and the network shape they share.

A component is a class with a unique kebab-case ``name``, a one-line ``summary``, ``defaults``
(its hyperparameters when nothing is tuned) and ``search_space(trial)`` (Optuna define-by-run).
It is built from a dict of hyperparameters. Randomness reaches a component only through the
seeded ``torch.Generator`` the loop hands it, never the global RNGs.

The task kind lives in :mod:`benchbench.tasks`; the other four are here.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .params import Param, check_declarations, schema

_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class Component:
    """What every component kind shares: identity, defaults, search space, hyperparameters."""

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    defaults: ClassVar[Mapping[str, Any]] = {}
    params: ClassVar[Mapping[str, Param]] = {}
    """Type and range of each hyperparameter (:mod:`benchbench.params`); one left out is typed
    by its default."""
    version: ClassVar[str | int | None] = None
    """Bump it whenever the component's results would change: it then identifies the
    component in run ids instead of the distribution's version or source fingerprint
    (:mod:`benchbench.identity`), so a release that leaves the component alone keeps its
    stored results. None: identified by its distribution."""

    def __init__(self, **hparams: Any) -> None:
        unknown = set(hparams) - set(self.defaults)
        if unknown:
            known = ", ".join(sorted(self.defaults)) or "none"
            raise ValueError(
                f"{self.kind} {self.name!r} has no hyperparameter(s) {sorted(unknown)} "
                f"(it has: {known})"
            )
        self.hparams: dict[str, Any] = {**self.defaults, **hparams}

    @classmethod
    def search_space(cls, trial: Any) -> dict[str, Any]:
        """Suggest hyperparameters with an ``optuna.Trial``; nothing to tune by default."""
        return {}

    @classmethod
    def validate_class(cls) -> None:
        """Raise ``ValueError`` if the class cannot be registered (bad name or summary)."""
        if not _NAME.match(cls.name or ""):
            raise ValueError(f"{cls.__qualname__}.name must be kebab-case, got {cls.name!r}")
        if not cls.summary:
            raise ValueError(f"{cls.__qualname__} needs a one-line summary")
        version = cls.version
        if version is not None and (
            isinstance(version, bool)
            or not isinstance(version, str | int)
            or not str(version).strip()
        ):
            raise ValueError(f"{cls.__qualname__}.version must be a string or integer")
        check_declarations(f"{cls.kind} {cls.name!r}", cls.defaults, cls.params)

    @classmethod
    def schema(cls) -> dict[str, Param]:
        """Every hyperparameter with its declaration (declared or inferred from its default)."""
        return schema(cls.defaults, cls.params)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.hparams})"


class Model(nn.Module):
    """A network as an ordered encoder of named blocks plus a head mapping features to logits.

    Hidden-layer methods (manifold mixup, layer-wise pretraining) walk ``encoder``; per-layer
    strategies (freezing, layer-wise rates) address its blocks; feature methods use
    :meth:`features`.
    """

    def __init__(self, blocks: Iterable[tuple[str, nn.Module]], head: nn.Module) -> None:
        super().__init__()
        self.encoder = nn.Sequential(OrderedDict(blocks))
        self.head = head

    def features(self, x: Tensor) -> Tensor:
        """The encoder's output flattened: one feature vector per example. The encoder itself
        may end in a feature map (channels x positions), which sequence methods such as CPC
        need."""
        return self.encoder(x).flatten(1)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))


def count_parameters(model: nn.Module) -> int:
    """Number of scalar parameters, trainable or not."""
    return sum(p.numel() for p in model.parameters())


def soft_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Cross-entropy against soft target distributions (rows summing to 1), batch mean.

    ``F.cross_entropy`` with class probabilities computes exactly ``-(t * log_softmax).sum(-1)``,
    fused."""
    return F.cross_entropy(logits, targets)


class Architecture(Component):
    """Builds the network for a task's input shape and class count."""

    kind = "arch"

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        """Return a freshly initialised :class:`Model` (initialised from the global RNG,
        which the loop seeds)."""
        raise NotImplementedError


@dataclass
class RunContext:
    """What a component may know of the run it is part of; handed to ``prepare``."""

    model: Model
    task: Any
    generator: torch.Generator
    device: torch.device


def overrides(component: object, base: type, method: str) -> bool:
    """True when ``component`` (an instance or a class) replaces ``base``'s ``method``."""
    cls = component if isinstance(component, type) else type(component)
    return getattr(cls, method) is not getattr(base, method)


class Regularizer(Component):
    """How a labeled batch becomes a loss. Targets are soft distributions throughout, so
    regularizers compose: ``augment+mixup`` applies both transforms in order."""

    kind = "regularizer"

    def prepare(self, context: RunContext) -> None:
        """Change the model once before training (e.g. insert dropout); keep what is needed
        of the context (the task's augmentation, the generator)."""

    def weight_decay(self) -> float:
        """Decoupled weight decay the optimizer should apply (AdamW's); none by default."""
        return 0.0

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Change inputs and soft targets of a batch (label smoothing, mixup, cutmix...)."""
        return x, targets

    def forward(
        self, model: Model, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Compute logits, for methods that act inside the network (manifold mixup)."""
        return model(x), targets

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The training loss of a batch; soft cross-entropy unless overridden."""
        return soft_cross_entropy(logits, targets)

    def on_step(self, model: Model, progress: float) -> None:
        """Called after each optimizer step with the fraction of the budget spent."""


class RegularizerChain(Regularizer):
    """Several regularizers applied as one (``augment+mixup``): transforms in the order
    named, every ``prepare`` and ``on_step``, weight decays added. At most one member may
    override ``forward`` and at most one ``loss``: two would silently discard each other."""

    def __init__(self, members: Sequence[Regularizer]) -> None:
        super().__init__()
        self.members = list(members)
        self.name = "+".join(m.name for m in self.members)  # type: ignore[misc]
        for method in ("forward", "loss"):
            owners = [m.name for m in self.members if overrides(m, Regularizer, method)]
            if len(owners) > 1:
                raise ValueError(f"cannot combine {' and '.join(owners)}: both define {method}()")
        self._forward = next(
            (m for m in self.members if overrides(m, Regularizer, "forward")), None
        )
        self._loss = next((m for m in self.members if overrides(m, Regularizer, "loss")), None)

    def prepare(self, context: RunContext) -> None:
        for member in self.members:
            member.prepare(context)

    def weight_decay(self) -> float:
        return sum(m.weight_decay() for m in self.members)

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        for member in self.members:
            x, targets = member.transform(x, targets, generator)
        return x, targets

    def forward(
        self, model: Model, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        if self._forward is None:
            return super().forward(model, x, targets, generator)
        return self._forward.forward(model, x, targets, generator)

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        if self._loss is None:
            return super().loss(logits, targets)
        return self._loss.loss(logits, targets)

    def on_step(self, model: Model, progress: float) -> None:
        for member in self.members:
            member.on_step(model, progress)


class SSL(Component):
    """What unlabeled data is used for: a pretraining phase and/or a joint unlabeled loss.

    ``supervised`` (labeled data only) is the baseline. A semi-supervised method overrides
    :meth:`unlabeled_loss`: each step the loop then draws a batch of ``unlabeled_batch_size``
    unlabeled inputs and adds the method's loss on it to the labeled loss.

    A self-supervised method overrides :meth:`pretrain_loss`: the loop then spends the first
    :meth:`pretrain_share` of the run's budget (same clock, same limits) training the encoder
    and the method's own :meth:`pretrain_modules` on unlabeled inputs (the unlabeled split and
    the labeled inputs, without labels), then trains through the run's finetune component.
    """

    kind = "ssl"

    def prepare(self, context: RunContext) -> None:
        """Keep what is needed of the run (the task's augmentation, the generator) and build
        the method's own modules (projection heads, decoders) on ``context.device``."""

    @property
    def uses_unlabeled(self) -> bool:
        """True for methods that train on unlabeled batches jointly with labeled ones."""
        return overrides(self, SSL, "unlabeled_loss")

    @property
    def uses_pretraining(self) -> bool:
        """True for methods with a self-supervised pretraining phase."""
        return overrides(self, SSL, "pretrain_loss")

    def unlabeled_batch_size(self, labeled_batch_size: int) -> int:
        """Unlabeled examples per step: ``ratio`` (mu in FixMatch) times the labeled batch.
        Pretraining batches have this size too."""
        return int(self.hparams.get("ratio", 1)) * labeled_batch_size

    def unlabeled_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        """The method's loss on a batch of unlabeled inputs, added to the labeled loss."""
        raise NotImplementedError

    def pretrain_share(self) -> float:
        """Fraction of the run's budget spent pretraining (the ``share`` hyperparameter)."""
        share = float(self.hparams.get("share", 0.5))
        if not 0 < share < 1:
            raise ValueError(f"ssl {self.name!r}: share must be in (0, 1), got {share}")
        return share

    def pretrain_stages(self) -> int:
        """Stages of the pretraining phase, each with its own learning-rate schedule (greedy
        layer-wise pretraining has one per block); 1 by default."""
        return 1

    def pretrain_modules(self) -> nn.Module:
        """The method's own trainable modules (projection head, decoder), optimized with the
        encoder during pretraining and discarded after it."""
        return nn.ModuleList()

    def pretrain_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        """The self-supervised loss of a batch of unlabeled inputs; ``progress`` is the
        fraction of the pretraining phase spent."""
        raise NotImplementedError


def set_trainable(module: nn.Module, trainable: bool) -> None:
    """Freeze or unfreeze ``module``: its parameters stop (or start) taking gradients, and it
    goes to eval (or train) mode, so a frozen block's batch-norm statistics stay as they
    were. The loop's evaluations restore each module's own mode."""
    module.requires_grad_(trainable)
    module.train(trainable)


class Finetune(Component):
    """Which parameters learn, how fast and when; or a closed-form fit of the head instead
    of gradient steps (:meth:`fit`).

    Runs start from the best weights the run has: a source model's encoder on a transfer
    task, else the encoder the ssl method pretrained, else a fresh network. A strategy with
    ``uses_pretrained = False`` (training from scratch) always starts from a fresh one.
    """

    kind = "finetune"
    uses_pretrained: ClassVar[bool] = True
    expects_pretrained: ClassVar[bool] = False
    """True for strategies that only adapt pretrained weights (a linear probe, the last
    blocks): on a network nothing pretrained, planning warns."""

    def param_groups(self, model: Model, lr: float) -> list[dict[str, Any]]:
        """Optimizer parameter groups; freeze what must not learn first (see
        :func:`set_trainable`). Every trainable parameter at ``lr`` by default."""
        return [{"params": [p for p in model.parameters() if p.requires_grad], "lr": lr}]

    def on_step(self, model: Model, progress: float) -> None:
        """Called after each optimizer step with the fraction of the fine-tuning phase spent
        (unfreezing schedules)."""

    @property
    def fits(self) -> bool:
        """True for strategies that fit the head in closed form and take no gradient step."""
        return overrides(self, Finetune, "fit")

    def fit(
        self, features: np.ndarray, labels: np.ndarray, num_classes: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Fit a linear classifier on frozen features (rows) and integer labels; return its
        weight ``(num_classes, features)`` and bias ``(num_classes,)``, which become the
        model's head."""
        raise NotImplementedError
