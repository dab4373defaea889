"""What Slurm says: our jobs in ``squeue`` (every state it still shows), a job's final state
from ``sacct`` where the cluster keeps accounting, else from the end of its log
(slurmstepd's last words), the nodes of a partition (``sinfo``) and the cluster's
``MaxArraySize``. Every command is bounded in time; one that does not answer is None (asked
again later) or one clear line."""

from __future__ import annotations

import os
import re
import subprocess
from datetime import datetime
from pathlib import Path

from benchbench.errors import BenchbenchError, one_line

ENDED = {"COMPLETED", "FAILED", "TIMEOUT", "CANCELLED", "NODE_FAIL", "PREEMPTED",
         "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT"}  # fmt: skip
"""The states of a job that has ended."""
LOST_STATES = {"CANCELLED", "NODE_FAIL", "PREEMPTED", "BOOT_FAIL"}
"""The states of a job lost to the cluster (submitted once more), not to its run."""
_LOG_REASONS = (  # what slurmstepd writes in a job's log when it ends it
    ("DUE TO TIME LIMIT", "TIMEOUT"),
    ("DUE TO PREEMPTION", "PREEMPTED"),
    ("DUE TO NODE FAILURE", "NODE_FAIL"),
    ("CANCELLED AT", "CANCELLED"),
    ("oom_kill", "OUT_OF_MEMORY"),
    ("Out Of Memory", "OUT_OF_MEMORY"),
)

Queued = dict[str, tuple[str, str, "float | None"]]
"""Jobs ``squeue`` shows, by id: state, node and start (epoch seconds)."""


def slurm(command: list[str], what: str) -> str:
    """A Slurm command's output; one line saying ``what`` failed otherwise."""
    try:
        out = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BenchbenchError(f"{what}: {one_line(exc, 200)}") from exc
    if out.returncode != 0:
        raise BenchbenchError(f"{what}: {one_line(out.stderr or out.stdout, 300)}")
    return out.stdout


def squeue(user: str, every_state: bool) -> Queued | None:
    """``user``'s jobs ``squeue`` shows (with ``every_state``: those just ended too);
    ``None`` when it does not answer."""
    command = ["squeue", "-h", "-r", "-u", user, "-o", "%i|%T|%N|%S"]
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


def sacct(slurm_id: str) -> str | None:
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
    return states[0].split()[0] if states and states[0] in ENDED else None


def end_in_log(text: str) -> str | None:
    """The state a job's log says Slurm ended it in (slurmstepd's last words), if any."""
    for mark, state in _LOG_REASONS:
        if mark in text:
            return state
    return None


def log_state(log: Path) -> str | None:
    """How the job whose log is ``log`` ended, by the log's last 8 KB."""
    try:
        with Path(log).open("rb") as file:
            file.seek(max(0, file.seek(0, os.SEEK_END) - 8192))
            return end_in_log(file.read().decode(errors="replace"))
    except OSError:
        return None


def partition_nodes(partition: str | None) -> list[tuple[int, str]]:
    """(CPUs, generic resources) of each node group of ``partition`` (the default one when
    None), from ``sinfo``."""
    command = ["sinfo", "-h", "-o", "%c|%G"]
    if partition:
        command += ["-p", partition]
    out = slurm(command, "cannot ask Slurm for its nodes")
    nodes = []
    for line in out.splitlines():
        cpus, _, gres = line.partition("|")
        if cpus.strip().rstrip("+").isdigit():
            nodes.append((int(cpus.strip().rstrip("+")), gres))
    if not nodes:
        which = f"partition {partition!r}" if partition else "Slurm"
        raise BenchbenchError(f"sinfo shows no nodes in {which}")
    return nodes


def max_array_size(default: int) -> int:
    """The cluster's ``MaxArraySize`` (an array's indices stay below it), else ``default``."""
    try:
        out = subprocess.run(
            ["scontrol", "show", "config"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return default
    match = re.search(r"^MaxArraySize\s*=\s*(\d+)", out.stdout, re.MULTILINE)
    return max(1, int(match.group(1))) if match else default


def _epoch(text: str) -> float | None:
    """``squeue``'s start time (the controller's local time) as epoch seconds."""
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        return None
