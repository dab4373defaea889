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
  plus :data:`~benchbench.running.executors.slurm_options.STARTUP_SECONDS`): ``timed-out``;
- cancelled from outside, node failure, preemption: the job is submitted once more, and a
  run lost twice is ``failed`` with component :data:`~.base.LOST` (the next ``benchbench
  run`` runs it again);
- out of memory or a crash before the run's result: ``failed``, the job's log named.

The state of jobs comes from ``squeue`` (no accounting database needed), and for jobs
already gone from it from ``sacct`` where the cluster keeps one, else from the end of their
log. Every job submitted is written down in ``OUT/slurm/ledger/RUN_ID.json``: a driver killed
and started again picks its jobs up (running or finished) instead of submitting them twice.
Ctrl-C or SIGTERM cancels (``scancel``) every job not yet finished.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from ...errors import BenchbenchError, one_line
from ...plugins.config import PluginConfig
from ...spec import RunResult, RunSpec
from .. import declared, numerics
from .base import LOST, Executor, Finished, Job, Neighbours
from .slurm_job import FileChannel, slurm_task
from .slurm_options import STARTUP_SECONDS, SlurmOptions, sbatch_options, slurm_minutes
from .worker import Raised, Ran, module_roots

SIGNAL_SECONDS = 30
"""How long before Slurm's time limit submitit is warned (``--signal``) and records the run
as timed out."""

GRACE_SECONDS = 10.0
"""How long a job that ended (or left ``squeue``) may take to show its result file on a
shared file system before it counts as ended without one."""

MAX_ARRAY = 1000
"""The most jobs in one array, and in flight: fewer where the cluster's ``MaxArraySize``
says (Slurm's default is 1001: indices 0 to 1000)."""

_POLL_SECONDS = 2.0
_ENDED = {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "PREEMPTED",
          "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT"}  # fmt: skip
