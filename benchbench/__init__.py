"""benchbench: which training technique actually helps, on which data, at what cost.

This module is the public API a plugin author imports::

    import benchbench

    class Mixup(benchbench.Regularizer):
        name = "mixup"
        summary = "convex combinations of example pairs and of their soft targets"
        defaults = {"alpha": 0.2}
        ...

    @benchbench.hookimpl
    def benchbench_register_components(registry):
        registry.add(Mixup)

and declares the module in the ``benchbench`` entry-point group of its package.
"""

import pluggy

from .budget import Budget
from .components import (
    SSL,
    Architecture,
    Component,
    Finetune,
    Model,
    Regularizer,
    RegularizerChain,
    RunContext,
    count_parameters,
    set_trainable,
    soft_cross_entropy,
)
from .errors import BenchbenchError
from .hookspecs import PROJECT
from .spec import RunResult, RunSpec
from .tasks import Split, Splits, Task, stratified_split

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's implementation of a hook in :mod:`benchbench.hookspecs`."""

__all__ = [
    "SSL",
    "Architecture",
    "BenchbenchError",
    "Budget",
    "Component",
    "Finetune",
    "Model",
    "Regularizer",
    "RegularizerChain",
    "RunContext",
    "RunResult",
    "RunSpec",
    "Split",
    "Splits",
    "Task",
    "count_parameters",
    "hookimpl",
    "set_trainable",
    "soft_cross_entropy",
    "stratified_split",
]
