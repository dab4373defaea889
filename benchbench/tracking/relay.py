"""Getting runs to the trackers: from the workers to the driver, and from the driver to
each tracker on a thread of its own.

Workers never talk to a tracker (no credentials on Ray nodes, one connection per
tracker): their ``on_eval`` callback is wrapped in :class:`Forward`, which puts each eval
point on the executor's channel (a queue the driver reads: a thread queue in process, a
multiprocessing manager's queue for a local pool, a Ray queue on a cluster). The driver
puts its own events (a run handed out, a result stored, the suite's files) on the same
channel, and :class:`Relay`'s thread calls the trackers in that order. A tracker that
raises is a warning and is called no more; one that is slow delays only that thread, and
closing waits for it at most :data:`CLOSE_SECONDS`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import queue
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError, BenchbenchWarning, one_line, unknown_name
from ..phrasing import option
from ..spec import RunResult
from .base import Session, TrackedRun, Tracker, parse_log

CLOSE_SECONDS = 60.0
"""How long the end of a command waits for the trackers to take what is queued."""


@dataclass
class Forward:
    """A worker's ``on_eval``: the point onto the driver's channel (a channel that is gone
    costs the tracker the point, never the run), then the caller's own callback."""

    channel: Any
    run_id: str
    inner: Callable[[dict[str, Any]], None] | None = None

    def __call__(self, point: dict[str, Any]) -> None:
        try:
            self.channel.put(("point", self.run_id, dict(point)))
        except Exception:  # noqa: BLE001 - the driver went away; training goes on
            pass
        if self.inner is not None:
            self.inner(point)


