"""Base classes of the component kinds, and the network shape they share.

A component is a class with a unique kebab-case ``name``, a one-line ``summary``, ``defaults``
(its hyperparameters when nothing is tuned) and ``search_space(trial)`` (Optuna define-by-run).
It is built from a dict of hyperparameters. Randomness reaches a component only through the
seeded ``torch.Generator`` the loop hands it, never the global RNGs.

The contract is checked when a plugin registers a class
(:meth:`~benchbench.Component.validate_class`), not when a run reaches it: abstract methods
left unimplemented, a method whose name is one letter off a base method (``los`` for
``loss``), a regularizer or ssl method that changes nothing without saying it is its kind's
baseline, undeclared input kinds. Everything named in this module without a leading
underscore is stable API for plugins.

The task kind lives in :mod:`benchbench.tasks`; the other four are here.
"""

from __future__ import annotations

import difflib
import inspect
import re
from abc import ABCMeta, abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .params import Param, check_declarations, schema

KEBAB_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
"""What a component's or an executor's name looks like: lower-case words joined by '-'."""

INPUT_KINDS = ("image", "sequence", "tabular")
"""What a task's inputs are, by the rank of ``input_shape``: ``image`` (channels, height,
width), ``sequence`` (channels, length), ``tabular`` (features,)."""

INPUT_RANKS = {"image": 3, "sequence": 2, "tabular": 1}


class Component(metaclass=ABCMeta):  # noqa: B024 (the kinds declare the abstract methods)
    """What every component kind shares: identity, defaults, search space, hyperparameters.

    Stable API: the class attributes below, ``hparams`` (the built instance's values),
    :meth:`search_space` and :meth:`schema`. A subclass must not change ``__init__``'s
    signature: the loop builds every component as ``cls(**hparams)``.
    """

    kind: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    defaults: ClassVar[Mapping[str, Any]] = {}
    params: ClassVar[Mapping[str, Param]] = {}
    """Type and range of each hyperparameter (:mod:`benchbench.params`); one left out is typed
    by its default."""
    version: ClassVar[str | int | None] = None
    """The component's own version, bumped whenever its results would change. It then
    identifies the component in run ids instead of the distribution's version or source
    fingerprint (:mod:`benchbench.identity`), so a release that leaves the component
    alone keeps its stored results. When None, the distribution identifies it."""
    accepts: ClassVar[tuple[str, ...]] = ("any",)
    """The task input kinds (:data:`~benchbench.components.INPUT_KINDS`) this component works
    on, or ``("any",)``.
    A suite skips, and ``run-one`` refuses, a run pairing it with a task of another kind."""
    baseline: ClassVar[bool] = False
    """True for the do-nothing reference of its kind (``none``, ``supervised``): only a
    baseline may leave every method of its kind as the base class has it."""
    hooks: ClassVar[tuple[str, ...]] = ()
    """The methods a kind's components implement to act; a misspelling of one is refused at
    registration."""

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
        """Suggest hyperparameters with an ``optuna.Trial``; nothing to tune by default.

        Return ``{hyperparameter: value}``, every key one of ``defaults``. Name each
        suggestion ``"<name>.<hyperparameter>"``; a bare name is prefixed so, so that two
        components suggesting ``width`` never collide in one study. Draw nothing else."""
        return {}

    @classmethod
    def validate_class(cls) -> None:
        """Raise ``ValueError`` naming the class and what is wrong if it cannot be registered:
        a bad name or summary, an abstract method left unimplemented, a misspelled method,
        an unknown input kind, undeclared or badly declared hyperparameters."""
        where = cls.__qualname__
        if not KEBAB_NAME.match(cls.name or ""):
            raise ValueError(f"{where}.name must be kebab-case, got {cls.name!r}")
        if not isinstance(cls.summary, str) or not cls.summary.strip():
            raise ValueError(f"{where} needs a one-line summary")
        if inspect.isabstract(cls):
            missing = ", ".join(f"{m}()" for m in sorted(cls.__abstractmethods__))
            raise ValueError(f"{where} does not implement {missing}, which every {cls.kind} must")
        misspelled = _misspelled(cls)
        if misspelled:
            raise ValueError(misspelled)
        accepts = cls.accepts
        if isinstance(accepts, str) or not accepts or not set(accepts) <= {"any", *INPUT_KINDS}:
            raise ValueError(
                f"{where}.accepts must be a tuple of {', '.join(INPUT_KINDS)} or ('any',), "
                f"got {accepts!r}"
            )
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

    @classmethod
    def accepts_input(cls, modality: str) -> bool:
        """True when this component works on a task whose inputs are ``modality``."""
        return "any" in cls.accepts or modality in cls.accepts


def _misspelled(cls: type[Component]) -> str | None:
    """A public method of ``cls`` that is not its kind's but nearly the name of one of the
    kind's methods (``los`` for ``loss``): it would silently never be called."""
    base = next(b for b in cls.__mro__ if b.__module__ in (__name__, "benchbench.tasks"))
    known = [n for n in dir(base) if not n.startswith("_")]
    for klass in cls.__mro__:
        if klass.__module__ in (__name__, "benchbench.tasks"):
            break
        for attr, value in vars(klass).items():
            if attr.startswith("_") or attr in known or not callable(value):
                continue
            close = difflib.get_close_matches(attr, base.hooks or known, n=1, cutoff=0.8)
            if close:
                return (
                    f"{cls.__qualname__}.{attr}() is not a method of {base.__name__} and would "
                    f"never be called: did you mean {close[0]}()?"
                )
    return None


