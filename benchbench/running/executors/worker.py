"""The worker side of every executor that places runs in other processes (a local pool, a
Ray cluster, Slurm jobs): the plugins loaded once per process, threads pinned to the CPUs
the process was given, one job run there, and what a job on another machine hands back
(:class:`Ran`) and needs to import the ``-p`` modules (:func:`module_roots`)."""

from __future__ import annotations

import functools
import importlib.util
from dataclasses import dataclass
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


@dataclass
class Raised:
    """What a job's ``on_eval`` raised in the worker (a pruned trial), carried back as a
    value so a cluster's own exception wrapping (Ray's) does not change its type."""

    exception: BaseException


@dataclass
class Ran:
    """A task's value and when it ran, on its node's clock (``time.time()``): overlaps are
    only ever compared between runs of one node, and a result collected late (the driver
    busy with a dead node) must not seem to overlap the runs that followed it."""

    value: RunResult | Raised
    start: float
    end: float


def module_roots(modules: tuple[str, ...]) -> tuple[str, ...]:
    """The folders the ``-p`` modules are imported from here, so workers can import them."""
    roots = []
    for name in modules:
        if name.startswith("no:"):
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or not spec.origin or spec.origin in ("built-in", "frozen"):
            continue
        depth = name.count(".") + (1 if spec.submodule_search_locations else 0)
        root = str(Path(spec.origin).resolve().parents[depth])
        if root not in roots:
            roots.append(root)
    return tuple(roots)
