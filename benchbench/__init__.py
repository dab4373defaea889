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

import pluggy

from .hookspecs import PROJECT

hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's implementation of a hook in :mod:`benchbench.hookspecs`."""

_API = {
    "run": "running.session",
    "run_one": "running.session",
    "tune": "tuning.session",
    "profile": "running.loader_sweep",
    "leaderboard": "ranking.leaderboard",
    "leaderboard_text": "ranking.leaderboard",
    "results": "storage.store",
    "report": "reporting",
    "export": "storage.files",
    "import_results": "storage.files",
    "verify": "running.verify",
    "data_status": "data.setup",
    "fetch_data": "data.setup",
    "catalog": "plugins.listing",
    "describe": "plugins.catalog",
    "check_plugin": "authoring.conformance",
    "new_plugin": "authoring.scaffold",
}
"""The functions of the Python API (:mod:`benchbench.api`) and the modules that hold them,
beside the policy each carries out."""
_PUBLIC = {
    **_API,
    "SSL": "components",
    "Architecture": "components",
    "BenchbenchError": "errors",
    "Bool": "params",
    "Budget": "budget",
    "Choice": "params",
    "Component": "components",
    "Finetune": "components",
    "Float": "params",
    "Int": "params",
    "Model": "components",
    "Param": "params",
    "Pixels": "tasks",
    "Regularizer": "components",
    "RegularizerChain": "components",
    "RunContext": "components",
    "RunResult": "spec",
    "RunSpec": "spec",
    "SlurmOptions": "running.executors.slurm_options",
    "Split": "tasks",
    "Splits": "tasks",
    "Task": "tasks",
    "TrackedRun": "tracking",
    "Tracker": "tracking",
    "count_parameters": "components",
    "set_trainable": "components",
    "soft_cross_entropy": "components",
    "stratified_split": "tasks",
}
"""Every public name and the module it lives in, imported on first use: ``benchbench
--version`` and ``--help`` must not wait for torch."""
__all__ = sorted([*_PUBLIC, "hookimpl"])


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'benchbench' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from .api import (
        catalog,
        check_plugin,
        describe,
        export,
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
    from .params import Bool, Choice, Float, Int, Param
    from .running.executors.slurm_options import SlurmOptions
    from .spec import RunResult, RunSpec
    from .tasks import Pixels, Split, Splits, Task, stratified_split
    from .tracking import TrackedRun, Tracker
