"""``benchbench data``: which tasks' data is here (``list``) and getting it (``fetch``)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click
from tabulate import tabulate

from .options import fail_cleanly, loading

_REGISTRY = click.option(
    "--registry",
    "registry_file",
    type=click.Path(path_type=Path),
    help="A data registry (JSON: task -> files, URLs, checksums) used instead of the tasks' "
    "own entries; default $BENCHBENCH_DATA_REGISTRY.",
)


@click.group("data")
def data_group() -> None:
    """The tasks' data: what is here, and fetching what is not."""


@data_group.command("list")
@click.argument("tasks", nargs=-1)
@_REGISTRY
@click.option("--json", "as_json", is_flag=True, help="One JSON object per task.")
@click.pass_context
@fail_cleanly
def list_data_command(
    ctx: click.Context, tasks: tuple[str, ...], registry_file: Path | None, as_json: bool
) -> None:
    """Every task's data (or the named tasks'): present, missing, damaged or included, its
    size, where it lives, and the command that fetches what is missing."""
    from ..api import data_status

    found = data_status(*tasks, registry_file=registry_file, **loading(ctx))
    if as_json:
        for row in found:
            click.echo(json.dumps(asdict(row)))
        return
    rows = [
        [
            s.task,
            s.state + (f" ({s.detail})" if s.detail else ""),
            s.size_text,
            s.where,
            s.fetch if s.state in ("missing", "damaged") and s.fetch else "",
        ]
        for s in found
    ]
    click.echo(tabulate(rows, headers=["task", "data", "size", "where", "to fetch"]))


@data_group.command("fetch")
@click.argument("tasks", nargs=-1, required=True)
@_REGISTRY
@click.pass_context
@fail_cleanly
def fetch_data_command(
    ctx: click.Context, tasks: tuple[str, ...], registry_file: Path | None
) -> None:
    """Download the named tasks' data into the data folder (--data-dir), checked against
    known checksums, from a mirror when one fails; archives are unpacked safely."""
    from ..api import fetch_data

    written = fetch_data(*tasks, registry_file=registry_file, **loading(ctx))
    for task in tasks:
        files = written.get(task)
        if files is None:
            click.echo(f"{task}: nothing to fetch (its data is included)")
        else:
            click.echo(f"{task}: {len(files)} files in {Path(files[0]).parent}")
