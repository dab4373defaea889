"""The executor interface: jobs in, results out, and a way to stop everything now; and what
an executor records about where a run was placed and what it shared."""

from __future__ import annotations

import abc
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from ...spec import RunResult, RunSpec


@dataclass(frozen=True)
class Job:
    """One run to place: its spec, an ``on_eval`` callback called at every eval point where
    the run trains (picklable for a process pool: tuning reports to Optuna from there, and
    may raise to prune), and whether the test split is scored."""

    spec: RunSpec
    on_eval: Callable[[dict[str, Any]], None] | None = None
    score_test: bool = True


Finished = tuple[Job, "RunResult | BaseException"]
"""A job and its result, or the exception its ``on_eval`` raised (e.g. a pruned trial)."""


LOST = "cluster"
"""The ``error_component`` of a run lost with its node (twice): the cluster's failure, not
the method's, so a rerun of the suite runs it again."""


@dataclass
class Neighbours:
    """Which runs shared a node, from the executor's side: a run's time metrics are only
    comparable when it had its hardware alone, so every result records how many other runs
    of this executor overlapped it in time on the same node (the same GPU, for a local pool
    on a GPU), and such a result is flagged ``busy`` like one timed beside another
    process. A run's interval is the ``window`` its executor measured where it ran (a
    node's clock: only runs of one node are compared), else on this process's monotonic
    clock: its end when its result arrived, its start that minus its wall time."""

    _done: list[tuple[str, float, float]] = field(default_factory=list)

    def placed(
        self,
        result: RunResult,
        node: str,
        running_on: Iterable[tuple[str, float]],
        given: dict[str, object],
        window: tuple[float, float] | None = None,
    ) -> None:
        """Record in ``result.machine`` where it ran (``node``, ``given``: the executor and
        the CPUs/GPUs it asked for) and ``runs_alongside``: the runs still running on
        ``node`` that started before it ended (``running_on``: their nodes and starts) and
        those already finished that overlapped it there."""
        if window is None:
            end = time.monotonic()
            window = (end - float(result.provenance.get("wall_seconds") or 0.0), end)
        start, end = window
        alongside = sum(n == node and s < end for n, s in running_on) + sum(
            n == node and s < end and e > start for n, s, e in self._done
        )
        self._done.append((node, start, end))
        if len(self._done) > 10_000:
            del self._done[:5_000]
        machine = result.machine
        machine.update(given, node=node, runs_alongside=alongside)
        if alongside:
            machine["busy"] = True


class Executor(abc.ABC):
    """Runs jobs, ``slots`` at a time. A problem inside a run is its result (``failed``,
    ``timed-out``), never an exception here; only the executor's own breakdown raises."""

    slots: int = 1

    @abc.abstractmethod
    def submit(self, job: Job) -> None:
        """Start ``job`` (or queue it until a slot is free)."""

    @abc.abstractmethod
    def wait(self, timeout: float) -> list[Finished]:
        """The jobs that finished, waiting up to ``timeout`` seconds for at least one."""

    @property
    @abc.abstractmethod
    def busy(self) -> int:
        """Jobs submitted and not yet returned by :meth:`wait`."""

    @abc.abstractmethod
    def stop(self) -> None:
        """End every running job now and drop the queued ones (their results are lost)."""

    def channel(self) -> Any:
        """A queue that the places where jobs run can put on and this process read
        (:mod:`benchbench.tracking` sends eval points back through it): a thread queue
        here, for jobs run in this process. A channel with a ``discard()`` method is told
        when it is no longer read (files to remove)."""
        import queue

        return queue.Queue()

    def run(self, specs: Iterable[RunSpec]) -> Iterator[RunResult]:
        """Every spec's result, as they finish (no callbacks, no claims: for scripts)."""
        for spec in specs:
            self.submit(Job(spec))
        while self.busy:
            for _, result in self.wait(1.0):
                if isinstance(result, BaseException):
                    raise result
                yield result

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
