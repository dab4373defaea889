"""Placing runs on a Slurm cluster: every run a Slurm job through submitit, submitted as job
arrays, its result read back from the shared output folder and stored by this process.

Runs handed over together go out as one job array per time limit (a 1,000-run suite is one
``sbatch``, not 1,000); ``workers`` caps how many tasks of an array run at once (Slurm's
``%N``). Each job asks for ``cpus_per_run`` CPUs (torch and OpenMP are pinned to them) and one
GPU for a CUDA run. submitit writes each job's pickles and logs under ``OUT/slurm/JOB/``, so
the output folder, the data folder and this Python environment must be on a file system the
nodes share.

How a job can end, and what is stored:

- its result file (written by the run, or by its watchdog at ``--timeout`` seconds after it
  started on its node: ``timed-out``, as locally);
- Slurm's time limit (``--time``; by default the run's ``--timeout`` or its time budget,
  plus :data:`~benchbench_executors.slurm_options.STARTUP_SECONDS`): ``timed-out``;
- cancelled from outside, node failure, preemption: the job is submitted once more, and a
  run lost twice is ``failed`` with component :data:`~benchbench.executors.LOST` (the next
  ``benchbench run`` runs it again);
- out of memory or a crash before the run's result: ``failed``, the job's log named.

The state of jobs comes from ``squeue`` (no accounting database needed), and for jobs
already gone from it from ``sacct`` where the cluster keeps one, else from the end of their
log (:mod:`.slurm_state`). Every job submitted is written down in
``OUT/slurm/ledger/RUN_ID.json`` (:mod:`.slurm_ledger`): a driver killed and started again
picks its jobs up (running or finished) instead of submitting them twice. Ctrl-C or SIGTERM
cancels (``scancel``) every job not yet finished. Submission is :mod:`.slurm_submit`, what
runs on the nodes :mod:`.slurm_job`; this module is the driver.
"""

from __future__ import annotations

import getpass
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchbench.errors import BenchbenchError, one_line
from benchbench.executors.base import LOST, Executor, Finished, Job, Placement
from benchbench.executors.neighbours import Neighbours
from benchbench.executors.worker import Raised, Ran, WorkerSetup
from benchbench.host.devices import resolve_device
from benchbench.paths import default_data_dir
from benchbench.spec import RunResult
from benchbench.storage.database import parse_url

from . import slurm_state
from .slurm_job import FileChannel
from .slurm_ledger import Ledger
from .slurm_options import OPTIONS, SlurmOptions, slurm_minutes
from .slurm_submit import MAX_ARRAY, run_minutes, submit_array, submitit_module

GRACE_SECONDS = 10.0
"""How long a job that ended (or left ``squeue``) may take to show its result file on a
shared file system before it counts as ended without one."""

_POLL_SECONDS = 2.0


@dataclass
class _Placed:
    """A job out on the cluster: its run, Slurm job id, attempt and submitit's paths; when
    it was first seen ended (or gone from ``squeue``) without a result file."""

    job: Job
    slurm_id: str
    attempt: int
    paths: Any
    minutes: int
    ended_at: float | None = None
    state: str | None = None


@dataclass
class _Queue:
    """Our jobs in ``squeue`` (every state it still shows), when asked (monotonic)."""

    asked: float = 0.0
    jobs: slurm_state.Queued = field(default_factory=dict)


