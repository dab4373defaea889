"""The conditions a run's timings were measured under: cores, threads, and whether anything
else was using the machine.

Wall-clock figures (time-to-target, samples/s, latency) are only comparable when each
process uses the cores it owns and nothing else competes for them: on a 2-core machine one
busy neighbour made torch's default two threads 4x slower than one thread, and a batch-1
latency 100x slower. So every process pins its torch and OpenMP threads to its share of the
cores it may run on (:func:`pin_threads`), and every run records how much CPU *other*
processes used while it trained (:class:`CpuWatch`, from ``/proc/stat`` minus this process's
own CPU time), and the share the hypervisor stole. A run during which others kept more than
:data:`BUSY_CORES` cores busy, or the hypervisor stole more than :data:`BUSY_STEAL` of the
time, is flagged ``busy``; leaderboards mark its time columns.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from ..paths import environment

BUSY_CORES = 0.25
"""Average cores used by other processes above which a run's timings are flagged."""
BUSY_STEAL = 0.05
"""Share of CPU time stolen by the hypervisor above which a run's timings are flagged."""

_THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def owned_cores() -> int:
    """The cores this process may run on (its affinity mask where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def thread_share(processes: int = 1, threads: int | None = None) -> int:
    """Threads each of ``processes`` processes sharing this process's cores should use:
    ``threads`` if given, else an equal share of the owned cores (at least one)."""
    return threads or max(1, owned_cores() // max(1, processes))


def pin_threads(threads: int) -> None:
    """Use ``threads`` threads for torch's intra-op work and for OpenMP/BLAS in processes
    started from here (DataLoader workers inherit the environment)."""
    import torch

    for name in _THREAD_ENV:
        os.environ[name] = str(threads)
    torch.set_num_threads(threads)


@contextmanager
def pinned_threads(threads: int | None = None) -> Iterator[int]:
    """This process's torch and OpenMP/BLAS threads pinned to ``threads`` (default: every core
    it owns) inside the ``with`` block, and put back as they were after it: a notebook keeps
    its own settings."""
    import torch

    before, share = torch.get_num_threads(), thread_share(1, threads)
    try:
        with environment(dict.fromkeys(_THREAD_ENV, str(share))):
            pin_threads(share)
            yield torch.get_num_threads()
    finally:
        torch.set_num_threads(before)


def _proc_stat() -> tuple[float, float, float] | None:
    """(busy seconds, steal seconds, total seconds) of all CPUs since boot, or None where
    ``/proc/stat`` does not exist."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    hz = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq = fields[:7]
    steal = fields[7] if len(fields) > 7 else 0
    busy = user + nice + system + irq + softirq
    return busy / hz, steal / hz, (busy + idle + iowait + steal) / hz


def load_average() -> float | None:
    """The 1-minute load average, where the OS has one."""
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):
        return None


@dataclass
class CpuWatch:
    """CPU use by everything but this process between :meth:`start` and :meth:`stop`."""

    _stat: tuple[float, float, float] | None = None
    _own: float = 0.0
    _wall: float = 0.0
    _load: float | None = None

    def start(self) -> CpuWatch:
        """Begin watching; returns the watch."""
        self._stat, self._own = _proc_stat(), _own_cpu_seconds()
        self._wall, self._load = time.perf_counter(), load_average()
        return self

    def stop(self, threads: int) -> dict[str, Any]:
        """What was measured: cores owned, threads used, load average at start and end,
        average cores other processes kept busy, the stolen share, and the ``busy`` flag
        (None where the OS does not say)."""
        wall = time.perf_counter() - self._wall
        now, own = _proc_stat(), _own_cpu_seconds() - self._own
        others = steal = None
        if self._stat is not None and now is not None and wall > 0:
            busy, stolen, total = (b - a for a, b in zip(self._stat, now, strict=True))
            others = max(0.0, (busy - own) / wall)
            steal = stolen / total if total > 0 else 0.0
        flagged = None
        if others is not None and steal is not None:
            flagged = others > BUSY_CORES or steal > BUSY_STEAL
        return {
            "cores": owned_cores(),
            "threads": threads,
            "load_start": self._load,
            "load_end": load_average(),
            "other_cores_busy": None if others is None else round(others, 3),
            "steal": None if steal is None else round(steal, 4),
            "busy": flagged,
        }


def _own_cpu_seconds() -> float:
    """CPU seconds of this process (every thread) and of its children, finished or running
    (DataLoader workers are this run's work, not a neighbour's)."""
    times = os.times()
    own = times.user + times.system + times.children_user + times.children_system
    return own + sum(_cpu_seconds(pid) for pid in _live_children())


def _live_children() -> set[int]:
    """Pids of this process's running children, where Linux lists them."""
    pids: set[int] = set()
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children") as children:
                pids.update(int(pid) for pid in children.read().split())
    except OSError:
        pass
    return pids


def _cpu_seconds(pid: int) -> float:
    """CPU seconds of a running process and its reaped children (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(int(v) for v in fields[11:15]) / os.sysconf("SC_CLK_TCK")
