"""Placing runs on this machine: in this process (:class:`InProcessExecutor`, for tests and
checks), or in a pool of worker processes (:class:`ProcessPoolExecutor`); :class:`LocalExecutor`
is the pool as the ``local`` executor users choose, built into the core (it is registered by
:mod:`benchbench.executors.builtin`, through the same hook as a plugin's)."""

from __future__ import annotations

import math
import platform
from concurrent.futures import FIRST_COMPLETED, CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError
from ..execution.execute import execute
from ..host import spawn
from ..host.cpus import thread_share
from ..phrasing import option
from ..plugins.manager import PluginConfig, PluginManager
from ..spec import RunResult
from .base import Executor, Finished, Job, Placement
from .neighbours import Neighbours
from .worker import prepare_worker, run_job


class InProcessExecutor(Executor):
    """Runs each job in this process as it is submitted: simplest, for tests and debugging.
    Nothing isolates a run that hangs or kills its process."""

    def __init__(self, pm: PluginManager, data_dir: Path | None = None) -> None:
        self.pm, self.data_dir = pm, data_dir
        self._done: list[Finished] = []

    def submit(self, job: Job) -> None:
        try:
            result: RunResult | BaseException = execute(
                job.spec, self.pm, self.data_dir, job.on_eval, job.score_test
            )
        except Exception as exc:  # raised by the job's on_eval (a pruned trial)
            result = exc
        self._done.append((job, result))

    def wait(self, timeout: float) -> list[Finished]:
        done, self._done = self._done, []
        return done

    def stop(self) -> None:
        self._done.clear()

    @property
    def busy(self) -> int:
        return len(self._done)


def _pool_worker_init(threads: int, config: PluginConfig, gpu: str | None = None) -> None:
    """A pool worker: its own GPU when it has one (``CUDA_VISIBLE_DEVICES``, set before
    torch loads, so ``cuda`` is that GPU), :func:`~.worker.prepare_worker`, and death with
    its parent."""
    import os

    from ..host.interrupts import die_with_parent

    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = gpu
    die_with_parent()
    prepare_worker(threads, config)


def visible_gpus() -> list[str]:
    """The ids of the GPUs this process may use (what ``CUDA_VISIBLE_DEVICES`` lists, else
    every GPU torch counts), as a worker's ``CUDA_VISIBLE_DEVICES`` names them."""
    import os

    import torch

    count = torch.cuda.device_count()
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [g.strip() for g in listed.split(",") if g.strip()][:count]
    return [str(i) for i in range(count)]