class SlurmExecutor(Executor):
    """Runs jobs as Slurm jobs through submitit, under ``OUT/slurm`` (shared by the nodes).
    ``timeout``: each run's limit, from its start on its node; ``threads``: the CPUs a job
    asks for unless ``cpus_per_run`` says; ``workers``: the most tasks of one array running
    at once (default: as many as Slurm gives). The other options are
    :data:`~benchbench_executors.slurm_options.OPTIONS`."""

    name = "slurm"
    summary = "every run a Slurm job through submitit, as job arrays"
    extra = "slurm"
    options = OPTIONS
    slots = MAX_ARRAY

    def __init__(self, placement: Placement, **options: Any) -> None:
        self.options_given = SlurmOptions(**options)  # checked first: one line, Slurm or not
        tools = ("sbatch", "squeue", "scancel", "srun")
        missing = [tool for tool in tools if not shutil.which(tool)]
        if missing:
            raise BenchbenchError(
                f"--executor slurm needs Slurm's commands here ({', '.join(missing)} not found on "
                "PATH): run benchbench on a login node of the cluster"
            )
        submitit_module()
        if placement.gpus_per_run != 1:
            raise BenchbenchError(
                f"--gpus-per-run {placement.gpus_per_run:g}: Slurm gives each job whole GPUs; "
                "leave it at 1"
            )
        super().__init__(placement)
        self.timeout = placement.timeout
        self.cpus = self.options_given.cpus_per_run or placement.threads or 1
        self.workers = placement.workers
        self.gpus = 0
        self.folder = Path(placement.out).resolve() / "slurm"
        # the path the nodes read: the same folder as here, on the shared file system
        self.setup = WorkerSetup.of(placement, placement.data_dir or default_data_dir())
        self._user = getpass.getuser()
        self._pending: list[tuple[Job, int]] = []
        self._placed: dict[str, _Placed] = {}
        self._queue = _Queue()
        self._gone: set[str] = set()  # jobs whose result came back, until they leave squeue
        self._neighbours = Neighbours()
        self.ledger = Ledger(self.folder / "ledger")

    @classmethod
    def check_storage(cls, url: str, options: Any) -> str | None:
        """Trials report to the study from the nodes, and SQLite on a shared file system is
        unsafe for writers on several machines."""
        if parse_url(url).drivername.startswith("sqlite"):
            raise BenchbenchError(
                "tuning on Slurm: trials report to the study from the nodes, and SQLite on a "
                "shared file system is unsafe for writers on several machines; use --storage "
                "postgresql://..."
            )
        return None

    def use_device(self, device: str) -> str:
        """The device runs will use on the cluster (``auto``: ``cuda`` where a node of the
        partition has a GPU); refuses at once what the partition can never run."""
        if device != "auto":
            device = resolve_device(device, here=False)
        if device.startswith("cuda:") and device != "cuda:0":
            raise BenchbenchError(
                f"--device {device}: on Slurm each job gets a GPU of its own; use --device cuda"
            )
        partition = self.options_given.partition
        nodes = slurm_state.partition_nodes(partition)
        has_gpu = any("gpu" in gres for _, gres in nodes)
        if device == "auto":
            device = "cuda" if has_gpu else "cpu"
        self.gpus = 1 if device.startswith("cuda") else 0
        where = f"partition {partition}" if partition else "the cluster"
        if self.gpus and not has_gpu:
            raise BenchbenchError(f"--device {device}: no node of {where} has a GPU (gres/gpu)")
        self.slots = min(MAX_ARRAY, slurm_state.max_array_size(MAX_ARRAY + 1))
        most = max(cpus for cpus, _ in nodes)
        if self.cpus > most:
            raise BenchbenchError(
                f"each run asks for {self.cpus} CPUs but no node of {where} has more than {most}"
            )
        return device

    def channel(self) -> FileChannel:
        """Files in the shared output folder: a job appends its eval points, this process
        reads them (a folder of its own for each command)."""
        return FileChannel(self.folder / "points" / uuid.uuid4().hex)

    def submit(self, job: Job) -> None:
        """Queue ``job`` for the next array, or pick up the job a killed driver submitted
        for the same run (running, or finished with its result waiting)."""
        written = self.ledger.read(job.spec.run_id)
        if written is not None:
            self._place(job, written.job, written.attempt, written.minutes)
            return
        self._pending.append((job, 1))

    @property
    def busy(self) -> int:
        return len(self._pending) + len(self._placed)

    def wait(self, timeout: float) -> list[Finished]:
        """The jobs that ended, waiting up to ``timeout`` seconds; the queued jobs are
        submitted first, except by ``wait(0)``, a stopping driver's last look, which must
        not submit what it is about to cancel."""
        if timeout > 0:
            self._flush()
        deadline = time.monotonic() + timeout
        while True:
            finished = self._poll()
            left = deadline - time.monotonic()
            if finished or left <= 0 or not self._placed:
                if timeout > 0:
                    self._flush()  # lost jobs submitted again
                return finished
            time.sleep(min(0.25, left))

    def stop(self) -> None:
        """Cancel every job not yet finished and forget them; then wait (up to a minute)
        until ``squeue`` shows none of this executor's jobs, those that just wrote their
        result and are ending included: a command ends with its jobs gone."""
        self._pending.clear()
        cancel = [placed.slurm_id for placed in self._placed.values()]
        for placed in self._placed.values():
            self.ledger.forget(placed.job.spec.run_id)
        self._placed.clear()
        for start in range(0, len(cancel), 500):
            subprocess.run(
                ["scancel", *cancel[start : start + 500]], capture_output=True, timeout=60
            )
        ids, self._gone = {*cancel, *self._gone}, set()
        deadline = time.monotonic() + 60
        while ids and time.monotonic() < deadline:
            shown = slurm_state.squeue(self._user, every_state=False)
            if shown is not None and not ids & set(shown):
                return
            time.sleep(0.5)

    # submitting

    def _flush(self) -> None:
        """Submit the queued jobs: one array per time limit (at most ``slots`` jobs)."""
        if not self._pending:
            return
        given = slurm_minutes(self.options_given.time) if self.options_given.time else None
        groups: dict[int, list[tuple[Job, int]]] = {}
        for job, attempt in self._pending:
            minutes = given or run_minutes(job.spec, self.timeout)
            groups.setdefault(minutes, []).append((job, attempt))
        self._pending = []
        for minutes, group in sorted(groups.items()):
            for start in range(0, len(group), self.slots):
                chunk = group[start : start + self.slots]
                ids = submit_array(
                    self.folder,
                    self.options_given,
                    [job for job, _ in chunk],
                    self.setup,
                    minutes=minutes,
                    cpus=self.cpus,
                    gpus=self.gpus,
                    parallel=self.workers,
                    timeout=self.timeout,
                )
                for (job, attempt), slurm_id in zip(chunk, ids, strict=True):
                    self.ledger.remember(job.spec.run_id, slurm_id, attempt, minutes)
                    self._place(job, slurm_id, attempt, minutes)

    def _place(self, job: Job, slurm_id: str, attempt: int, minutes: int) -> None:
        from submitit.core.utils import JobPaths

        paths = JobPaths(self.folder / "%j", job_id=slurm_id, task_id=0)
        self._placed[uuid.uuid4().hex] = _Placed(job, slurm_id, attempt, paths, minutes)

    # hearing back

    def _poll(self) -> list[Finished]:
        """The jobs that ended since last asked: those with a result file, then (every
        :data:`_POLL_SECONDS`) those ``squeue`` or their log says Slurm ended."""
        finished: list[Finished] = []
        for key, placed in list(self._placed.items()):
            if placed.paths.result_pickle.exists():
                finished += self._done(key, self._collect(placed))
        now = time.monotonic()
        if not self._placed or now - self._queue.asked < _POLL_SECONDS:
            return finished
        shown = slurm_state.squeue(self._user, every_state=True)
        if shown is None:  # the controller does not answer: ask again next time
            return finished
        self._queue = _Queue(now, shown)
        for key, placed in list(self._placed.items()):
            state = shown.get(placed.slurm_id, (None,))[0]
            if state is not None and state not in slurm_state.ENDED:
                placed.ended_at = None  # pending, running, requeued
                continue
            if placed.ended_at is None:
                placed.ended_at, placed.state = now, state
                continue
            if now - placed.ended_at < GRACE_SECONDS or placed.paths.result_pickle.exists():
                continue
            finished += self._done(key, self._ended(placed, state or placed.state))
        return finished

    def _done(self, key: str, value: RunResult | BaseException | None) -> list[Finished]:
        """A job that ended: its result (``None``: lost, submitted again)."""
        placed = self._placed.pop(key)
        self._gone.add(placed.slurm_id)
        if value is None:
            self._pending.append((placed.job, placed.attempt + 1))
            return []
        self.ledger.forget(placed.job.spec.run_id)
        return [(placed.job, value)]

    def _collect(self, placed: _Placed) -> RunResult | BaseException:
        """The job's result from its result file."""
        from submitit.core.utils import pickle_load

        try:
            outcome, value = pickle_load(placed.paths.result_pickle)
        except Exception as exc:  # noqa: BLE001 - damaged on the way
            return self._failed(placed, f"its result file could not be read: {one_line(exc, 200)}")
        if outcome != "success":  # raised outside the run: submitit's own, or Slurm's limit
            text = str(value)
            if "UncompletedJobError" in text and "timed-out" in text:
                return self._slurm_limit(placed)
            last = [line for line in text.strip().splitlines() if line.strip()]
            return self._failed(placed, last[-1] if last else "the job raised")
        if not isinstance(value, Ran):
            return self._failed(placed, f"its result file holds {type(value).__name__}, no run")
        if isinstance(value.value, Raised):
            return value.value.exception
        result = value.value
        node = str(result.machine.get("node", "?"))
        running = [
            (shown_node, start)
            for slurm_id, (state, shown_node, start) in self._queue.jobs.items()
            if state == "RUNNING" and start is not None and slurm_id != placed.slurm_id
        ]
        self._neighbours.placed(
            result,
            node,
            running,
            {
                "executor": "slurm",
                "cpus_given": self.cpus,
                "gpus_given": self.gpus,
                "attempt": placed.attempt,
            },
            (value.start, value.end),
        )
        if result.status != "ok" and result.error is not None:
            result.error = f"{result.error} (Slurm log: {placed.paths.stderr})"
        return result

    def _ended(self, placed: _Placed, state: str | None) -> RunResult | None:
        """A job that ended without a result file: how (``squeue``, else ``sacct``, else
        its log), as its result; ``None`` for a job lost the first time."""
        state = (
            state
            if state in slurm_state.ENDED
            else (slurm_state.sacct(placed.slurm_id) or slurm_state.log_state(placed.paths.stderr))
        )
        if state in ("TIMEOUT", "DEADLINE"):
            return self._slurm_limit(placed)
        if state == "OUT_OF_MEMORY":
            return self._failed(placed, "MemoryError: the job ran out of memory (--mem)")
        if state in slurm_state.LOST_STATES or state is None:
            how = (state or "gone from squeue without a result").lower().replace("_", " ")
            if placed.attempt < 2:
                return None
            error = f"SlurmJobLost: {how}, twice (Slurm log: {placed.paths.stderr})"
            return RunResult.for_spec(placed.job.spec, "failed", error=error, error_component=LOST)
        return self._failed(placed, f"the job ended {state} without a result")

    def _slurm_limit(self, placed: _Placed) -> RunResult:
        error = f"TimeoutError: Slurm's time limit of {placed.minutes} min reached"
        result = RunResult.for_spec(placed.job.spec, "timed-out", error=error)
        result.machine["slurm_job"] = placed.slurm_id
        return result

    def _failed(self, placed: _Placed, reason: str) -> RunResult:
        error = f"{reason} (Slurm log: {placed.paths.stderr})"
        result = RunResult.for_spec(placed.job.spec, "failed", error=error)
        result.machine["slurm_job"] = placed.slurm_id
        return result
