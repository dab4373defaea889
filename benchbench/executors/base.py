"""The executor plugin type: jobs in, results out, and a way to stop everything now.

An executor places runs somewhere (worker processes here, a Ray cluster, Slurm jobs, a
lab's own scheduler) and hands their results back to the process that stores them. A plugin
brings one by subclassing :class:`Executor` and registering the class in a
``benchbench_register_executors`` hook (``registry.add_executor(MyExecutor)``); users choose
it with ``--executor NAME`` (``executor="NAME"`` in Python) and set what it declares in
:attr:`~benchbench.Executor.options` with their flags (``executor_options={...}`` in Python).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from ..paths import DEFAULT_OUT
from ..plugins.config import PluginConfig
from ..spec import RunResult, RunSpec
from .options import ExecutorOption


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
"""The ``error_component`` of a run its executor lost (a node that died, a job cancelled
from outside), twice: the cluster's failure, not the method's, so a rerun of the suite runs
it again."""


class JobLost(Exception):
    """What a cluster's client raises from a job's ``result()`` when the cluster lost the
    job (its node died, it was cancelled from outside): the run's fault is not the
    method's, so an executor submits the job once more, and records a job lost twice as a
    ``failed`` result with ``error_component`` :data:`LOST`."""


@dataclass(frozen=True)
class Placement:
    """What every executor is told, whatever it places runs on: the plugins its workers load
    (``config``), the data folder (None: each worker's default), the command's output folder
    ``out`` (an executor keeps its own files in ``out/NAME``), how many runs may be in flight
    (``workers``; None: as many as it holds), each run's time limit in seconds (``timeout``,
    counted from the run's start where it runs), the threads each run trains with
    (``threads``; None: the executor decides) and the share of a GPU each CUDA run gets
    (``gpus_per_run``)."""

    config: PluginConfig = PluginConfig()
    data_dir: Path | None = None
    out: Path = Path(DEFAULT_OUT)
    workers: int | None = None
    timeout: float | None = None
    threads: int | None = None
    gpus_per_run: float = 1.0


class Executor(abc.ABC):
    """Places jobs, ``slots`` at a time, and hands back what finished. A problem inside a
    run is its result (``failed``, ``timed-out``), never an exception here; only the
    executor's own breakdown raises (a :class:`~benchbench.BenchbenchError` line for what a
    user can fix: an unreachable cluster, a missing extra).

    A plugin's executor sets :attr:`name`, :attr:`summary` and :attr:`options`, takes
    ``(placement, **options)`` in ``__init__`` (every declared option, by keyword), and
    implements :meth:`submit`, :meth:`wait`, :attr:`busy` and :meth:`stop`; the contract:
    every submitted job comes back from :meth:`wait` exactly once (its result, or a
    ``failed`` result with ``error_component`` :data:`~benchbench.executors.LOST` when the
    job was lost), and
    :meth:`stop` leaves nothing of its jobs running. :mod:`benchbench.executors.worker`
    runs a job wherever a worker runs; ``benchbench plugin new NAME --kind executor``
    writes a package to start from."""

    name: ClassVar[str] = ""
    """How users choose it: ``--executor NAME``."""
    summary: ClassVar[str] = ""
    """One line: where it places runs."""
    options: ClassVar[tuple[ExecutorOption, ...]] = ()
    """What users may set (``--NAME VALUE``, ``executor_options={"NAME": VALUE}``)."""
    extra: ClassVar[str] = ""
    """The extra that installs what it needs (``pip install 'benchbench[EXTRA]'``), if any."""

    slots: int = 1
    """Runs it keeps in flight at most (a suite hands it no more at once)."""

    def __init__(self, placement: Placement) -> None:
        """A subclass takes its declared options as keywords after ``placement``
        (``def __init__(self, placement, *, address=None)``) and calls this first."""
        self.placement = placement

    def use_device(self, device: str) -> str:
        """The device runs will train on, ``auto`` resolved where they train (here, by
        default); refuses at once a device the runs can never have. Called once, before
        the first :meth:`submit`."""
        from ..host.devices import resolve_device

        return resolve_device(device)

    @classmethod
    def check_storage(cls, url: str, options: Mapping[str, Any]) -> str | None:
        """Tuning: whether the places this executor runs trials (with ``options``) can
        report to the study in the database at ``url``. Raise a
        :class:`~benchbench.BenchbenchError` when they never can, return a warning line
        when they may not, None when they can (the default: they run on this machine)."""
        return None

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
