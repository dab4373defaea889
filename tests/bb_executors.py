"""Executors that break the executor contract, one way each, for the conformance checks'
tests (``-p bb_executors``). Each runs its jobs in this process, on a thread."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time
from typing import Any

import benchbench
from benchbench import Executor, ExecutorOption, RunResult
from benchbench.executors.base import Job, Placement


class _Threads(Executor):
    """Runs jobs one at a time on a thread of this process, in the order submitted (runs
    seed torch's global RNG, so runs on several threads at once would not repeat);
    ``stop()`` forgets them (a thread cannot be ended from outside)."""

    slots = 4

    def __init__(self, placement: Placement) -> None:
        super().__init__(placement)
        self._done: list[tuple[Job, Any]] = []
        self._todo: queue.Queue[Job] = queue.Queue()
        self._out = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        from benchbench.executors.worker import run_job

        while True:
            job = self._todo.get()
            result = run_job(job, self.placement.config, None)
            with self._lock:
                self._done += self.back(job, result)

    def submit(self, job: Job) -> None:
        with self._lock:
            self._out += 1
        self._todo.put(job)

    def back(self, job: Job, result: RunResult) -> list[tuple[Job, Any]]:
        return [(job, result)]

    def wait(self, timeout: float) -> list[tuple[Job, Any]]:
        deadline = time.monotonic() + timeout
        while not self._done and self._out and time.monotonic() < deadline:
            time.sleep(0.02)
        with self._lock:
            done, self._done = self._done, []
            self._out -= len({id(job) for job, _ in done})
        return done

    @property
    def busy(self) -> int:
        return self._out

    def stop(self) -> None:
        with self._lock:
            self._out, self._done = 0, []


class Twice(_Threads):
    name = "twice"
    summary = "hands every job back twice, or --copies times (tests only)"
    options = (ExecutorOption("copies", int, "how often each job comes back", 2, minimum=1),)

    def __init__(self, placement: Placement, *, copies: int = 2) -> None:
        super().__init__(placement)
        self.copies = copies

    def back(self, job: Job, result: RunResult) -> list[tuple[Job, Any]]:
        return [(job, result)] * self.copies


class Doctored(_Threads):
    name = "doctored"
    summary = "hands back every result with its test accuracy raised (tests only)"

    def back(self, job: Job, result: RunResult) -> list[tuple[Job, Any]]:
        return [(job, dataclasses.replace(result, test_accuracy=1.0))]


class Leaky(_Threads):
    name = "leaky"
    summary = "runs jobs on threads that stop() cannot end (tests only)"


@benchbench.hookimpl
def benchbench_register_executors(registry: Any) -> None:
    for cls in (Twice, Doctored, Leaky):
        registry.add_executor(cls)
