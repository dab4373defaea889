"""The worker side of every executor that places runs in other processes (a local pool, a
Ray cluster, Slurm jobs, a plugin's own): what a worker needs to run jobs exactly as this
process would (:class:`WorkerSetup`), entering a worker (plugins loaded once, threads pinned
to the CPUs it was given), one job run there, and what a job run elsewhere hands back
(:class:`Ran`, :class:`Raised`).

A plugin's executor that starts its own workers only needs :func:`run_placed`: ship it, the
job and the :class:`WorkerSetup` to wherever jobs run, call it there, and bring back the
:class:`Ran` it returns.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..execution.execute import execute
from ..host import numerics
from ..planning import declared
from ..plugins.manager import PluginConfig, PluginManager, get_plugin_manager
from ..spec import RunResult
from .base import Job, Placement


@functools.lru_cache(maxsize=1)
def worker_manager(config: PluginConfig) -> PluginManager:
    """This process's plugin manager for ``config``, built once."""
    return get_plugin_manager(config)


def prepare_worker(threads: int, config: PluginConfig) -> None:
    """Before a worker's first job: warnings as one line each, torch and OpenMP/BLAS set to
    ``threads`` threads (the CPUs this process was given: more busy threads than cores made
    runs here 10x slower), and the plugins loaded (so a job's time limit is not spent
    importing). A plugin that fails to load is reported on the first job, as its failure."""
    from ..errors import show_warnings_as_lines
    from ..host.cpus import pin_threads

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
        return RunResult.failed(job.spec, exc)
    return execute(job.spec, pm, data_dir, job.on_eval, job.score_test)


@dataclass
class Raised:
    """What a job's ``on_eval`` raised in the worker (a pruned trial), carried back as a
    value so a cluster's own exception wrapping (Ray's) does not change its type."""

    exception: BaseException


@dataclass
class Ran:
    """A job's value and when it ran, on its node's clock (``time.time()``): overlaps are
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


def worker_environment() -> dict[str, str]:
    """The variables a worker on another machine needs before torch loads: the numerics
    mode (:mod:`benchbench.host.numerics`) and the tasks a suite file declares
    (:mod:`benchbench.planning.declared`)."""
    return {**numerics.environment(), **declared.environment()}


@dataclass(frozen=True)
class WorkerSetup:
    """What a worker anywhere needs to run jobs exactly as this process would: the plugins
    to load (``config``), the data folder (as the worker sees it: a shared path, or None for
    each worker's default), the folders ``-p`` modules were found in here (``paths``, made
    importable there: a shared file system), and the variables to set before torch loads
    (``environment``). Picklable: it travels with the jobs."""

    config: PluginConfig
    data_dir: Path | None = None
    paths: tuple[str, ...] = ()
    environment: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, placement: Placement, data_dir: Path | None = None) -> WorkerSetup:
        """The setup for the workers of ``placement``, with ``data_dir`` instead of its own
        when given."""
        folder = data_dir if data_dir is not None else placement.data_dir
        return cls(
            placement.config,
            Path(folder).resolve() if folder is not None else None,
            module_roots(placement.config.modules),
            worker_environment(),
        )

    def enter(self, threads: int) -> None:
        """Make this process a worker: the ``-p`` folders importable, the environment set
        (where torch is not loaded yet, as in a fresh worker), the plugins loaded and
        ``threads`` threads pinned."""
        for path in self.paths:
            if path not in sys.path:
                sys.path.append(path)
        if "torch" not in sys.modules:
            os.environ.update(self.environment)
            mode = self.environment.get(numerics.ENV)
            if mode:
                numerics.select(mode)  # native: the portable settings a parent left, gone
        prepare_worker(threads, self.config)


def run_placed(job: Job, setup: WorkerSetup, threads: int = 1) -> Ran:
    """One job in a worker wherever it runs, with ``threads`` threads: what it ran to (its
    result, or what its ``on_eval`` raised, carried as :class:`Raised`) and when."""
    setup.enter(threads)
    start = time.time()
    try:
        value: RunResult | Raised = run_job(job, setup.config, setup.data_dir)
    except BaseException as exc:  # the job's on_eval (a pruned trial): carried back as it is
        value = Raised(exc)
    return Ran(value, start, time.time())
