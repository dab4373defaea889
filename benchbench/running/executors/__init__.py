"""Where runs are placed. One interface, :class:`Executor` (submit jobs, wait for what
finished, stop); one module per way of placing them:

- :mod:`.local`: :class:`InProcessExecutor` (this process: tests, debugging) and
  :class:`ProcessPoolExecutor` (worker processes on this machine, the default), where a run
  that crashes its process or runs past its time limit costs that run only;
- :mod:`.ray`: :class:`~benchbench.running.executors.ray.RayExecutor`, every run a task on a Ray
  cluster (``benchbench[ray]``),
  imported only when asked for.

:mod:`.worker` is what runs in every worker process of either; :class:`Neighbours` records
in each result what its run was given and which other runs shared its node.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import BenchbenchError
from ...plugins.config import PluginConfig
from .base import LOST, Executor, Finished, Job, Neighbours
from .local import InProcessExecutor, ProcessPoolExecutor, visible_gpus

EXECUTORS = ("local", "ray")

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
) -> tuple[Executor, str]:
    """The executor ``kind`` names (``local`` or ``ray``), placing at most ``runs`` runs at
    once (default: one locally, one per GPU for ``cuda`` runs, as many as the cluster holds
    on Ray), and the device the runs will use: ``auto`` and ``cuda`` are resolved where they
    train (this machine, or the cluster). Locally, ``cuda`` runs get a GPU each."""
    if kind not in EXECUTORS:
        raise BenchbenchError(f"executor must be one of {', '.join(EXECUTORS)}, got {kind!r}")
    if kind == "local":
        from ..resolve import resolve_device

        if address:
            raise BenchbenchError("--address names a Ray cluster: add --executor ray")
        device = resolve_device(device)
        gpus = None
        if device == "cuda":  # a worker per GPU, each seeing only its own
            gpus = visible_gpus()
            runs = runs or len(gpus)
            if runs > len(gpus):
                raise BenchbenchError(
                    f"--workers {runs} on {len(gpus)} GPU(s) would put two runs on one GPU "
                    f"and time neither alone; use --workers {len(gpus)} or fewer"
                )
            gpus = gpus[:runs]
        elif device.startswith("cuda") and (runs or 1) > 1:
            raise BenchbenchError(
                f"--device {device} --workers {runs} would put {runs} runs on one GPU; use "
                "--device cuda for a worker per GPU"
            )
        return ProcessPoolExecutor(config, data_dir, runs or 1, timeout, threads, gpus), device
    from .ray import RayExecutor

    ray = RayExecutor(config, data_dir, address, timeout, threads, slots=runs)
    return ray, ray.use_device(device)
