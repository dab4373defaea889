"""The component kinds, declared once.

A kind is a role a component plays in a run: the task (data and what "good" means), the
architecture, the regularizer, the semi- or self-supervised method, the fine-tune strategy.
Each is declared here, once (:data:`KINDS`): its name (the run spec's field, the API's keyword,
the results column, ``kind = "..."`` in a suite's tracks), its base class, the component a run
has unless it names another, and the command's option help. What follows from the
declarations: the spec's component names in order (:data:`KIND_NAMES`), the defaults
(:data:`DEFAULT_COMPONENTS`), the registry's kinds and base classes, the command's component
options, the kinds a track compares, the origin columns of a leaderboard.

It imports nothing heavy: the base classes are named, not imported, so the command line starts
without torch (:meth:`Kind.base_class` imports one when a registry needs it).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """One component kind: see the module's docstring."""

    name: str
    """The spec's field, the API's keyword, the results column, a track's ``kind``."""
    base: str
    """Its base class, ``module:Class`` (imported by :meth:`base_class`)."""
    default: str | None
    """The component a run has unless it names another; None when a run must name one."""
    help: str
    """The command's option help (``--regularizer``...)."""
    added_later: bool = False
    """Declared after results were first stored: a spec, result or database from before it
    lacks it and means its default (the database gains the column, filled with it)."""

    @property
    def option(self) -> str:
        """The command's option: ``--regularizer``."""
        return "--" + self.name

    @property
    def origin_column(self) -> str:
        """The leaderboard column saying where its components came from."""
        return f"{self.name}_origin"

    def base_class(self) -> type:
        """The base class every component of this kind subclasses."""
        module, _, attribute = self.base.partition(":")
        return getattr(importlib.import_module(module), attribute)


KINDS: tuple[Kind, ...] = (
    Kind(
        "task",
        "benchbench.tasks:Task",
        None,
        "Task name ('benchbench list --kind task'), or a suite file declaring one task.",
    ),
    Kind(
        "arch",
        "benchbench.components:Architecture",
        None,
        "Architecture name ('benchbench list --kind arch').",
    ),
    Kind(
        "regularizer",
        "benchbench.components:Regularizer",
        "none",
        "Regularizer name ('benchbench list --kind regularizer'); several joined with +.",
    ),
    Kind(
        "ssl",
        "benchbench.components:SSL",
        "supervised",
        "Semi- or self-supervised method ('benchbench list --kind ssl').",
    ),
    Kind(
        "finetune",
        "benchbench.components:Finetune",
        "full",
        "Fine-tune strategy, for transfer tasks ('benchbench list --kind finetune').",
    ),
    Kind(
        "optimizer",
        "benchbench.optimizers:Optimizer",
        "adamw",
        "Optimizer: the update and its parameter groups ('benchbench list --kind optimizer').",
        added_later=True,
    ),
)
"""Every kind, in the order a run names its components (the spec's first fields)."""

KIND_NAMES = tuple(kind.name for kind in KINDS)
"""The kinds' names, in order."""
DEFAULT_COMPONENTS = {kind.name: kind.default for kind in KINDS if kind.default is not None}
"""The components a run has unless it names others."""
TRACK_KINDS = tuple(name for name in KIND_NAMES if name != "task")
"""What a track may compare (and fix): every kind but the task, which a track runs on."""
LATER_KINDS = tuple(kind.name for kind in KINDS if kind.added_later)
"""The kinds a spec, result or database stored before them lacks (:attr:`Kind.added_later`)."""
