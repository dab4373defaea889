"""Placing runs on a Ray cluster: every run a Ray task, results streamed back to this process.

Each run asks Ray for what its device needs: one GPU of its own for a CUDA run (Ray sets
``CUDA_VISIBLE_DEVICES``, so ``cuda`` is that GPU), ``threads`` CPUs otherwise (and beside a
GPU), and pins torch and OpenMP to the CPUs it was given. At most as many runs are in flight
as the cluster can run at once, so the runner's claims in the results database stay close to
what is really running and a second driver on the same database finds work left.

A task whose worker or node dies is retried once by Ray (``max_retries=1``); a run lost
twice to a dead node is recorded ``failed`` with the reason and component
:data:`~.base.LOST`, which a rerun of the suite runs again (it says nothing about the method).
A run past ``timeout`` seconds *since it started on its node* (time queued for resources does
not count) is cancelled, its worker process killed, and recorded ``timed-out``.

What workers need from this process travels with each task (a
:class:`~benchbench.executors.WorkerSetup`): the plugin configuration, the folders ``-p``
modules were found in, and ``data_dir`` as given (file-based tasks read it on the node, so it
must be the same path there: a shared folder). Generated and bundled data is prepared on each
node; nothing else assumes this process's file system. What runs on the nodes is
:mod:`.ray_remote`; this module is the driver's side.
"""

from __future__ import annotations

import itertools
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any

from benchbench.errors import BenchbenchError, one_line
from benchbench.executors.base import LOST, Executor, Finished, Job, Placement
from benchbench.executors.neighbours import Neighbours
from benchbench.executors.options import ExecutorOption
from benchbench.executors.worker import Raised, WorkerSetup
from benchbench.host.devices import resolve_device
from benchbench.spec import RunResult
from benchbench.storage.database import parse_url

from .ray_remote import Started, StartTimes, ray_task

_RESOURCES_SECONDS = 5.0
"""How long the cluster's size and its live nodes are trusted before asking again."""


@dataclass
class _Capacity:
    """What the cluster was found to hold: when asked (monotonic seconds), how many runs at
    once, and the ids of its live nodes."""

    asked: float = 0.0
    runs: int = 1
    alive: set[str] = field(default_factory=set)


def _ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise BenchbenchError("--executor ray needs Ray: pip install 'benchbench[ray]'") from exc
    return ray