class Relay:
    """The trackers of one command. Eval points come from the workers over ``channel``,
    and the driver's own events (a run handed out, a result stored, the suite's files)
    join them there, so a run's end comes behind its points; a pump thread moves them to a
    local queue. After :meth:`detach` the driver's events go to the local queue directly,
    so they reach the trackers even after the channel's process ended. One delivery thread
    calls the trackers in that order."""

    def __init__(self, trackers: Sequence[Tracker], channel: Any) -> None:
        self.trackers = list(trackers)
        self.channel = channel
        self._local: queue.Queue[tuple[Any, ...]] = queue.Queue()
        self._runs: dict[str, TrackedRun] = {}
        self._dead: set[int] = set()
        self._closing = threading.Event()
        self._detached = False
        self._pump = threading.Thread(target=self._pump_points, daemon=True)
        self._thread = threading.Thread(target=self._deliver, daemon=True)
        self._pump.start()
        self._thread.start()

    # -- the driver's side -------------------------------------------------------------------

    def started(self, run: TrackedRun) -> None:
        """``run`` was handed to a worker."""
        self._send(("started", run))

    def forward(
        self, run_id: str, inner: Callable[[dict[str, Any]], None] | None = None
    ) -> Forward:
        """The ``on_eval`` a job of ``run_id`` carries to its worker."""
        return Forward(self.channel, run_id, inner)

    def finished(self, result: RunResult, key: str | None = None) -> None:
        """``result`` was stored; ``key``: the tracked run's, when not the result's run id
        (a tuning trial's). Sent through the channel behind the points its worker put there
        before the result came back, so none of them arrives after its end."""
        self._send(("finished", key or result.run_id, result))

    def files(self, paths: Sequence[Path]) -> None:
        """The session's files (a suite's leaderboard files)."""
        self._send(("files", [Path(p) for p in paths]))

    def detach(self) -> None:
        """Stop reading the channel, taking what it holds now: before the executor ends the
        channel's process or cluster (a thread still reading a Ray queue then crashes the
        process). The trackers still get everything the driver sends."""
        if self._detached:
            return
        self._closing.set()
        self._pump.join(5.0)
        if not self._pump.is_alive():  # the one reader now: nothing overtakes
            self._drain()
            discard = getattr(self.channel, "discard", None)  # files of a channel (Slurm's)
            if discard is not None:
                discard()
        self._detached = True

    def close(self, seconds: float = CLOSE_SECONDS) -> None:
        """Let the trackers take what is queued (at most ``seconds``), then close them."""
        self.detach()
        self._local.put(("close",))
        self._thread.join(seconds)
        if self._thread.is_alive():
            warnings.warn(
                f"the trackers did not take what was sent within {seconds:.0f} s; the "
                "rest is not logged (every result is stored)",
                BenchbenchWarning,
                stacklevel=2,
            )

    def _send(self, item: tuple[Any, ...]) -> None:
        """``item`` through the channel while it is read (one order for everything), else
        straight to the local queue."""
        if not self._detached:
            try:
                self.channel.put(item)
                return
            except Exception:  # noqa: BLE001 - the channel is gone: straight to the trackers
                pass
        self._local.put(item)

    def _drain(self) -> None:
        """Move what the channel still holds to the local queue (the pump has stopped)."""
        while True:
            try:
                self._local.put(self.channel.get_nowait())
            except Exception:  # noqa: BLE001 - empty, or the channel is gone
                return

    # -- the threads -------------------------------------------------------------------------

    def _pump_points(self) -> None:
        while not self._closing.is_set():
            try:
                self._local.put(self.channel.get(timeout=0.5))
            except queue.Empty:
                continue
            except Exception:  # noqa: BLE001 - the channel is gone (its process ended)
                return

    def _deliver(self) -> None:
        while True:
            item = self._local.get()
            kind = item[0]
            if kind == "close":
                self._each("close")
                return
            if kind == "started":
                run = item[1]
                self._runs[run.run_id] = run
                self._each("run_started", run)
            elif kind == "point" and item[1] in self._runs:
                self._each("eval_point", self._runs[item[1]], item[2])
            elif kind == "finished" and item[1] in self._runs:
                self._each("run_finished", self._runs.pop(item[1]), item[2])
            elif kind == "files":
                self._each("files", item[1])

    def _each(self, method: str, *args: Any) -> None:
        for tracker in self.trackers:
            if id(tracker) in self._dead:
                continue
            try:
                getattr(tracker, method)(*args)
            except Exception as exc:  # noqa: BLE001 - a tracker never costs a run
                self._dead.add(id(tracker))
                warnings.warn(
                    f"tracker {tracker.name}: {method} raised {type(exc).__name__}: "
                    f"{one_line(exc, 300)}; it logs nothing more this time (every result is "
                    "stored as usual)",
                    BenchbenchWarning,
                    stacklevel=2,
                )


def build_trackers(
    logs: Sequence[str], trackers: dict[str, type[Tracker]], session: Session
) -> list[Tracker]:
    """The trackers ``logs`` names (``NAME[:TARGET]`` each), checked before anything runs:
    an unknown name (with a suggestion) or a missing package (naming the extra) is one
    line."""
    built = []
    for text in logs:
        name, target = parse_log(text)
        if name not in trackers:
            raise unknown_name("tracker", name, trackers)
        cls = trackers[name]
        if cls.module and importlib.util.find_spec(cls.module) is None:
            extra = cls.extra or name
            raise BenchbenchError(
                f"{option('log')} {name} needs the {cls.module} package: "
                f"pip install 'benchbench[{extra}]'"
            )
        built.append(cls(target, session))
    return built


def open_relay(
    logs: Sequence[str],
    trackers: dict[str, type[Tracker]],
    session: Session,
    channel: Callable[[], Any] | None = None,
) -> Relay | None:
    """A relay to the trackers ``logs`` names, over the queue ``channel()`` makes (a thread
    queue by default); None when ``logs`` is empty."""
    if not logs:
        return None
    built = build_trackers(logs, trackers, session)
    return Relay(built, channel() if channel else queue.Queue())


@contextlib.contextmanager
def reading(relay: Relay | None) -> Iterator[None]:
    """Detaches ``relay`` on leaving: in a ``with`` statement, name it after the executor,
    so the relay stops reading the channel before the executor ends it."""
    try:
        yield
    finally:
        if relay is not None:
            relay.detach()
