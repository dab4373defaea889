"""Where runs are placed. One interface, :class:`Executor` (submit jobs, wait for what
finished, stop); one module per way of placing them:

- :mod:`.local`: :class:`InProcessExecutor` (this process: tests, debugging) and
  :class:`ProcessPoolExecutor` (worker processes on this machine, the default), where a run
  that crashes its process or runs past its time limit costs that run only;
- :mod:`.ray`: :class:`RayExecutor`, every run a task on a Ray cluster (``benchbench[ray]``),
  imported only when asked for.

:mod:`.worker` is what runs in every worker process of either; :class:`Neighbours` records
in each result what its run was given and which other runs shared its node.
"""

from .base import LOST, Executor, Finished, Job, Neighbours
from .local import InProcessExecutor, ProcessPoolExecutor

__all__ = [
    "LOST",
    "Executor",
    "Finished",
    "InProcessExecutor",
    "Job",
    "Neighbours",
    "ProcessPoolExecutor",
]
