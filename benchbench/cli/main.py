"""The ``benchbench`` group: the options every command shares (``-p``, ``--data-dir``), the
commands of :mod:`.run`, :mod:`.tune`, :mod:`.results`, :mod:`~benchbench.cli.plugins` and
:mod:`.profile`, and the console-script entry point. Errors a user can cause end with one line on
stderr and exit status 2."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import show_warnings_as_lines
from .data import data_group
from .plugins import list_command, plugin_group, show_command
from .profile import profile_command
from .results import (
    export_command,
    import_command,
    leaderboard_command,
    report_command,
    verify_command,
)
from .run import run_command, run_one_command
from .tune import tune_command


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-p",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Load a plugin module (repeatable); -p no:NAME blocks an installed plugin.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where tasks read and cache data (default: $BENCHBENCH_DATA or ~/.cache/benchbench).",
)
@click.version_option(package_name="benchbench")
@click.pass_context
def cli(ctx: click.Context, plugins: tuple[str, ...], data_dir: Path | None) -> None:
    """benchbench: which training technique actually helps, on which data, at what cost.

    Plugins come from the 'benchbench' entry-point group; set
    BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD=1 to load only the -p modules you name.
    """
    ctx.obj = {"modules": plugins, "data_dir": data_dir}
    show_warnings_as_lines()


for _command in (
    list_command,
    show_command,
    run_command,
    tune_command,
    run_one_command,
    profile_command,
    leaderboard_command,
    report_command,
    export_command,
    import_command,
    verify_command,
    data_group,
    plugin_group,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli()
