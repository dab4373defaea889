"""benchbench: which training technique actually helps, on which data, at what cost.

For users, everything the command line does (:mod:`benchbench.api`)::

    import benchbench as bb

    outcome = bb.run("quick", out="bb-out")          # benchbench run quick --out bb-out
    table = bb.leaderboard("quick", out="bb-out")    # a pandas DataFrame

For plugin authors, the component kinds and the hook marker::

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

from typing import TYPE_CHECKING, Any

from .hookspecs import hookimpl as _marker
from .public import PUBLIC as _PUBLIC

hookimpl = _marker
"""Marks a plugin's implementation of a hook in :mod:`benchbench.hookspecs`."""

__all__ = sorted([*_PUBLIC, "hookimpl"])


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'benchbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """Every public name, imported or not yet (what ``bb.<TAB>`` completes)."""
    return sorted({*__all__, *globals()})


if TYPE_CHECKING:
    from .api import (
        catalog,
        check_plugin,
        data_status,
        describe,
        export,
        fetch_data,
        import_results,
        leaderboard,
        leaderboard_text,
        new_plugin,
        profile,
        report,
        results,
        run,
        run_one,
        tune,
        verify,
    )
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
    from .executors.base import Executor
    from .executors.options import ExecutorOption
    from .optimizers import Optimizer
    from .params import Bool, Choice, Float, Int, Param
    from .spec import RunResult, RunSpec
    from .tasks import Pixels, Split, Splits, Task, stratified_split
    from .tracking import TrackedRun, Tracker
