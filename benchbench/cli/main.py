"""The ``benchbench`` group: the options every command shares (``-p``, ``--data-dir``), the
commands of :mod:`.run`, :mod:`.tune`, :mod:`.results`, :mod:`~benchbench.cli.plugins` and
:mod:`.profile`, and the console-script entry point. Errors a user can cause end with one line on
stderr and exit status 2."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

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


class OneLineGroup(click.Group):
    """The ``benchbench`` group: a usage error (an unknown option, a value that is not a
    number, a missing argument) is one ``benchbench: error:`` line and exit status 2, like
    every other error a user can cause, instead of click's usage block."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Run the command line; a usage error ends it with one line and exit status 2."""
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            returned = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
            message = exc.format_message().rstrip(".")
            click.echo(f"benchbench: error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("benchbench: interrupted", err=True)
            sys.exit(130)
        sys.exit(returned if isinstance(returned, int) else 0)  # ctx.exit(N) returns N


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