class ProcessPoolExecutor(Executor):
    """Runs jobs in ``workers`` spawned, reused worker processes. A run that crashes its
    worker is recorded ``failed``, one that runs past ``timeout`` seconds ``timed-out``
    (its worker is replaced); :meth:`stop` ends the workers at once. Workers end when this
    process ends, however it ends.

    Workers split the cores this process owns between them (torch and OpenMP threads), or
    use ``threads`` each; ``workers=1`` (the default) gives each run every core and timings
    that are comparable across runs. With ``gpus`` (a GPU id per worker), each GPU has a
    pool of its own whose workers see only that GPU, and a job goes to a GPU with a free
    worker: never more runs on one GPU than ``gpus`` names it (once, unless
    ``gpu_share`` < 1 shares it; such runs are flagged busy).
    """

    def __init__(
        self,
        config: PluginConfig,
        data_dir: Path | None = None,
        workers: int = 1,
        timeout: float | None = None,
        threads: int | None = None,
        gpus: list[str] | None = None,
        gpu_share: float = 1.0,
    ) -> None:
        self.config, self.data_dir = config, data_dir
        self.slots = len(gpus) if gpus else max(1, workers)
        self.gpus = gpus
        self.gpu_share = gpu_share
        self.timeout = timeout
        self.threads = thread_share(self.slots, threads)
        self._pool: Any = None
        self._pools: dict[str, Any] = {}
        self._futures: dict[Any, Job] = {}
        self._gpu_of: dict[Any, str] = {}
        self._waiting: list[Job] = []  # GPU jobs submitted while every GPU was running one
        self._neighbours = Neighbours()
        self._manager: Any = None

    def _new_pool(self, workers: int, gpu: str | None) -> Any:
        from pebble import ProcessPool

        return ProcessPool(
            max_workers=workers,
            context=spawn.context(),  # workers that never import the caller's __main__
            initializer=_pool_worker_init,
            initargs=(self.threads, self.config, gpu),
        )

    def _start(self) -> tuple[Any, str | None] | None:
        """The pool the next job goes to: the one pool, or the pool of a free GPU (None
        while every GPU runs a job)."""
        if not self.gpus:
            if self._pool is None:
                self._pool = self._new_pool(self.slots, None)
            return self._pool, None
        taken = list(self._gpu_of.values())
        gpu = next((g for g in self.gpus if taken.count(g) < self.gpus.count(g)), None)
        if gpu is None:
            return None
        if gpu not in self._pools:
            self._pools[gpu] = self._new_pool(self.gpus.count(gpu), gpu)
        return self._pools[gpu], gpu

    def submit(self, job: Job) -> None:
        chosen = self._start()
        if chosen is None:
            self._waiting.append(job)
            return
        pool, gpu = chosen
        future = pool.schedule(
            run_job, args=(job, self.config, self.data_dir), timeout=self.timeout
        )
        self._futures[future] = job
        if gpu is not None:
            self._gpu_of[future] = gpu

    @property
    def busy(self) -> int:
        return len(self._futures) + len(self._waiting)

    def wait(self, timeout: float) -> list[Finished]:
        if not self._futures:
            return []
        done, _ = wait_for(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        finished = []
        for future in done:
            job = self._futures.pop(future)
            gpu = self._gpu_of.pop(future, None)
            try:
                result = self._collect(future, job)
            except CancelledError:
                continue
            if isinstance(result, RunResult) and result.provenance:
                self._placed(result, gpu)
            finished.append((job, result))
        while self._waiting and self._start() is not None:  # GPUs freed: the next jobs
            self.submit(self._waiting.pop(0))
        return finished

    def _placed(self, result: RunResult, gpu: str | None) -> None:
        """Record what the run was given and what it shared: every worker runs on this
        machine; runs on GPUs of their own share none, runs without share the CPUs."""
        here = platform.node()
        node = here if gpu is None else f"{here}/gpu{gpu}"
        running = [
            here if g is None else f"{here}/gpu{g}" for g in map(self._gpu_of.get, self._futures)
        ]
        given: dict[str, object] = {
            "executor": "local",
            "cpus_given": self.threads,
            "gpus_given": self.gpu_share if result.device.startswith("cuda") else 0,
        }
        if gpu is not None:
            given["gpu"] = gpu
        # still running, so started before it ended
        self._neighbours.placed(result, node, [(n, -math.inf) for n in running], given)

    def channel(self) -> Any:
        """A multiprocessing manager's queue: its proxy travels to the spawned workers.
        The manager's process ends with this executor."""
        if self._manager is None:
            self._manager = spawn.context().Manager()
        return self._manager.Queue()

    def _collect(self, future: Any, job: Job) -> RunResult | BaseException:
        from pebble import ProcessExpired

        try:
            return future.result()
        except FutureTimeout:
            return RunResult.for_spec(
                job.spec, "timed-out", error=f"TimeoutError: run exceeded {self.timeout:.0f} s"
            )
        except BrokenProcessPool as exc:
            raise BenchbenchError(f"the worker processes could not start ({exc})") from exc
        except ProcessExpired as exc:
            return RunResult.for_spec(
                job.spec,
                "failed",
                error=f"ProcessExpired: worker died (exit code {exc.exitcode})",
            )
        except CancelledError:
            raise
        except Exception as exc:  # raised by the job's on_eval in the worker
            return exc

    def stop(self) -> None:
        for pool in [self._pool, *self._pools.values()]:
            if pool is not None:
                pool.stop()
        for pool in [self._pool, *self._pools.values()]:
            if pool is not None:
                try:
                    pool.join(timeout=10)
                except TimeoutError:
                    pass
        self._pool = None
        self._pools.clear()
        self._futures.clear()
        self._gpu_of.clear()
        self._waiting.clear()


class LocalExecutor(ProcessPoolExecutor):
    """The ``local`` executor: ``workers`` worker processes on this machine (default one,
    which keeps timings comparable), sharing its cores; for ``cuda`` runs a worker per GPU,
    each seeing only its own, or ``gpus_per_run`` of one when asked to share."""

    name = "local"
    summary = "worker processes on this machine (the default); a worker per GPU for --device cuda"

    def __init__(self, placement: Placement) -> None:
        self.placement = placement
        super().__init__(
            placement.config,
            placement.data_dir,
            placement.workers or 1,
            placement.timeout,
            placement.threads,
        )

    def use_device(self, device: str) -> str:
        """``cuda``: a worker per GPU this process may use (or ``workers`` of them, at most
        ``1 / gpus_per_run`` per GPU); one GPU (``cuda:N``) holds that many workers."""
        from ..host.devices import resolve_device

        device = resolve_device(device)
        share, runs = self.placement.gpus_per_run, self.placement.workers
        per_gpu = int(1 / share + 1e-9)  # runs one GPU holds at once
        if device == "cuda":  # a worker per GPU, each seeing only its own
            gpus = [g for g in visible_gpus() for _ in range(per_gpu)]  # a slot per run
            runs = runs or len(gpus)
            if runs > len(gpus):
                fits = 1 / math.ceil(runs / len(gpus) * per_gpu)
                raise BenchbenchError(
                    f"{option('workers', runs)} on {len(gpus) // per_gpu} GPU(s) would put "
                    f"more than {per_gpu} run(s) on one GPU and time them together; use "
                    f"{option('workers', len(gpus))} or fewer, or "
                    f"{option('gpus_per_run', float(f'{fits:.3g}'))}"
                )
            self.gpus = _spread(gpus, runs)
            self.slots = len(self.gpus)
            self.threads = thread_share(self.slots, self.placement.threads)
        elif device.startswith("cuda") and (runs or 1) > per_gpu:
            raise BenchbenchError(
                f"{option('device', device)} with {option('workers', runs)} would put {runs} "
                f"runs on one GPU; use {option('device', 'cuda')} for a worker per GPU, or "
                f"{option('gpus_per_run')} to share one"
            )
        self.gpu_share = share
        return device


def _spread(slots: list[str], runs: int) -> list[str]:
    """``runs`` of the GPU ``slots`` (a GPU id once per run it may hold), filling every
    GPU's first slot before any GPU's second: four runs on two GPUs at half a GPU each
    take both slots of each, two runs take one of each."""
    order = sorted(range(len(slots)), key=lambda i: (slots[:i].count(slots[i]), i))
    return [slots[i] for i in sorted(order[:runs])]
