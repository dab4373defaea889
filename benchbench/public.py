"""The public names of ``benchbench`` and the modules that define them: the index behind
``import benchbench as bb`` and :mod:`benchbench.api`, which import each
name on first use so that ``benchbench --version`` and ``--help`` do not wait for torch.

It imports nothing: run identity (:mod:`benchbench.identity`) reads it to find the module
behind ``from benchbench import Regularizer`` without importing the package's index."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    module: str, where: Mapping[str, str], package: str | None = None
) -> Callable[[str], Any]:
    """The module-level ``__getattr__`` of ``module`` that imports each name of ``where`` from
    its module (relative to ``package``, default ``module`` itself) on first use, so that
    importing ``module`` costs nothing."""

    def get(name: str) -> Any:
        found = where.get(name)
        if found is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        import importlib

        return getattr(importlib.import_module(f".{found}", package or module), name)

    return get


API = {
    "run": "running.session",
    "run_one": "running.one",
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
    "catalog": "inventory.listing",
    "describe": "inventory.describe",
    "check_plugin": "authoring.conformance",
    "new_plugin": "authoring.scaffold",
}
"""The functions of the Python API (:mod:`benchbench.api`) and the modules that hold them,
beside the policy each carries out."""

PUBLIC = {
    **API,
    "SSL": "components",
    "Architecture": "components",
    "BenchbenchError": "errors",
    "Bool": "params",
    "Budget": "budget",
    "Choice": "params",
    "Component": "components",
    "Executor": "executors.base",
    "ExecutorOption": "executors.options",
    "Finetune": "components",
    "Float": "params",
    "Int": "params",
    "Model": "components",
    "Optimizer": "optimizers",
    "Param": "params",
    "Pixels": "tasks",
    "Regularizer": "components",
    "RegularizerChain": "components",
    "RunContext": "components",
    "RunResult": "spec",
    "RunSpec": "spec",
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
"""Every public name of ``benchbench`` (but :data:`~benchbench.hookimpl`) and the module,
under ``benchbench.``, that defines it."""
