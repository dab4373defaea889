"""Submitting runs to Slurm: each group of runs with one time limit goes out as one job array
through submitit (a 1,000-run suite is one ``sbatch``, not 1,000), every job asking for what
:class:`~.slurm_options.SlurmOptions` says and running :func:`~.slurm_job.slurm_task` on its
node."""

from __future__ import annotations

import math
import shlex
from pathlib import Path
from typing import Any

from benchbench.errors import BenchbenchError, one_line
from benchbench.executors.base import Job
from benchbench.executors.worker import WorkerSetup
from benchbench.spec import RunSpec

from .slurm_job import slurm_task
from .slurm_options import STARTUP_SECONDS, SlurmOptions, sbatch_options

SIGNAL_SECONDS = 30
"""How long before Slurm's time limit submitit is warned (``--signal``) and records the run
as timed out."""

MAX_ARRAY = 1000
"""The most jobs in one array, and in flight: fewer where the cluster's ``MaxArraySize``
says (Slurm's default is 1001: indices 0 to 1000)."""


def submitit_module() -> Any:
    """submitit, or one line saying how to install it."""
    try:
        import submitit
    except ImportError as exc:
        raise BenchbenchError(
            "--executor slurm needs submitit: pip install 'benchbench[slurm]'"
        ) from exc
    return submitit


def run_minutes(spec: RunSpec, timeout: float | None) -> int:
    """Slurm's time limit for a run's job, in minutes: its time limit (``timeout``; a time
    budget bounds it too: twice the budget plus five minutes for evaluation) plus the
    job's start and submitit's warning."""
    limit = timeout if timeout is not None else 3600.0
    if spec.budget.seconds is not None:
        limit = min(limit, 2 * spec.budget.seconds + 300)
    return math.ceil((limit + STARTUP_SECONDS + SIGNAL_SECONDS) / 60)


def submit_array(
    folder: Path,
    options: SlurmOptions,
    jobs: list[Job],
    setup: WorkerSetup,
    *,
    minutes: int,
    cpus: int,
    gpus: int,
    parallel: int | None,
    timeout: float | None,
) -> list[str]:
    """One ``sbatch`` for ``jobs`` (an array, or a single job) of ``minutes`` each, at most
    ``parallel`` running at once; the Slurm id of each job, in order. A refusal (a wrong
    partition, account, option) is one line."""
    submitit = submitit_module()
    executor = submitit.SlurmExecutor(folder=folder / "%j", max_num_timeout=0)
    extra = sbatch_options(options.sbatch)
    if options.mem:
        extra["mem"] = options.mem
    parameters: dict[str, Any] = {
        "job_name": "benchbench",
        "time": minutes,
        "cpus_per_task": cpus,
        "signal_delay_s": SIGNAL_SECONDS,
        "array_parallelism": parallel or len(jobs),
        "setup": [
            f"export {name}={shlex.quote(value)}" for name, value in setup.environment.items()
        ],
        "additional_parameters": extra,
    }
    for name in ("partition", "account", "qos"):
        if getattr(options, name):
            parameters[name] = getattr(options, name)
    if gpus:
        parameters["gpus_per_node"] = gpus
    try:
        executor.update_parameters(**parameters)
        with executor.batch():
            handles = [executor.submit(slurm_task, job, setup, timeout, minutes) for job in jobs]
    except Exception as exc:  # sbatch refused: a wrong partition, account, option...
        raise BenchbenchError(f"Slurm refused the jobs: {one_line(exc, 400)}") from exc
    return [str(handle.job_id) for handle in handles]
