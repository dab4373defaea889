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
        if self.time is not None:
            slurm_minutes(self.time)  # checked now: one line, before anything is submitted
        if self.cpus_per_run is not None and self.cpus_per_run < 1:
            raise BenchbenchError(f"--cpus-per-run must be at least 1, got {self.cpus_per_run}")
        sbatch_options(self.sbatch)


def slurm_minutes(text: str) -> int:
    """A time in Slurm's formats (``M``, ``M:S``, ``H:M:S``, ``D-H``, ``D-H:M``,
    ``D-H:M:S``) in whole minutes, rounded up."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if not match:
        raise BenchbenchError(
            f"--time {text!r}: give Slurm's format, e.g. 90 (minutes), 1:30:00 or 1-00:00:00"
        )
    days, first, second, third = match.groups()
    parts = [int(p) for p in (first, second, third) if p is not None]
    if days is not None:  # D-H, D-H:M, D-H:M:S
        parts += [0] * (3 - len(parts))
        seconds = int(days) * 86400 + parts[0] * 3600 + parts[1] * 60 + parts[2]
    elif len(parts) == 1:  # M
        seconds = parts[0] * 60
    elif len(parts) == 2:  # M:S
        seconds = parts[0] * 60 + parts[1]
    else:  # H:M:S
        seconds = parts[0] * 3600 + parts[1] * 60 + parts[2]
    if seconds <= 0:
        raise BenchbenchError(f"--time {text!r}: a time limit must be positive")
    return math.ceil(seconds / 60)


def sbatch_options(items: Sequence[str]) -> dict[str, Any]:
    """``--sbatch`` items (``KEY=VALUE``, ``--key=value``, ``--flag``) as submitit's
    ``additional_parameters``."""
    options: dict[str, Any] = {}
    for item in items:
        key, has_value, value = item.strip().lstrip("-").partition("=")
        if not re.fullmatch(r"[a-z][a-z0-9-]*", key):
            raise BenchbenchError(
                f"--sbatch {item!r}: give an sbatch option as NAME=VALUE or --NAME (e.g. "
                "constraint=a100, --exclusive)"
            )
        options[key.replace("-", "_")] = value if has_value else True
    return options
