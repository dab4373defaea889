"""Which runs shared a node: a run's time metrics are only comparable when it had its hardware
alone, so every executor records in each result what the run was given and how many of its
other runs overlapped it there (:class:`Neighbours`)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..spec import RunResult


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
