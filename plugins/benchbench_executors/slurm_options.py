"""What a Slurm job asks for (``--partition``, ``--time``, ``--sbatch``...): the options the
``slurm`` executor declares (:data:`OPTIONS`, from which its flags and ``executor_options``
follow) and :class:`SlurmOptions`, their values checked where they are given; importable
without submitit or Slurm (:mod:`.slurm` places the jobs)."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from benchbench.errors import BenchbenchError
from benchbench.executors.options import ExecutorOption
from benchbench.phrasing import option

STARTUP_SECONDS = 120
"""What Slurm's time limit allows beyond a run's own for the job to start: Python, torch, the
plugins and the data loaded on the node."""


OPTIONS = (
    ExecutorOption("partition", help="sbatch --partition."),
    ExecutorOption("account", help="sbatch --account."),
    ExecutorOption("qos", help="sbatch --qos."),
    ExecutorOption(
        "time",
        help="sbatch --time for each run's job, in Slurm's format (90, 1:30:00, 1-00:00:00; "
        "default: --timeout, or the run's time budget, plus 2 minutes to start).",
        metavar="LIMIT",
    ),
    ExecutorOption(
        "cpus_per_run",
        int,
        help="sbatch --cpus-per-task; the run's threads (default: --threads, else 1).",
        minimum=1,
    ),
    ExecutorOption("mem", help="sbatch --mem (16G).", metavar="SIZE"),
    ExecutorOption(
        "sbatch",
        help="any other sbatch option, NAME=VALUE or --NAME: --sbatch constraint=a100 "
        "--sbatch --exclusive.",
        multiple=True,
        metavar="OPTION",
    ),
)
"""The ``slurm`` executor's options, each the ``sbatch`` option of the same name."""


@dataclass(frozen=True)
class SlurmOptions:
    """What every run's job asks Slurm for (``--executor slurm``). Each maps to the
    ``sbatch`` option of the same name; ``time`` is in Slurm's format (``90``, ``1:30:00``,
    ``1-00:00:00``; default: the run's ``--timeout`` or its time budget, plus
    :data:`~benchbench_executors.slurm_options.STARTUP_SECONDS` to start);
    ``cpus_per_run`` is ``--cpus-per-task`` (default: ``threads``, else 1); ``sbatch``
    passes any other option through (``"constraint=a100"``, ``"--exclusive"``)."""

    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    time: str | None = None
    cpus_per_run: int | None = None
    mem: str | None = None
    sbatch: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("partition", "account", "qos", "time", "mem"):
            _printable(name, getattr(self, name))
        if self.time is not None:
            slurm_minutes(self.time)  # checked now: one line, before anything is submitted
        if self.mem is not None:
            slurm_megabytes(self.mem)
        if self.cpus_per_run is not None and self.cpus_per_run < 1:
            raise BenchbenchError(
                f"{option('cpus_per_run')} must be at least 1, got {self.cpus_per_run}"
            )
        sbatch_options(self.sbatch)


def _printable(name: str, value: str | None) -> None:
    """Refuse a value with a line break or another control character: every option lands in
    a line of the job script's ``#SBATCH`` header, and a line break there starts a line of
    its own (a shell command, or a header Slurm stops reading at)."""
    if value is not None and not value.isprintable():
        raise BenchbenchError(
            f"{option(name)} may not hold a line break or another control character (it "
            f"lands in a line of the job script), got {value!r}"
        )


