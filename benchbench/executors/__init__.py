"""Where runs are placed: the executor plugin type and what it takes to write one.

- :mod:`.base`: :class:`~benchbench.Executor` (the plugin type), :class:`Job`,
  :class:`Placement` (what every executor is told) and :data:`LOST`;
- :mod:`.options`: :class:`~benchbench.ExecutorOption`, an executor's declared options, from
  which the command line's flags and the API's ``executor_options`` follow;
- :mod:`.worker`: the worker side, wherever jobs run (:class:`WorkerSetup`,
  :func:`run_placed`, :class:`Ran`);
- :mod:`.neighbours`: what a result records about the runs that shared its node;
- :mod:`.local`: the built-in ``local`` executor (worker processes on this machine) and the
  in-process one tests use; :mod:`.choose` opens the one a command names.

Executors that place runs elsewhere come from plugins (``ray`` and ``slurm`` from benchbench's
own ``benchbench_executors``), registered through ``benchbench_register_executors``. The
names below are imported on first use.
"""

from __future__ import annotations

from ..public import lazy_exports

_PUBLIC = {
    "LOST": "base",
    "Executor": "base",
    "ExecutorOption": "options",
    "Finished": "base",
    "InProcessExecutor": "local",
    "Job": "base",
    "JobLost": "base",
    "LocalExecutor": "local",
    "Neighbours": "neighbours",
    "Placement": "base",
    "ProcessPoolExecutor": "local",
    "Raised": "worker",
    "Ran": "worker",
    "WorkerSetup": "worker",
    "open_executor": "choose",
    "run_placed": "worker",
    "visible_gpus": "local",
}
__all__ = sorted(_PUBLIC)


__getattr__ = lazy_exports(__name__, _PUBLIC)
