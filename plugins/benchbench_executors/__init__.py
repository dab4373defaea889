"""benchbench's own executors beyond the core's ``local``, a plugin like any other: ``ray``
(every run a task on a Ray cluster, ``benchbench[ray]``) and ``slurm`` (every run a Slurm job
through submitit, as job arrays, ``benchbench[slurm]``). Neither imports its cluster's
package until it is chosen, so both are listed, and refuse in one line, without it."""

from __future__ import annotations

from typing import Any

import benchbench

from .ray import RayExecutor
from .slurm import SlurmExecutor
from .slurm_options import SlurmOptions

__all__ = ["RayExecutor", "SlurmExecutor", "SlurmOptions"]


@benchbench.hookimpl
def benchbench_register_executors(registry: Any) -> None:
    registry.add_executor(RayExecutor)
    registry.add_executor(SlurmExecutor)
