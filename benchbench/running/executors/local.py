"""Placing runs on this machine: in this process, or in a pool of worker processes."""

from __future__ import annotations

import math
import platform
from concurrent.futures import FIRST_COMPLETED, CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as wait_for
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from ...errors import BenchbenchError
from ...plugins.manager import PluginConfig, PluginManager
from ...spec import RunResult
from ..execute import execute
from ..machine import thread_share
from .base import Executor, Finished, Job, Neighbours
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


def _pool_worker_init(threads: int, config: PluginConfig) -> None:
    """A pool worker: :func:`~.worker.prepare_worker`, and death with its parent."""
    from ..interrupts import die_with_parent

    die_with_parent()
    prepare_worker(threads, config)


class ProcessPoolExecutor(Executor):
    """Runs jobs in ``workers`` spawned, reused worker processes. A run that crashes its
    worker is recorded ``failed``, one that runs past ``timeout`` seconds ``timed-out``
    (its worker is replaced); :meth:`stop` ends the workers at once. Workers end when this
    process ends, however it ends.

    Workers split the cores this process owns between them (torch and OpenMP threads), or
    use ``threads`` each; ``workers=1`` (the default) gives each run every core and timings
    that are comparable across runs.
    """

    def __init__(
        self,
        config: PluginConfig,
        data_dir: Path | None = None,
        workers: int = 1,
        timeout: float | None = None,
        threads: int | None = None,
    ) -> None:
        self.config, self.data_dir = config, data_dir
        self.slots = max(1, workers)
        self.timeout = timeout
        self.threads = thread_share(self.slots, threads)
        self._pool: Any = None
        self._futures: dict[Any, Job] = {}
        self._neighbours = Neighbours()

    def _start(self) -> Any:
        if self._pool is None:
            import multiprocessing

            from pebble import ProcessPool

            self._pool = ProcessPool(
                max_workers=self.slots,
                context=multiprocessing.get_context("spawn"),
                initializer=_pool_worker_init,
                initargs=(self.threads, self.config),
            )
        return self._pool

    def submit(self, job: Job) -> None:
        future = self._start().schedule(
            run_job, args=(job, self.config, self.data_dir), timeout=self.timeout
        )
        self._futures[future] = job

    @property
    def busy(self) -> int:
        return len(self._futures)

    def wait(self, timeout: float) -> list[Finished]:
        if not self._futures:
            return []
        done, _ = wait_for(list(self._futures), timeout=timeout, return_when=FIRST_COMPLETED)
        finished = []
        for future in done:
            job = self._futures.pop(future)
            try:
                result = self._collect(future, job)
            except CancelledError:
                continue
            if isinstance(result, RunResult) and result.provenance:
                self._placed(result)
            finished.append((job, result))
        return finished

    def _placed(self, result: RunResult) -> None:
        """Record what the run was given and what it shared: every worker runs on this
        machine, and on a GPU every worker uses the same one."""
        here = platform.node()
        self._neighbours.placed(
            result,
            here,
            [(here, -math.inf)] * len(self._futures),  # still running, so started before
            {
                "executor": "local",
                "cpus_given": self.threads,
                "gpus_given": 1 if result.device.startswith("cuda") else 0,
            },
        )

    def _collect(self, future: Any, job: Job) -> RunResult | BaseException:
        from pebble import ProcessExpired

        try:
            return future.result()
        except FutureTimeout:
            return RunResult.for_spec(
                job.spec, "timed-out", error=f"TimeoutError: run exceeded {self.timeout:.0f} s"
            )
        except BrokenProcessPool as exc:
            raise BenchbenchError(
                f"the worker processes could not start ({exc}); in a script, call benchbench "
                "under 'if __name__ == \"__main__\":' (its workers import the script)"
            ) from exc
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
        if self._pool is not None:
            self._pool.stop()
            try:
                self._pool.join(timeout=10)
            except TimeoutError:
                pass
            self._pool = None
        self._futures.clear()
