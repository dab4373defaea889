"""What every ``benchbench`` command shares: one-line errors, plugin loading, the output
folder and results database options, the ``--set``/``--device``/``--threads`` parsing, and
the executor ``run`` and ``tune`` place their runs with (``--executor``/``--address``)."""

from __future__ import annotations

import json
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import BenchbenchError, BenchbenchWarning

if TYPE_CHECKING:
    from ..plugins.config import PluginConfig
    from ..plugins.manager import PluginManager
    from ..running.executors import Executor

DEFAULT_OUT = "benchbench-out"


def fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one line and exit status 2; Ctrl-C into a short note."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except BenchbenchError as exc:
            from ..storage.database import mask_credentials

            message = mask_credentials(" ".join(str(exc).split()))
            click.echo(f"benchbench: error: {message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("benchbench: interrupted; finished runs are stored", err=True)
            sys.exit(130)

    return wrapper


def show_warning(message: Any, category: type, *args: Any, **kwargs: Any) -> None:
    """Warnings of benchbench as one line each; others as Python shows them."""
    if issubclass(category, BenchbenchWarning):
        click.echo(f"benchbench: warning: {message}", err=True)
    else:
        _python_show_warning(message, category, *args, **kwargs)


_python_show_warning = warnings.showwarning


def plugin_config(ctx: click.Context) -> PluginConfig:
    """Which plugins to load: the -p modules, and the entry points unless disabled."""
    from ..plugins.config import PluginConfig

    return PluginConfig.from_env(ctx.obj["modules"])


def manager(ctx: click.Context) -> PluginManager:
    from ..plugins.manager import get_plugin_manager

    pm = get_plugin_manager(plugin_config(ctx))
    _ = pm.registry  # build it now, so broken plugins are reported before any work
    for plugin, error in pm.errors:
        click.echo(f"benchbench: warning: plugin {plugin!r} was not loaded: {error}", err=True)
    return pm


def prepare_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".benchbench-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BenchbenchError(
            f"output folder {out} is not writable ({exc.strerror or exc}); "
            "choose another with --out"
        ) from exc
    return out


def storage_url(out: Path, storage: str | None) -> str:
    from ..storage.store import default_url

    return storage or default_url(out)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BenchbenchError(f"--set takes NAME=VALUE, got {item!r}")
        parsed[name.strip()] = _parse_value(value.strip())
    return parsed


device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."
)
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    help="Torch/OpenMP threads per run (default: the cores this process may use, "
    "shared among workers).",
)


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--executor`` and ``--address``: where runs (or trials) are placed."""
    command = click.option(
        "--address",
        metavar="HOST:PORT",
        help="With --executor ray: the cluster's head (default: $RAY_ADDRESS, else a Ray "
        "instance started on this machine).",
    )(command)
    return click.option(
        "--executor",
        type=click.Choice(["local", "ray"]),
        default="local",
        show_default=True,
        help="local: worker processes on this machine; ray: tasks on a Ray cluster "
        "(pip install 'benchbench[ray]').",
    )(command)


def make_executor(
    ctx: click.Context,
    kind: str,
    address: str | None,
    device: str,
    runs: int | None,
    timeout: float,
    threads: int | None,
) -> tuple[Executor, str]:
    """The executor the options name, placing at most ``runs`` runs at once (default: one
    locally, as many as the cluster holds on Ray), and the device the runs will use:
    ``auto`` and ``cuda`` are resolved where they train (this machine, or the cluster)."""
    if kind == "local":
        from ..running.execute import resolve_device
        from ..running.executors import ProcessPoolExecutor

        if address:
            raise BenchbenchError("--address names a Ray cluster: add --executor ray")
        executor = ProcessPoolExecutor(
            plugin_config(ctx), ctx.obj["data_dir"], runs or 1, timeout, threads
        )
        return executor, resolve_device(device)
    from ..running.executors.ray import RayExecutor

    ray = RayExecutor(
        plugin_config(ctx), ctx.obj["data_dir"], address, timeout, threads, slots=runs
    )
    return ray, ray.use_device(device)


def results_store(out: Path, storage: str | None) -> Any:
    """The results database of --out or --storage, for reading; one clear line if none."""
    from ..storage.store import Store

    if storage is None and not (out / "benchbench.db").exists():
        raise BenchbenchError(
            f"no results database in {out}: pass the --out folder of 'benchbench run' "
            "(or --storage URL)"
        )
    return Store(storage_url(out, storage), writable=False)


STORE_OPTIONS = (
    click.option(
        "--out",
        type=click.Path(path_type=Path),
        default=DEFAULT_OUT,
        show_default=True,
        help="Folder holding benchbench.db.",
    ),
    click.option("--storage", metavar="URL", help="Results database URL (instead of --out)."),
)
