"""The executor interface: jobs in, results out, and a way to stop everything now."""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from ..spec import RunResult, RunSpec


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