def slurm_minutes(text: str) -> int:
    """A time in Slurm's formats (``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``,
    ``D-H:M:S``) in whole minutes, rounded up."""
    match = re.fullmatch(r"(?:(\d{1,6})-)?(\d{1,9})(?::(\d{1,2}))?(?::(\d{1,2}))?", text.strip())
    if not match:
        raise BenchbenchError(
            f"{option('time', text)}: give Slurm's format, e.g. 90 (minutes), 1:30:00 or 1-00:00:00"
        )
    days, first, second, third = match.groups()
    parts = [int(p) for p in (first, second, third) if p is not None]
    if days is not None:  # D-H, D-H:M, D-H:M:S
        parts += [0] * (3 - len(parts))
        units = parts[0] < 24 and parts[1] < 60 and parts[2] < 60
        seconds = int(days) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
    elif len(parts) == 1:  # M
        units, seconds = True, parts[0] * 60
    elif len(parts) == 2:  # M:S
        units, seconds = parts[1] < 60, parts[0] * 60 + parts[1]
    else:  # H:M:S
        units = parts[1] < 60 and parts[2] < 60
        seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    if not units:
        raise BenchbenchError(
            f"{option('time', text)}: hours go up to 23, minutes and seconds up to 59"
        )
    if seconds <= 0:
        raise BenchbenchError(f"{option('time', text)}: a time limit must be positive")
    if seconds > TIME_MOST_DAYS * 86400:
        raise BenchbenchError(
            f"{option('time', text)}: longer than {TIME_MOST_DAYS} days, more than any run needs"
        )
    return math.ceil(seconds / 60)


TIME_MOST_DAYS = 365
"""The longest ``--time`` taken: a year (Slurm's own limit is a partition's ``MaxTime``)."""

_MEM_UNITS = {"": 1, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1024**2}


def slurm_megabytes(text: str) -> float:
    """``--mem`` in Slurm's format (a whole number, then ``K``, ``M``, ``G`` or ``T``;
    megabytes without one; ``0``: all of a node's memory), in megabytes."""
    match = re.fullmatch(r"(\d{1,12})([KMGT]?)B?", text.strip(), flags=re.IGNORECASE)
    if not match:
        raise BenchbenchError(
            f"{option('mem', text)}: give Slurm's format, a whole number and a unit (16G, "
            "500M; megabytes without one)"
        )
    megabytes = int(match[1]) * _MEM_UNITS[match[2].upper()]
    if megabytes > 1024**3:
        raise BenchbenchError(f"{option('mem', text)}: more than a petabyte, no node has it")
    return megabytes


def sbatch_options(items: Sequence[str]) -> dict[str, Any]:
    """``--sbatch`` items (``KEY=VALUE``, ``--key=value``, ``--flag``) as submitit's
    ``additional_parameters``."""
    options: dict[str, Any] = {}
    for item in items:
        _printable("sbatch", item)
        key, has_value, value = item.strip().lstrip("-").partition("=")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
            raise BenchbenchError(
                f"{option('sbatch', item)}: give an sbatch option as NAME=VALUE or --NAME "
                "(e.g. constraint=a100, --exclusive)"
            )
        _not_reserved(item, key)
        options[key.replace("-", "_")] = value if has_value else True
    return options


OWN_OPTIONS = {
    "partition": "partition",
    "account": "account",
    "qos": "qos",
    "time": "time",
    "mem": "mem",
    "cpus-per-task": "cpus_per_run",
}
"""sbatch options that have an option of their own here (``--sbatch time=`` would replace
what ``--time`` or the default computes)."""
SET_HERE = ("array", "output", "error", "open-mode", "job-name", "signal", "wrap", "nodes")
"""sbatch options benchbench (through submitit) sets for every job: the array and its cap,
the logs its results are read from, the signal before the time limit, one node."""


def _not_reserved(item: str, key: str) -> None:
    """Refuse an ``--sbatch`` option that would replace one benchbench sets: also any
    abbreviation of one, which sbatch takes as the option (``--arr`` is ``--array``)."""
    for name, own in OWN_OPTIONS.items():
        if name.startswith(key):
            raise BenchbenchError(
                f"{option('sbatch', item)} would replace sbatch --{name}: use {option(own)} instead"
            )
    for name in SET_HERE:
        if name.startswith(key):
            raise BenchbenchError(
                f"{option('sbatch', item)} would replace sbatch --{name}, which benchbench "
                "sets for every job (its array, its logs, the signal before the time limit)"
            )
