"""An in-process stand-in for a cluster, for the tests of a plugin's executor: what the
``benchbench_cluster`` fixture hands over, in place of the client an executor's ``connect()``
returns (a Dask client, submitit's executor, a scheduler's API).

Its client interface is the one most clusters' Python clients share: ``submit(fn, *args)``
returns a handle with ``done()``, ``result()`` and ``cancel()``. Jobs run in this process,
in the order they were submitted, each when its handle is first asked whether it is done,
so a test decides what happens and nothing runs behind its back. :meth:`FakeCluster.lose`
makes the next jobs to start be lost, as with a node that died: their ``result()`` raises
:class:`~benchbench.executors.JobLost`. The cluster counts what was submitted, ran, was lost
and was cancelled, and what is still out (:attr:`FakeCluster.running`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..executors.base import JobLost

_RESULT, _ERROR = "result", "error"


class FakeHandle:
    """One job on the fake cluster: ``done()`` runs it (once), ``result()`` is what it
    returned (or raises what it raised, or :class:`~benchbench.executors.JobLost`),
    ``cancel()`` ends it if it has not ended."""

    def __init__(self, cluster: FakeCluster, fn: Callable[..., Any], args: tuple) -> None:
        self.cluster, self.fn, self.args = cluster, fn, args
        self.state = "queued"  # queued, then: done, lost or cancelled
        self.outcome: tuple[str, Any] | None = None

    def done(self) -> bool:
        if self.state == "queued":
            self.cluster._start(self)
        return self.state != "queued"

    def result(self) -> Any:
        if not self.done() or self.outcome is None:
            raise RuntimeError("this job was cancelled: it has no result")
        kind, value = self.outcome
        if kind == _ERROR:
            raise value
        return value

    def cancel(self) -> bool:
        """End the job (True), unless it has already ended (False)."""
        if self.state != "queued":
            return False
        self.state = "cancelled"
        self.cluster.cancelled += 1
        return True


class FakeCluster:
    """A cluster in this process: see the module's description. ``submitted``, ``ran``,
    ``lost`` and ``cancelled`` count jobs; :attr:`running` is how many are still out."""

    def __init__(self) -> None:
        self.handles: list[FakeHandle] = []
        self.submitted = self.ran = self.lost = self.cancelled = 0
        self._to_lose = 0

    def submit(self, fn: Callable[..., Any], *args: Any) -> FakeHandle:
        """Queue ``fn(*args)`` as a job."""
        handle = FakeHandle(self, fn, args)
        self.handles.append(handle)
        self.submitted += 1
        return handle

    def lose(self, jobs: int = 1) -> None:
        """The next ``jobs`` jobs to start are lost, as if their node died."""
        self._to_lose += jobs

    @property
    def running(self) -> int:
        """Jobs submitted that have neither ended nor been cancelled."""
        return sum(handle.state == "queued" for handle in self.handles)

    def _start(self, handle: FakeHandle) -> None:
        if self._to_lose:
            self._to_lose -= 1
            self.lost += 1
            handle.state = "lost"
            handle.outcome = (_ERROR, JobLost("the fake cluster lost the job's node"))
            return
        try:
            handle.outcome = (_RESULT, handle.fn(*handle.args))
        except Exception as exc:  # what the job raised, raised again by result()
            handle.outcome = (_ERROR, exc)
        self.ran += 1
        handle.state = "done"