def _acts_or_baseline(cls: type[Component], base: type[Component], methods: Sequence[str]) -> None:
    """Refuse a class that overrides none of ``methods`` unless it is its kind's baseline."""
    if cls.baseline or any(overrides(cls, base, m) for m in methods):
        return
    raise ValueError(
        f"{cls.__qualname__} overrides none of {', '.join(m + '()' for m in methods)}, so it "
        f"would train exactly as the baseline {base.kind}; implement one (or set "
        "baseline = True if it is the do-nothing reference)"
    )


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
    hooks = ("build", "prepare")

    @abstractmethod
    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        """Return a freshly initialised :class:`~benchbench.Model` for inputs of ``input_shape``
        (one example, no batch dimension) and ``num_classes`` logits.

        Initialise from torch's global RNG, which the loop seeds before calling (never NumPy's
        or Python's). The model must take float32 batches ``(B, *input_shape)`` on the run's
        device and return logits ``(B, num_classes)``. May raise ``ValueError`` with a
        sentence for a shape it cannot handle; declare ``accepts`` so planning skips those."""

    def prepare(self, model: Model, context: RunContext) -> None:
        """Data-dependent initialisation of a fresh network before the first step (from
        ``context.training_sample(n)``); not called on a pretrained one. Nothing by default."""


@dataclass
class RunContext:
    """What a component may know of the run it is part of; handed to ``prepare``."""

    model: Model
    task: Any
    generator: torch.Generator
    device: torch.device
    sample: Any = field(default=None, repr=False)

    def training_sample(self, n: int) -> Tensor:
        """``n`` training inputs (all when there are fewer) as the model sees them, on the
        device, drawn with the run's generator: the same run, the same sample."""
        if self.sample is None:
            raise ValueError("this run offers no training sample")
        return self.sample(n)


def overrides(component: object, base: type, method: str) -> bool:
    """True when ``component`` (an instance or a class) replaces ``base``'s ``method``."""
    cls = component if isinstance(component, type) else type(component)
    return getattr(cls, method) is not getattr(base, method)


class Regularizer(Component):
    """How a labeled batch becomes a loss. Targets are soft distributions throughout, so
    regularizers compose: ``augment+mixup`` applies both transforms in order.

    Override at least one of :attr:`hooks`; only the kind's baseline (``none``) may override
    none. Tensors arrive on the run's device: inputs float32 ``(B, *input_shape)``, targets
    float32 ``(B, num_classes)`` with rows summing to 1. Return new tensors rather than
    changing the ones passed in: the loop may reuse a batch."""

    kind = "regularizer"
    hooks = ("prepare", "weight_decay", "transform", "forward", "loss", "on_step")

    @classmethod
    def validate_class(cls) -> None:
        super().validate_class()
        _acts_or_baseline(cls, Regularizer, cls.hooks)

    def prepare(self, context: RunContext) -> None:
        """Change the model once before training (e.g. insert dropout); keep what is needed
        of the context (the task's augmentation, the generator)."""

    def weight_decay(self) -> float:
        """Decoupled weight decay the optimizer should apply (AdamW's); none by default."""
        return 0.0

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Change inputs and soft targets of a batch (label smoothing, mixup, cutmix...):
        same shapes and dtypes out as in; draw randomness only from ``generator``."""
        return x, targets

    def forward(
        self, model: Model, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        """Compute logits ``(B, num_classes)`` and the targets they answer, for methods that
        act inside the network (manifold mixup)."""
        return model(x), targets

    def loss(self, logits: Tensor, targets: Tensor) -> Tensor:
        """The training loss of a batch, a scalar tensor that keeps its graph; soft
        cross-entropy unless overridden. A non-finite value ends the run as diverged."""
        return soft_cross_entropy(logits, targets)

    def on_step(self, model: Model, progress: float) -> None:
        """Called after each optimizer step with the fraction of the budget spent."""


class RegularizerChain(Regularizer):
    """Several regularizers applied as one (``augment+mixup``): transforms in the order
    named, every ``prepare`` and ``on_step``, weight decays added. At most one member may
    override ``forward`` and at most one ``loss``: two would silently discard each other.
    Built by the loop, never registered."""

    baseline = True

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


def default_loss(regularizer: Regularizer) -> bool:
    """Whether ``regularizer``'s loss is the default soft cross-entropy (for a chain: no
    member overrides it), so that one-hot targets it left alone may take the hard-label
    form: the same gradient, in fewer kernels."""
    if isinstance(regularizer, RegularizerChain):
        return regularizer._loss is None
    return not overrides(regularizer, Regularizer, "loss")


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
    hooks = (
        "prepare",
        "unlabeled_loss",
        "unlabeled_batch_size",
        "pretrain_loss",
        "pretrain_share",
        "pretrain_stages",
        "pretrain_modules",
    )

    @classmethod
    def validate_class(cls) -> None:
        super().validate_class()
        _acts_or_baseline(cls, SSL, ("unlabeled_loss", "pretrain_loss"))

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
        """The method's loss on a batch of unlabeled float32 inputs ``(B, *input_shape)``, a
        scalar tensor that keeps its graph, added to the labeled loss. Leave ``x_unlabeled``
        unchanged; draw randomness only from ``generator``."""
        raise NotImplementedError(f"ssl {self.name!r} has no unlabeled_loss()")

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
        """The self-supervised loss of a batch of unlabeled float32 inputs, a scalar tensor
        that keeps its graph; ``progress`` is the fraction of the pretraining phase spent."""
        raise NotImplementedError(f"ssl {self.name!r} has no pretrain_loss()")


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
    hooks = ("param_groups", "on_step", "fit")
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
        model's head. Features are float32, labels int64 in ``[0, num_classes)``."""
        raise NotImplementedError(f"finetune {self.name!r} has no fit()")
