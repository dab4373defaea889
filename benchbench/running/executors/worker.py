"""The worker side of every executor that places runs in other processes (a local pool, a
Ray cluster): the plugins loaded once per process, threads pinned to the CPUs the process
was given, and one job run there."""

from __future__ import annotations

import functools
from pathlib import Path

from ...plugins.manager import PluginConfig, PluginManager, get_plugin_manager
from ...spec import RunResult
from ..execute import execute, failed
from .base import Job


@functools.lru_cache(maxsize=1)
def worker_manager(config: PluginConfig) -> PluginManager:
    """This process's plugin manager for ``config``, built once."""
    return get_plugin_manager(config)


def prepare_worker(threads: int, config: PluginConfig) -> None:
    """Before a worker's first job: warnings as one line each, torch and OpenMP/BLAS set to
    ``threads`` threads (the CPUs this process was given: more busy threads than cores made
    runs here 10x slower), and the plugins loaded (so a job's time limit is not spent
    importing). A plugin that fails to load is reported on the first job, as its failure."""
    from ...errors import show_warnings_as_lines
    from ..machine import pin_threads

    show_warnings_as_lines()
    pin_threads(threads)
    try:
        _ = worker_manager(config).registry
    except Exception:
        worker_manager.cache_clear()


def run_job(job: Job, config: PluginConfig, data_dir: Path | None) -> RunResult:
    """A job in a worker. Raises only what the job's ``on_eval`` raised (a pruned trial)."""
    try:
        pm = worker_manager(config)
    except Exception as exc:  # e.g. a -p module that no longer imports
        return failed(job.spec, exc)
    return execute(job.spec, pm, data_dir, job.on_eval, job.score_test)
