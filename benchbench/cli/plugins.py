"""What is installed and how to add to it: ``list`` and ``show`` for everyone, and
``plugin check`` (the conformance checks as a pass/fail table) and ``plugin new`` (a
ready-to-publish package) for plugin authors."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import click

from ..inventory.listing import LISTED_KINDS
from ..spec import KIND_NAMES
from .options import choices, fail_cleanly, loading


@click.command("list")
@click.option("--kind", metavar=choices(LISTED_KINDS), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
@fail_cleanly
def list_command(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """Every registered component and suite, with the plugin and distribution it came from;
    'benchbench show NAME' gives one's hyperparameters, defaults and allowed values."""
    from tabulate import tabulate

    from ..api import catalog

    rows = catalog(kind, plugins=loading(ctx)["plugins"]).to_dict("records")
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [[r["kind"], r["name"], r["summary"], r["from"]] for r in rows]
    click.echo(tabulate(table, headers=["kind", "name", "summary", "from"], tablefmt="simple"))


@click.command("show")
@click.argument("name")
@click.pass_context
@fail_cleanly
def show_command(ctx: click.Context, name: str) -> None:
    """What NAME is and how to set it: a component's summary and origin, its hyperparameters
    (default, allowed values, search space, meaning); for a task its classes, target and
    budget. 'benchbench show loop' lists the training loop's settings (lr, batch_size, ...)."""
    from ..api import describe

    click.echo(describe(name, plugins=loading(ctx)["plugins"]))


@click.group("plugin")
def plugin_group() -> None:
    """Write, check and publish plugins."""


@plugin_group.command("check")
@click.argument("target", required=False)
@click.option("-p", "module", metavar="MODULE", help="Check this plugin module (not installed).")
@click.option("--task", help="Run non-task components on this task instead of a probe task.")
@click.option(
    "--timeout",
    type=float,
    default=300,
    show_default=True,
    help="Seconds one check may take before it counts as a hang.",
)
@click.pass_context
@fail_cleanly
def check_command(
    ctx: click.Context, target: str | None, module: str | None, task: str | None, timeout: float
) -> None:
    """Run the conformance checks on every component of TARGET (an installed distribution
    or plugin) or of -p MODULE: contract, hyperparameters, a short run, same seed same
    numbers, global state left alone, task data; in a worker process, each within
    --timeout. Exit status 1 when any fails."""
    from tabulate import tabulate

    from ..api import check_plugin

    outcomes = check_plugin(target, module=module, task=task, timeout=timeout, **loading(ctx))
    rows = [(o.component, o.check, o.result, _wrap(o.detail)) for o in outcomes]
    click.echo(
        tabulate(rows, headers=("component", "check", "result", "detail"), tablefmt="simple")
    )
    failed = sum(o.result == "FAIL" for o in outcomes)
    skipped = sum(o.result == "skip" for o in outcomes)
    components = len({o.component for o in outcomes})
    click.echo(
        f"\n{len(rows) - failed - skipped} passed, {failed} failed, {skipped} skipped: "
        f"{len(rows)} checks of {components} component(s) from {module or target}"
    )
    sys.exit(1 if failed else 0)


def _wrap(text: str, width: int = 70) -> str:
    return "\n".join(textwrap.wrap(text, width))


@plugin_group.command("new")
@click.argument("name")
@click.option(
    "--kind",
    required=True,
    metavar=choices([*KIND_NAMES, "executor"]),
    help="The kind of component the package brings, or an executor.",
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
    """Write a ready-to-publish package for a component (or executor) NAME of --kind:
    pyproject with the entry point, one working component, tests using benchbench.testing,
    a README."""
    from ..api import new_plugin

    folder = new_plugin(name, kind=kind, to=into)
    click.echo(f"wrote {folder}")
    click.echo(
        f"next: pip install -e '{folder}[test]' && (cd {folder} && pytest) && "
        f"benchbench plugin check {folder.name}"
    )
