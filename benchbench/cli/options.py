"""What every ``benchbench`` command shares: one-line errors and exit statuses, the group's
``-p`` and ``--data-dir``, and the options several commands take (results database, budget,
device, threads, numerics, executor, ``--set``), each declared once."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from ..errors import BenchbenchError, Stopped, one_line
from ..kinds import KINDS
from ..paths import DEFAULT_OUT
from ..phrasing import command_line

Decorator = Callable[[Callable[..., Any]], Callable[..., Any]]


def fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """User errors as one line and exit status 2; a suite or tuning stopped by a signal as
    what was done and exit status 128 + the signal; another Ctrl-C as a short note. What the
    command raises or notes is phrased for a shell user (:mod:`benchbench.phrasing`)."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with command_line():
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


def choices(values: Iterable[str]) -> str:
    """The metavar of an option that takes one of ``values`` (``[tpe|random]``): the API's
    checker (:mod:`benchbench.arguments`) refuses any other, in the same words for both."""
    return "[" + "|".join(values) + "]"


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
    click.option("--epochs", type=float, help="In epochs."),
    click.option("--steps", type=int, help="In optimizer steps."),
    click.option("--seconds", type=float, help="In training seconds."),
    click.option(
        "--eval-every",
        type=float,
        default=1.0,
        show_default=True,
        help="Epochs between validation eval points.",
    ),
)
"""``--epochs``, ``--steps``, ``--seconds`` and ``--eval-every``: a run's (a trial's) budget."""

components_options = _stack(
    *(
        click.option(kind.option, default=kind.default, show_default=True, help=kind.help)
        for kind in KINDS
        if kind.default is not None
    )
)
"""The components a run has by default (each kind of :mod:`benchbench.kinds` with a
default: regularizer, ssl, finetune, optimizer), one option each."""

device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."
)
threads_option = click.option(
    "--threads",
    type=int,
    help="Torch/OpenMP threads per run (default: the cores this process may use, "
    "shared among workers).",
)
numerics_option = click.option(
    "--numerics",
    metavar=choices(["portable", "native"]),
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
    type=float,
    default=3600,
    show_default=True,
    help="Seconds after which a run (a trial) is stopped and recorded as timed-out.",
)
executor_options = _stack(
    click.option(
        "--executor",
        default="local",
        show_default=True,
        metavar="NAME",
        help="Where runs are placed: local (worker processes on this machine) or an installed "
        "executor ('benchbench list --kind executor'); each executor's own options follow "
        "below.",
    ),
    click.option(
        "--gpus-per-run",
        type=float,
        default=1.0,
        show_default=True,
        help="The share of a GPU each CUDA run gets: 0.5 puts two runs on every GPU. Runs "
        "that share a GPU are flagged busy and their times marked.",
    ),
)
"""``--executor`` and ``--gpus-per-run``: where runs (or trials) are placed; the chosen
executor's own options are flags of :class:`ExecutorCommand`."""

_EXECUTOR_OPTION = "executor_option__"
"""What the names of the flags made from executors' options start with, in a command's
keyword arguments (:func:`take_executor_options` gathers them)."""


class ExecutorCommand(click.Command):
    """A command that places runs: beside its own options, a flag for every option an
    installed executor declares (``--partition``, ``--address``...), made from the cached
    listing of the plugins (:mod:`benchbench.inventory.listing`: nothing is imported while
    nothing installed changed), with the ``-p`` modules given to the group. Values reach the
    API as given (text), so the API checks them as it checks a Python caller's."""

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        ours = [p for p in params if p.name != "help"]
        if "benchbench.executor_flags" not in ctx.meta:  # click asks several times a parse
            ctx.meta["benchbench.executor_flags"] = executor_flags(_modules(ctx))
        flags = ctx.meta["benchbench.executor_flags"]
        return [*ours, *flags, *(p for p in params if p.name == "help")]


def _modules(ctx: click.Context) -> tuple[str, ...]:
    """The ``-p`` modules given to the group (none while the docs are built)."""
    obj = ctx.find_root().obj
    return tuple(obj.get("modules", ())) if isinstance(obj, dict) else ()


def executor_flags(modules: tuple[str, ...]) -> list[click.Option]:
    """A flag for every option the installed executors declare (one per name, whichever
    executors share it)."""
    from ..inventory.listing import listing
    from ..plugins.config import PluginConfig

    try:
        rows = listing(PluginConfig.from_env(modules))["rows"]
    except BenchbenchError:  # a -p module that does not import: the command says so
        return []
    declared: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for row in rows:
        if row["kind"] != "executor":
            continue
        for option in row.get("options", []):
            first, owners = declared.setdefault(option["name"], (option, []))
            owners.append(row["name"])
    flags = []
    for name, (option, owners) in sorted(declared.items()):
        flag = option["type"] == "bool"
        flags.append(
            click.Option(
                [option["flag"], _EXECUTOR_OPTION + name],
                is_flag=flag,
                default=None,
                multiple=option["multiple"],
                metavar=None if flag else option["metavar"] or option["type"].upper(),
                help=f"With --executor {' or '.join(owners)}: {option['help']}",
            )
        )
    return flags


def take_executor_options(options: dict[str, Any]) -> dict[str, Any]:
    """``options`` with the executors' flags that were given gathered into one
    ``executor_options`` dict (the API's), by option name."""
    given = {}
    for key in [k for k in options if k.startswith(_EXECUTOR_OPTION)]:
        value = options.pop(key)
        if value not in (None, (), False):
            given[key.removeprefix(_EXECUTOR_OPTION)] = value
    options["executor_options"] = given
    return options


log_option = click.option(
    "--log",
    multiple=True,
    metavar="TRACKER",
    help="Log every run, live as it trains, to an experiment tracker (repeatable), NAME or "
    "NAME:TARGET: tensorboard, tensorboard:DIR, mlflow:TRACKING_URI, wandb:PROJECT or an "
    "installed plugin's.",
)
"""``--log``: experiment trackers (:mod:`benchbench.tracking`)."""


def sets_option(help: str) -> Decorator:
    """``--set NAME=VALUE`` (repeatable), with what it sets for this command."""
    return click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help=help)