_LOST_STATES = {"CANCELLED", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL"}
_LOG_REASONS = (  # what slurmstepd writes in a job's log when it ends it
    ("DUE TO TIME LIMIT", "TIMEOUT"),
    ("DUE TO PREEMPTION", "PREEMPTED"),
    ("DUE TO NODE FAILURE", "NODE_FAIL"),
    ("CANCELLED AT", "CANCELLED"),
    ("oom_kill", "OUT_OF_MEMORY"),
    ("Out Of Memory", "OUT_OF_MEMORY"),
)
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


def run_minutes(spec: RunSpec, timeout: float | None) -> int:
    """Slurm's time limit for a run's job, in minutes: its time limit (``timeout``; a time
    budget bounds it too: twice the budget plus five minutes for evaluation) plus the
    job's start and submitit's warning."""
    limit = timeout if timeout is not None else 3600.0
    if spec.budget.seconds is not None:
        limit = min(limit, 2 * spec.budget.seconds + 300)
    return math.ceil((limit + STARTUP_SECONDS + SIGNAL_SECONDS) / 60)


def end_in_log(text: str) -> str | None:
    """The state a job's log says Slurm ended it in (slurmstepd's last words), if any."""
    for mark, state in _LOG_REASONS:
        if mark in text:
            return state
    return None


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
    jobs: dict[str, tuple[str, str, float | None]] = field(default_factory=dict)


def _submitit() -> Any:
    try:
        import submitit
    except ImportError as exc:
        raise BenchbenchError(
            "--executor slurm needs submitit: pip install 'benchbench[slurm]'"
        ) from exc
    return submitit


class SlurmExecutor(Executor):
    """Runs jobs as Slurm jobs through submitit, under ``folder`` (``OUT/slurm``: shared by
    the nodes). ``timeout``: each run's limit, from its start on its node; ``threads``:
    the CPUs a job asks for unless ``options.cpus_per_run`` says; ``workers``: the most
    tasks of one array running at once (default: as many as Slurm gives)."""

    slots = MAX_ARRAY

    def __init__(
        self,
        config: PluginConfig,
        data_dir: Path | None,
        folder: Path,
        timeout: float | None = None,
        options: SlurmOptions | None = None,
        threads: int | None = None,
        workers: int | None = None,
        gpus_per_run: float = 1.0,
    ) -> None:
        tools = ("sbatch", "squeue", "scancel", "srun")
        missing = [tool for tool in tools if not shutil.which(tool)]
        if missing:
            raise BenchbenchError(
                f"--executor slurm needs Slurm's commands here ({', '.join(missing)} not found on "
                "PATH): run benchbench on a login node of the cluster"
            )
        _submitit()
        if gpus_per_run != 1:
            raise BenchbenchError(
                f"--gpus-per-run {gpus_per_run:g}: Slurm gives each job whole GPUs; leave it at 1"
            )
        from ...tasks import default_data_dir

        self.config, self.timeout = config, timeout
        self.options = options or SlurmOptions()
        self.cpus = self.options.cpus_per_run or threads or 1
        self.workers = workers
        self.gpus = 0
        self.folder = Path(folder).resolve()
        # the path the nodes read: the same folder as here, on the shared file system
        self.data_dir = Path(data_dir or default_data_dir()).resolve()
        self._paths = module_roots(config.modules)
        self._user = getpass.getuser()
        self._pending: list[tuple[Job, int]] = []
        self._placed: dict[str, _Placed] = {}
        self._queue = _Queue()
        self._gone: set[str] = set()  # jobs whose result came back, until they leave squeue
        self._neighbours = Neighbours()
        self.ledger = self.folder / "ledger"

    def use_device(self, device: str) -> str:
        """The device runs will use on the cluster (``auto``: ``cuda`` where a node of the
        partition has a GPU); refuses at once what the partition can never run."""
        from ..resolve import resolve_device

        if device != "auto":
            device = resolve_device(device, here=False)
        if device.startswith("cuda:") and device != "cuda:0":
            raise BenchbenchError(
                f"--device {device}: on Slurm each job gets a GPU of its own; use --device cuda"
            )
        nodes = self._partition_nodes()
        has_gpu = any("gpu" in gres for _, gres in nodes)
        if device == "auto":
            device = "cuda" if has_gpu else "cpu"
        self.gpus = 1 if device.startswith("cuda") else 0
        where = f"partition {self.options.partition}" if self.options.partition else "the cluster"
        if self.gpus and not has_gpu:
            raise BenchbenchError(f"--device {device}: no node of {where} has a GPU (gres/gpu)")
        self.slots = min(MAX_ARRAY, _max_array_size())
        most = max(cpus for cpus, _ in nodes)
        if self.cpus > most:
            raise BenchbenchError(
                f"each run asks for {self.cpus} CPUs but no node of {where} has more than {most}"
            )
        return device

    def _partition_nodes(self) -> list[tuple[int, str]]:
        """(CPUs, generic resources) of each node group of the partition (sinfo)."""
        command = ["sinfo", "-h", "-o", "%c|%G"]
        if self.options.partition:
            command += ["-p", self.options.partition]
        out = _slurm(command, "cannot ask Slurm for its nodes")
        nodes = []
        for line in out.splitlines():
            cpus, _, gres = line.partition("|")
            if cpus.strip().rstrip("+").isdigit():
                nodes.append((int(cpus.strip().rstrip("+")), gres))
        if not nodes:
            which = f"partition {self.options.partition!r}" if self.options.partition else "Slurm"
            raise BenchbenchError(f"sinfo shows no nodes in {which}")
        return nodes

    def channel(self) -> FileChannel:
        """Files in the shared output folder: a job appends its eval points, this process
        reads them (a folder of its own for each command)."""
        return FileChannel(self.folder / "points" / uuid.uuid4().hex)

    def submit(self, job: Job) -> None:
        """Queue ``job`` for the next array, or pick up the job a killed driver submitted
        for the same run (running, or finished with its result waiting)."""
        written = self._ledger_file(job.spec.run_id)
        if written is not None and written.is_file():
            try:
                record = json.loads(written.read_text())
                slurm_id, attempt = str(record["job"]), int(record["attempt"])
                minutes = int(record.get("minutes", 0))
            except (OSError, ValueError, KeyError, TypeError):
                pass
            else:
                self._place(job, slurm_id, attempt, minutes)
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
            self._forget(placed.job.spec.run_id)
        self._placed.clear()
        for start in range(0, len(cancel), 500):
            subprocess.run(
                ["scancel", *cancel[start : start + 500]], capture_output=True, timeout=60
            )
        ids, self._gone = {*cancel, *self._gone}, set()
        deadline = time.monotonic() + 60
        while ids and time.monotonic() < deadline:
            shown = self._squeue(every_state=False)
            if shown is not None and not ids & set(shown):
                return
            time.sleep(0.5)

    # submitting

    def _flush(self) -> None:
        """Submit the queued jobs: one array per time limit (at most ``slots`` jobs)."""
        if not self._pending:
            return
        given = slurm_minutes(self.options.time) if self.options.time else None
        groups: dict[int, list[tuple[Job, int]]] = {}
        for job, attempt in self._pending:
            minutes = given or run_minutes(job.spec, self.timeout)
            groups.setdefault(minutes, []).append((job, attempt))
        self._pending = []
        for minutes, group in sorted(groups.items()):
            for start in range(0, len(group), self.slots):
                self._submit_array(minutes, group[start : start + self.slots])

    def _submit_array(self, minutes: int, group: list[tuple[Job, int]]) -> None:
        """One ``sbatch`` for ``group`` (an array, or a single job), each job written down
        in the ledger as soon as Slurm has taken it."""
        submitit = _submitit()
        executor = submitit.SlurmExecutor(folder=self.folder / "%j", max_num_timeout=0)
        options = self.options
        extra = sbatch_options(options.sbatch)
        if options.mem:
            extra["mem"] = options.mem
        parameters: dict[str, Any] = {
            "job_name": "benchbench",
            "time": minutes,
            "cpus_per_task": self.cpus,
            "signal_delay_s": SIGNAL_SECONDS,
            "array_parallelism": self.workers or len(group),
            "setup": [
                f"export {name}={shlex.quote(value)}"
                for name, value in {**numerics.environment(), **declared.environment()}.items()
            ],
            "additional_parameters": extra,
        }
        for name in ("partition", "account", "qos"):
            if getattr(options, name):
                parameters[name] = getattr(options, name)
        if self.gpus:
            parameters["gpus_per_node"] = self.gpus
        try:
            executor.update_parameters(**parameters)
            with executor.batch():
                handles = [
                    executor.submit(
                        slurm_task,
                        job,
                        self.config,
                        self.data_dir,
                        self._paths,
                        self.timeout,
                        minutes,
                    )
                    for job, _ in group
                ]
        except Exception as exc:  # sbatch refused: a wrong partition, account, option...
            raise BenchbenchError(f"Slurm refused the jobs: {one_line(exc, 400)}") from exc
        for (job, attempt), handle in zip(group, handles, strict=True):
            self._remember(job.spec.run_id, handle.job_id, attempt, minutes)
            self._place(job, handle.job_id, attempt, minutes)

    def _place(self, job: Job, slurm_id: str, attempt: int, minutes: int) -> None:
        from submitit.core.utils import JobPaths

        paths = JobPaths(self.folder / "%j", job_id=slurm_id, task_id=0)
        self._placed[uuid.uuid4().hex] = _Placed(job, slurm_id, attempt, paths, minutes)

    def _ledger_file(self, run_id: str) -> Path | None:
        return self.ledger / f"{run_id}.json" if _SAFE_NAME.fullmatch(run_id) else None

    def _remember(self, run_id: str, slurm_id: str, attempt: int, minutes: int) -> None:
        path = self._ledger_file(run_id)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        record = {"job": slurm_id, "attempt": attempt, "minutes": minutes, "at": time.time()}
        temporary.write_text(json.dumps(record))
        temporary.replace(path)

    def _forget(self, run_id: str) -> None:
        path = self._ledger_file(run_id)
        if path is not None:
            path.unlink(missing_ok=True)

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
        shown = self._squeue(every_state=True)
        if shown is None:  # the controller does not answer: ask again next time
            return finished
        self._queue = _Queue(now, shown)
        for key, placed in list(self._placed.items()):
            state = shown.get(placed.slurm_id, (None,))[0]
            if state is not None and state not in _ENDED:
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
        self._forget(placed.job.spec.run_id)
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
        assert isinstance(value, Ran)
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
        state = state if state in _ENDED else _sacct(placed.slurm_id) or _log_state(placed)
        if state in ("TIMEOUT", "DEADLINE"):
            return self._slurm_limit(placed)
        if state == "OUT_OF_MEMORY":
            return self._failed(placed, "MemoryError: the job ran out of memory (--mem)")
        if state in _LOST_STATES or state is None:
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

    def _squeue(self, every_state: bool) -> dict[str, tuple[str, str, float | None]] | None:
        """Our jobs ``squeue`` shows (with ``every_state``: those just ended too), by id:
        state, node and start (epoch seconds); ``None`` when it does not answer."""
        command = ["squeue", "-h", "-r", "-u", self._user, "-o", "%i|%T|%N|%S"]
        if every_state:
            command[2:2] = ["-t", "all"]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            return None
        if out.returncode != 0:
            return None
        jobs = {}
        for line in out.stdout.splitlines():
            parts = line.strip().split("|")
            if len(parts) == 4:
                jobs[parts[0]] = (parts[1], parts[2], _epoch(parts[3]))
        return jobs


def _slurm(command: list[str], what: str) -> str:
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchbenchError(f"{what}: {one_line(exc, 200)}") from exc
    if out.returncode != 0:
        raise BenchbenchError(f"{what}: {one_line(out.stderr or out.stdout, 300)}")
    return out.stdout


def _max_array_size() -> int:
    """The cluster's ``MaxArraySize`` (an array's indices stay below it), else Slurm's
    default."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return MAX_ARRAY + 1
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", out.stdout, re.MULTILINE)
    return max(1, int(match.group(1))) if match else MAX_ARRAY + 1


def _sacct(slurm_id: str) -> str | None:
    """The job's final state from Slurm's accounting, where the cluster keeps it."""
    try:
        out = subprocess.run(
            ["sacct", "-n", "-X", "-P", "-o", "State", "-j", slurm_id],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    states = out.stdout.split() if out.returncode == 0 else []
    return states[0].split()[0] if states and states[0] in _ENDED else None


def _log_state(placed: _Placed) -> str | None:
    """How the job's log says it ended (slurmstepd writes why it ended a job)."""
    try:
        with placed.paths.stderr.open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 8192))
            return end_in_log(file.read().decode(errors="replace"))
    except OSError:
        return None


def _epoch(text: str) -> float | None:
    """``squeue``'s start time (the controller's local time) as epoch seconds."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
