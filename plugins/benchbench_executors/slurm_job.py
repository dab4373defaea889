"""What of a Slurm run happens on the cluster: the function every job runs
(:func:`slurm_task`, which submitit pickles into the output folder and runs on a node), its
time limit, and :class:`FileChannel`, the channel its eval points travel back through (files
in the shared output folder). :mod:`.slurm` is the driver's side."""

from __future__ import annotations

import os
import pickle
import queue
import shutil
import signal
import socket
import struct
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from benchbench.executors.base import Job
from benchbench.executors.worker import Ran, WorkerSetup, run_placed
from benchbench.spec import RunResult

_HEADER = struct.Struct(">I")


def slurm_task(job: Job, setup: WorkerSetup, timeout: float | None, minutes: int) -> Ran:
    """One run in a Slurm job, pinned to the CPUs the job was given. Past ``timeout``
    seconds from its start here, a watchdog stores the run as ``timed-out`` in the job's
    result file and ends the process: the same limit, counted the same way, as a local
    worker's (time queued in Slurm does not count). Slurm's warning before its own limit
    (``minutes``; ``SIGUSR2``, submitit's ``--signal``) does the same."""
    ending = _Ending(job, time.time())
    if timeout is not None:
        watchdog = threading.Timer(timeout, ending.time_out, (f"run exceeded {timeout:.0f} s",))
        watchdog.daemon = True
        watchdog.start()
    reason = f"Slurm's time limit of {minutes} min reached"
    signal.signal(signal.SIGUSR2, lambda *_: ending.time_out(reason))  # over submitit's
    value = run_placed(job, setup, int(os.environ.get("SLURM_CPUS_PER_TASK", "1"))).value
    ending.lock.acquire()  # from here a time limit waits for the process to end
    if isinstance(value, RunResult):
        _where(value)
    return Ran(value, ending.start, time.time())


def _where(result: RunResult) -> None:
    """The node and Slurm job that ran ``result``, in its ``machine`` record."""
    env = os.environ
    job = env.get("SLURM_JOB_ID", "?")
    if env.get("SLURM_ARRAY_TASK_ID"):
        job = f"{env.get('SLURM_ARRAY_JOB_ID')}_{env['SLURM_ARRAY_TASK_ID']}"
    result.machine["node"] = env.get("SLURMD_NODENAME") or socket.gethostname()
    result.machine["slurm_job"] = job


class _Ending:
    """The end of a job's run: its own, or a time limit's, whichever comes first."""

    def __init__(self, job: Job, start: float) -> None:
        self.job, self.start = job, start
        self.lock = threading.Lock()

    def time_out(self, reason: str) -> None:
        """The run as ``timed-out`` in the job's result file, then the process's end."""
        if not self.lock.acquire(blocking=False):
            return  # the run ended first
        from submitit import JobEnvironment
        from submitit.core import utils

        result = RunResult.for_spec(self.job.spec, "timed-out", error=f"TimeoutError: {reason}")
        _where(result)
        path = JobEnvironment().paths.result_pickle
        with utils.temporary_save_path(path) as temporary:
            utils.cloudpickle_dump(("success", Ran(result, self.start, time.time())), temporary)
        os._exit(0)


class FileChannel:
    """A channel (:meth:`~benchbench.Executor.channel`) through a folder the nodes share: each
    job appends what it puts to a file of its own (length-prefixed pickles, one write each),
    and the driver reads every file's new records. The driver's own puts come out after the
    records the jobs wrote before it read, so a run's points precede its end, as on a
    queue."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self._driver = True
        self._offsets: dict[Path, int] = {}
        self._read: deque[Any] = deque()
        self._local: deque[Any] = deque()

    def __getstate__(self) -> dict[str, Any]:
        return {"folder": self.folder}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(state["folder"])  # type: ignore[misc]
        self._driver = False

    def put(self, item: Any) -> None:
        """``item`` onto the channel (from a job: into its file; from the driver: queued)."""
        if self._driver:
            self._local.append(item)
            return
        data = pickle.dumps(item)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{socket.gethostname()}-{os.getpid()}.points"
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, _HEADER.pack(len(data)) + data)
        finally:
            os.close(fd)

    def discard(self) -> None:
        """Remove the channel's files (the driver no longer reads them)."""
        if self._driver:
            shutil.rmtree(self.folder, ignore_errors=True)

    def get_nowait(self) -> Any:
        """The next item, else ``queue.Empty``."""
        if not self._read:
            self._scan()
            while self._local:  # after what the jobs wrote so far
                self._read.append(self._local.popleft())
        if not self._read:
            raise queue.Empty
        return self._read.popleft()

    def get(self, timeout: float = 0.5) -> Any:
        """The next item, waiting up to ``timeout`` seconds, else ``queue.Empty``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                return self.get_nowait()
            except queue.Empty:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))

    def _scan(self) -> None:
        """Every file's complete new records, in the order each was written."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("*.points")):
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as file:
                    file.seek(offset)
                    data = file.read()
            except OSError:
                continue
            at = 0
            while at + _HEADER.size <= len(data):
                (size,) = _HEADER.unpack_from(data, at)
                if at + _HEADER.size + size > len(data):
                    break  # a record still being written
                body = data[at + _HEADER.size : at + _HEADER.size + size]
                try:
                    self._read.append(pickle.loads(body))
                except Exception:  # noqa: BLE001 - a damaged record costs only itself
                    pass
                at += _HEADER.size + size
            self._offsets[path] = offset + at
