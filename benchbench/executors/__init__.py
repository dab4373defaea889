"""Where runs are placed. One interface, :class:`Executor` (submit jobs, wait for what
finished, stop); one module per way of placing them:

- :mod:`.local`: :class:`InProcessExecutor` (this process: tests, debugging) and
  :class:`ProcessPoolExecutor` (worker processes on this machine, the default), where a run
  that crashes its process or runs past its time limit costs that run only.
"""

from .base import Executor, Finished, Job
from .local import InProcessExecutor, ProcessPoolExecutor

__all__ = ["Executor", "Finished", "InProcessExecutor", "Job", "ProcessPoolExecutor"]
