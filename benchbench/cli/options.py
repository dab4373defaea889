"""What every ``benchbench`` command shares: one-line errors and exit statuses, the group's
``-p`` and ``--data-dir``, and the options several commands take (results database, budget,
device, threads, numerics, executor, ``--set``), each declared once."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from ..errors import BenchbenchError, Stopped, one_line
from ..paths import DEFAULT_OUT

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """User errors as one line and exit status 2; a suite or tuning stopped by a signal as
    what was done and exit status 128 + the signal; another Ctrl-C as a short note."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BenchbenchError as exc:
            from ..storage.database import mask_credentials

            click.echo(f"benchbench: error: {mask_credentials(one_line(exc))}", err=True)
            sys.exit(2)
        except Stopped as stopped:
            click.echo(f"benchbench: stopped: {stopped.message}", err=True)
            sys.exit(stopped.exit_code)
        except KeyboardInterrupt:
            click.echo("benchbench: interrupted; finished runs are stored", err=True)
            sys.exit(130)

    return wrapper


def loading(ctx: click.Context) -> dict[str, Any]:
    """The group's options as the API takes them: ``plugins`` (``-p``) and ``data_dir``."""
    return {"plugins": ctx.obj["modules"], "data_dir": ctx.obj["data_dir"]}


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    """``--set NAME=VALUE`` pairs; each value is JSON if it parses as JSON, else text."""
    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BenchbenchError(f"--set takes NAME=VALUE, got {item!r}")
        try:
            parsed[name.strip()] = json.loads(value.strip())
        except json.JSONDecodeError:
            parsed[name.strip()] = value.strip()
    return parsed


def _stack(*options: Decorator) -> Decorator:
    """Several options as one decorator, in the order given."""

    def apply(command: Callable[..., Any]) -> Callable[..., Any]:
        for option in reversed(options):
            command = option(command)
        return command

    return apply


store_options = _stack(
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=DEFAULT_OUT,
        show_default=True,
        help="Folder of the results database (benchbench.db) and the leaderboard files.",
    ),
    click.option(
        "--storage", metavar="URL", help="Results database URL instead of OUT/benchbench.db."
    ),
)
"""``--out`` and ``--storage``: where results are stored and read."""

budget_options = _stack(
    click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="In epochs."),
    click.option("--steps", type=click.IntRange(min=1), help="In optimizer steps."),
    click.option(
        "--seconds", type=click.FloatRange(min=0, min_open=True), help="In training seconds."
    ),
    click.option(
        "--eval-every",
        type=click.FloatRange(min=0, min_open=True),
        default=1.0,
        show_default=True,
        help="Epochs between validation eval points.",
    ),
)
"""``--epochs``, ``--steps``, ``--seconds`` and ``--eval-every``: a run's (a trial's) budget."""

components_options = _stack(
    click.option("--regularizer", default="none", show_default=True),
    click.option("--ssl", default="supervised", show_default=True),
    click.option("--finetune", default="full", show_default=True),
)
"""The components besides task and arch, with their defaults."""

device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."
)
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Torch/OpenMP threads per run (default: the cores this process may use, "
    "shared among workers).",
)
numerics_option = click.option(
    "--numerics",
    type=click.Choice(["portable", "native"]),
    default="portable",
    show_default=True,
    help="portable: CPU kernels pinned so the same seed gives the same bits on every x86 "
    "machine; native: this CPU's widest vector instructions (faster, machine-specific). "
    "Part of every run id.",
)
download_option = click.option(
    "--download",
    is_flag=True,
    help="Fetch missing data of the tasks involved (checked against known checksums) before "
    "anything trains; see 'benchbench data'.",
)
timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds after which a run (a trial) is stopped and recorded as timed-out.",
)
executor_options = _stack(
    click.option(
        "--executor",
        type=click.Choice(["local", "ray", "slurm"]),
        default="local",
        show_default=True,
        help="local: worker processes on this machine; ray: tasks on a Ray cluster "
        "(pip install 'benchbench[ray]'); slurm: Slurm jobs through submitit, as job "
        "arrays (pip install 'benchbench[slurm]').",
    ),
    click.option(
        "--address",
        metavar="HOST:PORT",
        help="With --executor ray: the cluster's head (default: $RAY_ADDRESS, else a Ray "
        "instance started on this machine).",
    ),
    click.option(
        "--gpus-per-run",
        type=click.FloatRange(min=0, max=1, min_open=True),
        default=1.0,
        show_default=True,
        help="The share of a GPU each CUDA run gets: 0.5 puts two runs on every GPU. Runs "
        "that share a GPU are flagged busy and their times marked.",
    ),
)
"""``--executor``, ``--address`` and ``--gpus-per-run``: where runs (or trials) are
placed."""

SLURM_FIELDS = ("partition", "account", "qos", "time", "cpus_per_run", "mem", "sbatch")

slurm_options = _stack(
    click.option("--partition", help="With --executor slurm: sbatch --partition."),
    click.option("--account", help="With --executor slurm: sbatch --account."),
    click.option("--qos", help="With --executor slurm: sbatch --qos."),
    click.option(
        "--time",
        metavar="LIMIT",
        help="With --executor slurm: sbatch --time for each run's job, in Slurm's format "
        "(90, 1:30:00, 1-00:00:00; default: --timeout, or the run's time budget, plus 2 "
        "minutes to start).",
    ),
    click.option(
        "--cpus-per-run",
        type=click.IntRange(min=1),
        help="With --executor slurm: sbatch --cpus-per-task; the run's threads (default: "
        "--threads, else 1).",
    ),
    click.option("--mem", metavar="SIZE", help="With --executor slurm: sbatch --mem (16G)."),
    click.option(
        "--sbatch",
        multiple=True,
        metavar="OPTION",
        help="With --executor slurm: any other sbatch option, NAME=VALUE or --NAME "
        "(repeatable): --sbatch constraint=a100 --sbatch --exclusive.",
    ),
)
"""The Slurm job options (``--executor slurm``), gathered by :func:`take_slurm`."""


def take_slurm(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the Slurm job options gathered into one ``slurm`` dict (the API's
    :class:`~benchbench.SlurmOptions`), only those given."""
    given = {name: options.pop(name) for name in SLURM_FIELDS}
    options["slurm"] = {name: value for name, value in given.items() if value}
    return options


log_option = click.option(
    "--log",
    multiple=True,
    metavar="NAME[:TARGET]",
    help="Log every run, live as it trains, to an experiment tracker (repeatable): "
    "tensorboard[:DIR], mlflow[:TRACKING_URI], wandb[:PROJECT] or an installed plugin's.",
)
"""``--log``: experiment trackers (:mod:`benchbench.tracking`)."""


def sets_option(help: str) -> Decorator:
    """``--set NAME=VALUE`` (repeatable), with what it sets for this command."""
    return click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help=help)
