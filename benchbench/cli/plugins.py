"""``benchbench plugin``: for plugin authors. ``check`` runs the conformance checks of
:mod:`benchbench.authoring.conformance` as a pass/fail table; ``new`` writes a ready-to-publish
package (:mod:`benchbench.authoring.scaffold`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import BenchbenchError
from ..spec import KIND_NAMES
from .options import fail_cleanly, plugin_config


@click.group("plugin")
def plugin_group() -> None:
    """Write, check and publish plugins."""


@plugin_group.command("check")
@click.argument("target", required=False)
@click.option("-p", "module", metavar="MODULE", help="Check this plugin module (not installed).")
@click.option("--task", help="Run non-task components on this task instead of a probe task.")
@click.pass_context
@fail_cleanly
def check_command(
    ctx: click.Context, target: str | None, module: str | None, task: str | None
) -> None:
    """Run the conformance checks on every component of TARGET (an installed distribution
    or plugin) or of -p MODULE: contract, hyperparameters, a short run, same seed same
    numbers, global state left alone, task data. Exit status 1 when any fails."""
    from tabulate import tabulate
    from tqdm import tqdm

    from ..authoring.conformance import CheckFailed, CheckSkipped, checks_for, probe_manager

    if bool(target) == bool(module):
        raise BenchbenchError("name one plugin: 'benchbench plugin check DIST' or '-p MODULE'")
    config = plugin_config(ctx)
    modules = (*config.modules, module) if module else config.modules
    pm = probe_manager(modules, autoload=config.autoload)
    for plugin, error in pm.errors:
        click.echo(f"benchbench: warning: plugin {plugin!r} was not loaded: {error}", err=True)
    checks = checks_for(pm, module or target, task)
    rows, failed = [], 0
    for check in tqdm(checks, unit="check", file=sys.stderr, dynamic_ncols=True, leave=False):
        try:
            check()
            outcome, detail = "pass", ""
        except CheckSkipped as exc:
            outcome, detail = "skip", str(exc)
        except CheckFailed as exc:
            outcome, detail = "FAIL", str(exc).split(": ", 1)[1]
            failed += 1
        subject = check.subject
        rows.append((f"{subject.kind} {subject.name}", check.check, outcome, _wrap(detail)))
    click.echo(
        tabulate(rows, headers=("component", "check", "result", "detail"), tablefmt="simple")
    )
    components = len({r[0] for r in rows})
    skipped = sum(r[2] == "skip" for r in rows)
    click.echo(
        f"\n{len(rows) - failed - skipped} passed, {failed} failed, {skipped} skipped: "
        f"{len(rows)} checks of {components} component(s) from {module or target}"
    )
    if failed:
        sys.exit(1)


def _wrap(text: str, width: int = 70) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    type=click.Choice(KIND_NAMES),
    help="The kind of component the package brings.",
)
@click.option(
    "--to",
    "into",
    type=click.Path(path_type=Path, file_okay=False),
    default=".",
    show_default=True,
    help="Folder to create the package in.",
)
@fail_cleanly
def new_command(name: str, kind: str, into: Path) -> None:
    """Write a ready-to-publish package for a component NAME of --kind: pyproject with the
    entry point, one working component, tests using benchbench.authoring.testing, a README."""
    from ..authoring.scaffold import new_plugin

    folder = new_plugin(name, kind, into)
    click.echo(f"wrote {folder}")
    click.echo(
        f"next: pip install -e '{folder}[test]' && (cd {folder} && pytest) && "
        f"benchbench plugin check {folder.name}"
    )