class RayExecutor(Executor):
    """Runs jobs as tasks on the Ray cluster at ``address`` (``None``: the one ``RAY_ADDRESS``
    names, or one ``ray start`` started on this machine, else a Ray instance started here
    for this process), ``threads`` CPUs each (default 1) and one GPU each when the device
    is CUDA (``gpus_per_run`` of one, when shared). ``workers`` caps the runs in flight
    (default: as many as the cluster can run at once, looked at again as nodes come and
    go)."""

    name = "ray"
    summary = "every run a task on a Ray cluster"
    extra = "ray"
    options = (
        ExecutorOption(
            "address",
            help="the Ray cluster's head (default: $RAY_ADDRESS, else a Ray instance started "
            "on this machine)",
            metavar="HOST:PORT",
        ),
    )

    def __init__(self, placement: Placement, *, address: str | None = None) -> None:
        _check_reachable(address)  # first: a wrong address is wrong with or without Ray
        super().__init__(placement)
        self.address, self.timeout = address, placement.timeout
        self.setup = WorkerSetup.of(placement)
        self.threads = placement.threads or 1
        self.gpu_share = placement.gpus_per_run
        self.gpus = 0.0
        self._slots = placement.workers
        self._refs: dict[Any, tuple[Job, str]] = {}
        self._keys = itertools.count()
        self._initialised = False
        self._starts: Any = None
        self._task: Any = None
        self._capacity = _Capacity()
        self._neighbours = Neighbours()

    @classmethod
    def check_storage(cls, url: str, options: Any) -> str | None:
        """Trials on a remote cluster report to the study from its nodes: a SQLite file of
        this machine only serves a cluster on this machine."""
        remote = options.get("address") or os.environ.get("RAY_ADDRESS")
        if remote and parse_url(url).drivername.startswith("sqlite"):
            return (
                "trials on other machines report to the study in this machine's SQLite file "
                "and fail where they cannot reach it; use --storage postgresql://... for a "
                "cluster"
            )
        return None

    def _start(self) -> Any:
        ray = _ray()
        if self._starts is not None:
            return ray
        if not ray.is_initialized():
            try:
                ray.init(
                    address=self.address,
                    logging_level=logging.ERROR,
                    log_to_driver=False,
                    namespace="benchbench",
                )
            except Exception as exc:  # ConnectionError, auth errors, a bad address
                where = f"at {self.address}" if self.address else "here"
                raise BenchbenchError(
                    f"cannot start or reach the Ray cluster {where}: {one_line(exc, 300)}"
                ) from exc
            self._initialised = True
            _errors_off_stdout(ray)
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        self._starts = (
            ray.remote(StartTimes)
            .options(
                num_cpus=0,
                # hard: a soft affinity placed it on another node half the time here
                scheduling_strategy=NodeAffinitySchedulingStrategy(_head(ray), soft=False),
            )
            .remote()
        )
        return ray

    @property
    def slots(self) -> int:  # type: ignore[override]
        """Runs in flight at most: the cluster's CPUs (or GPUs) over what one run asks."""
        if self._slots is not None:
            return self._slots
        return self._cluster().runs

    def _cluster(self) -> _Capacity:
        """How many runs the cluster holds at once and its live nodes, at most
        :data:`_RESOURCES_SECONDS` old."""
        if time.monotonic() - self._capacity.asked < _RESOURCES_SECONDS:
            return self._capacity
        ray = self._start()
        resources = ray.cluster_resources()
        if self.gpus:
            fits = int(resources.get("GPU", 0) / self.gpus + 1e-9)
        else:
            fits = int(resources.get("CPU", 0) // self.threads)
        alive = {node["NodeID"] for node in ray.nodes() if node.get("Alive")}
        self._capacity = _Capacity(time.monotonic(), max(1, fits), alive)
        return self._capacity

    def use_device(self, device: str) -> str:
        """The device runs will use on the cluster, ``auto`` resolved there (``cuda`` where
        a node has a GPU); refuses at once what the cluster can never run: a GPU run on a
        cluster without GPUs, more CPUs per run than any node has."""
        if device != "auto":
            device = resolve_device(device, here=False)  # its form
        if device.startswith("cuda:") and device != "cuda:0":
            raise BenchbenchError(
                f"--device {device}: on Ray each run gets a GPU of its own; use --device cuda"
            )
        ray = self._start()
        nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
        has_gpu = any(r.get("GPU", 0) >= 1 for r in nodes)
        if device == "auto":
            device = "cuda" if has_gpu else "cpu"
        self.gpus = self.gpu_share if device.startswith("cuda") else 0
        if self.gpus and not has_gpu:
            raise BenchbenchError(f"--device {device}: no node of the Ray cluster has a GPU")
        if not any(r.get("CPU", 0) >= self.threads for r in nodes):
            most = max((r.get("CPU", 0) for r in nodes), default=0)
            raise BenchbenchError(
                f"each run asks for {self.threads} CPUs (--threads) but no node of the Ray "
                f"cluster has more than {most:g}"
            )
        self._capacity = _Capacity()  # sized again for this device
        return device

    def channel(self) -> Any:
        """A Ray queue (an actor without CPUs): nodes put on it, this driver reads it."""
        self._start()
        from ray.util.queue import Queue

        return Queue(actor_options={"num_cpus": 0})

    def _remote_task(self) -> Any:
        """The task every run is, asking for the CPUs and GPU share of the device chosen
        (made on the first submit: :meth:`use_device` decides the GPUs)."""
        if self._task is None:
            ray = self._start()
            self._task = ray.remote(ray_task).options(
                num_cpus=self.threads,
                num_gpus=self.gpus,
                max_retries=1,
                retry_exceptions=False,
                # workers of their own, which load torch with the numerics mode's settings
                runtime_env={"env_vars": dict(self.setup.environment)},
            )
        return self._task

    def submit(self, job: Job) -> None:
        task = self._remote_task()
        key = str(next(self._keys))
        ref = task.remote(job, self.setup, key, self._starts)
        self._refs[ref] = (job, key)

    @property
    def busy(self) -> int:
        return len(self._refs)

    def wait(self, timeout: float) -> list[Finished]:
        if not self._refs:
            return []
        ray = self._start()
        refs = list(self._refs)
        ready, _ = ray.wait(refs, num_returns=1, timeout=timeout)
        if ready:
            ready, _ = ray.wait(refs, num_returns=len(refs), timeout=0)
        now, running = self._running()
        finished: list[Finished] = []
        done = []
        for ref in ready:
            job, key = self._refs.pop(ref)
            started = running.pop(key, None)
            done.append(key)
            result, window = self._collect(ref, job)
            if isinstance(result, RunResult) and result.provenance:
                self._placed(result, running, started.attempt if started else 1, window)
            finished.append((job, result))
        over = self._time_limits(now, running)
        done += [key for key in running if key not in {k for _, k in self._refs.values()}]
        if done:
            self._starts.forget.remote(done)
        return finished + over

    def _running(self) -> tuple[float, dict[str, Started]]:
        """Started runs of ours (those in flight, or just finished) on live nodes, and the
        start-times actor's clock now."""
        ray = self._start()
        try:
            now, started = ray.get(self._starts.running.remote(), timeout=30)
        except Exception:  # the actor is gone with its node: no start times this time
            return 0.0, {}
        alive = self._cluster().alive
        return now, {k: s for k, s in started.items() if s.node in alive}

    def _placed(
        self,
        result: RunResult,
        running: dict[str, Started],
        attempt: int,
        window: tuple[float, float] | None,
    ) -> None:
        self._neighbours.placed(
            result,
            str(result.machine.get("node", "?")),
            [(started.node, started.at) for started in running.values()],
            {
                "executor": "ray",
                "cpus_given": self.threads,
                "gpus_given": self.gpus,
                "attempt": attempt,
            },
            window,
        )

    def _time_limits(self, now: float, running: dict[str, Started]) -> list[Finished]:
        """Cancel (killing their workers) and record the runs past the time limit."""
        if self.timeout is None:
            return []
        ray = self._start()
        over = [
            ref
            for ref, (_, key) in self._refs.items()
            if key in running and running[key].seconds(now) > self.timeout
        ]
        finished: list[Finished] = []
        for ref in over:
            job, _ = self._refs.pop(ref)
            ray.cancel(ref, force=True)
            error = f"TimeoutError: run exceeded {self.timeout:.0f} s"
            finished.append((job, RunResult.for_spec(job.spec, "timed-out", error=error)))
        return finished

    def _collect(
        self, ref: Any, job: Job
    ) -> tuple[RunResult | BaseException, tuple[float, float] | None]:
        """The job's result (or what its ``on_eval`` raised) and when it ran on its node."""
        ray = self._start()
        errors = ray.exceptions
        try:
            ran = ray.get(ref)
        except errors.WorkerCrashedError as exc:
            error = f"WorkerCrashedError: its worker process died, twice ({one_line(exc, 200)})"
            return RunResult.for_spec(job.spec, "failed", error=error), None
        except errors.RayTaskError as exc:  # only the task's own plumbing raises
            cause = exc.cause if exc.cause is not None else exc
            return RunResult.failed(job.spec, cause), None
        except errors.RayError as exc:  # NodeDiedError, ObjectLostError, OwnerDiedError...
            error = f"{type(exc).__name__}: lost its node, twice ({one_line(exc, 200)})"
            lost = RunResult.for_spec(job.spec, "failed", error=error, error_component=LOST)
            return lost, None
        value = ran.value.exception if isinstance(ran.value, Raised) else ran.value
        return value, (ran.start, ran.end)

    def stop(self) -> None:
        if self._starts is None:
            return
        ray = _ray()
        for ref in self._refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        self._refs.clear()
        if self._initialised:
            ray.shutdown()
            self._initialised = False
        self._task = self._starts = None


def _errors_off_stdout(ray: Any) -> None:
    """Ray's driver prints the cluster's error messages (a worker died, a task is retried)
    on stdout, where the leaderboard and ``--json`` go; every run's result says what became
    of it, so they go to the ``ray`` logger instead (shown with ``logging`` at INFO)."""
    worker_module = getattr(getattr(ray, "_private", None), "worker", None)
    if worker_module is None or not hasattr(worker_module, "print_to_stdstream"):
        return
    original = worker_module.print_to_stdstream
    log = logging.getLogger("ray")

    def to_logger(data: dict[str, Any], ignore_prefix: bool) -> None:
        if data.get("pid") == "raylet":
            for line in data.get("lines", []):
                log.info("%s", line)
        else:
            original(data, ignore_prefix)

    worker_module.print_to_stdstream = to_logger


def _head(ray: Any) -> str:
    """The id of the cluster's head node (whose loss ends the cluster anyway), else of the
    node this process is attached to."""
    for node in ray.nodes():
        if node.get("Alive") and "node:__internal_head__" in node.get("Resources", {}):
            return str(node["NodeID"])
    return str(ray.get_runtime_context().get_node_id())


def _check_reachable(address: str | None) -> None:
    """One line at once for a ``HOST:PORT`` nothing listens on: Ray itself retries such an
    address for many minutes (13 on this machine) before it gives up."""
    if not address or "://" in address or address == "auto":
        return
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise BenchbenchError(f"--address {address!r}: give the Ray head as HOST:PORT")
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as exc:
        raise BenchbenchError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} (is 'ray start "
            "--head' running there, and the port open?)"
        ) from exc
