"""Where runs are placed. One interface, :class:`Executor` (submit jobs, wait for what
finished, stop); one module per way of placing them:

- :mod:`.local`: :class:`InProcessExecutor` (this process: tests, debugging) and
  :class:`ProcessPoolExecutor` (worker processes on this machine, the default), where a run
  that crashes its process or runs past its time limit costs that run only;
- :mod:`.ray`: :class:`~benchbench.running.executors.ray.RayExecutor`, every run a task on a Ray
  cluster (``benchbench[ray]``);
- :mod:`.slurm`: :class:`~benchbench.running.executors.slurm.SlurmExecutor`, every run a Slurm
  job through submitit, submitted as job arrays (``benchbench[slurm]``);

the last two imported only when asked for.

:mod:`.worker` is what runs in every worker process of any of them; :class:`Neighbours` records
in each result what its run was given and which other runs shared its node.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ...errors import BenchbenchError
from ...plugins.config import PluginConfig
from .base import LOST, Executor, Finished, Job, Neighbours
from .local import InProcessExecutor, ProcessPoolExecutor, visible_gpus
from .slurm_options import SlurmOptions

EXECUTORS = ("local", "ray", "slurm")

__all__ = [
    "LOST",
    "Executor",
    "Finished",
    "InProcessExecutor",
    "Job",
    "Neighbours",
    "ProcessPoolExecutor",
    "make_executor",
]


def make_executor(
    config: PluginConfig,
    data_dir: Path | None,
    kind: str,
    address: str | None,
    device: str,
    runs: int | None,
    timeout: float,
    threads: int | None,
    gpus_per_run: float = 1.0,
    out: Path | None = None,
    slurm: SlurmOptions | dict[str, Any] | None = None,
) -> tuple[Executor, str]:
    """The executor ``kind`` names (``local``, ``ray`` or ``slurm``), placing at most
    ``runs`` runs at once (default: one locally, one per GPU for ``cuda`` runs, as many as
    the cluster holds on Ray or Slurm), and the device the runs will use: ``auto`` and
    ``cuda`` are resolved where they train (this machine, or the cluster). Locally, ``cuda``
    runs get a GPU each, or ``gpus_per_run`` of one (``0.5``: two runs per GPU, each flagged
    as sharing it). On Slurm, jobs ask for what ``slurm`` says
    (:class:`~benchbench.SlurmOptions`) and keep their files under ``out/slurm``."""
    if kind not in EXECUTORS:
        raise BenchbenchError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    options = SlurmOptions.of(slurm)
    if options.given and kind != "slurm":
        raise BenchbenchError(
            "--partition, --account, --qos, --time, --cpus-per-run, --mem and --sbatch are "
            "Slurm's: add --executor slurm"
        )
    if not 0 < gpus_per_run <= 1:
        raise BenchbenchError(f"--gpus-per-run must be in (0, 1], got {gpus_per_run}")
    per_gpu = int(1 / gpus_per_run + 1e-9)  # runs one GPU holds at once
    if kind == "local":
        from ..resolve import resolve_device

        if address:
            raise BenchbenchError("--address names a Ray cluster: add --executor ray")
        device = resolve_device(device)
        gpus = None
        if device == "cuda":  # a worker per GPU, each seeing only its own
            gpus = [g for g in visible_gpus() for _ in range(per_gpu)]  # a slot per run
            runs = runs or len(gpus)
            if runs > len(gpus):
                share = 1 / math.ceil(runs / len(gpus) * per_gpu)
                raise BenchbenchError(
                    f"--workers {runs} on {len(gpus) // per_gpu} GPU(s) would put more than "
                    f"{per_gpu} run(s) on one GPU and time them together; use --workers "
                    f"{len(gpus)} or fewer, or --gpus-per-run {share:.3g}"
                )
            gpus = _spread(gpus, runs)
        elif device.startswith("cuda") and (runs or 1) > per_gpu:
            raise BenchbenchError(
                f"--device {device} --workers {runs} would put {runs} runs on one GPU; use "
                "--device cuda for a worker per GPU, or --gpus-per-run to share one"
            )
        pool = ProcessPoolExecutor(
            config, data_dir, runs or 1, timeout, threads, gpus, gpus_per_run
        )
        return pool, device
    if kind == "slurm":
        from .slurm import SlurmExecutor

        if address:
            raise BenchbenchError("--address names a Ray cluster: add --executor ray")
        folder = Path(out if out is not None else ".") / "slurm"
        slurm_executor = SlurmExecutor(
            config, data_dir, folder, timeout, options, threads, runs, gpus_per_run
        )
        return slurm_executor, slurm_executor.use_device(device)
    from .ray import RayExecutor

    ray = RayExecutor(
        config, data_dir, address, timeout, threads, slots=runs, gpus_per_run=gpus_per_run
    )
    return ray, ray.use_device(device)


def _spread(slots: list[str], runs: int) -> list[str]:
    """``runs`` of the GPU ``slots`` (a GPU id once per run it may hold), filling every
    GPU's first slot before any GPU's second: four runs on two GPUs at half a GPU each
    take both slots of each, two runs take one of each."""
    order = sorted(range(len(slots)), key=lambda i: (slots[:i].count(slots[i]), i))
    return [slots[i] for i in sorted(order[:runs])]
