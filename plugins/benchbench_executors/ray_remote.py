"""What of a Ray run happens on the cluster: the task every run is (:func:`ray_task`), the
small actor on the head node that hears when each task starts (:class:`StartTimes`), and
what they hand back to the driver (:mod:`.ray` is the driver's side)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from benchbench.executors.base import Job
from benchbench.executors.worker import Ran, WorkerSetup, run_placed
from benchbench.spec import RunResult


@dataclass(frozen=True)
class Started:
    """A run that started: on which node, when (the actor's monotonic clock), in which
    attempt, and when on its node's clock (``time.time()``)."""

    node: str
    since: float
    attempt: int
    at: float

    def seconds(self, now: float) -> float:
        """How long it has run, at ``now`` on the actor's monotonic clock."""
        return now - self.since


class StartTimes:
    """A small actor on the head node: each task says when it starts and on which node, so
    time limits count from the start (not from a wait in Ray's queue), results can say which
    runs shared a node, and a retried run says it was."""

    def __init__(self) -> None:
        self._started: dict[str, Started] = {}

    def started(self, key: str, node: str, at: float) -> None:
        before = self._started.get(key)
        attempt = before.attempt + 1 if before else 1
        self._started[key] = Started(node, time.monotonic(), attempt, at)

    def forget(self, keys: list[str]) -> None:
        for key in keys:
            self._started.pop(key, None)

    def running(self) -> tuple[float, dict[str, Started]]:
        """Started tasks not yet forgotten, and the actor's clock now."""
        return time.monotonic(), dict(self._started)


def ray_task(job: Job, setup: WorkerSetup, key: str, starts: Any) -> Ran:
    """One run in a Ray worker (the function Ray ships to the nodes), with the CPUs Ray
    gave it; its start is told to ``starts`` first."""
    import ray

    context = ray.get_runtime_context()
    node = context.get_node_id()
    start = time.time()
    try:  # waited for: a run lost with its node right after it started still counts
        ray.get(starts.started.remote(key, node, start), timeout=60)
    except Exception:  # the head node is gone, and the cluster with it
        pass
    cpus = max(1, int(context.get_assigned_resources().get("CPU", 1)))
    value = run_placed(job, setup, cpus).value  # what its on_eval raised comes as Raised
    if isinstance(value, RunResult):
        value.machine["node"] = node
    return Ran(value, start, time.time())
