"""The commands that read and move stored results: ``leaderboard``, ``export``, ``import``."""

from __future__ import annotations

import contextlib
from pathlib import Path

import click

from .cli_support import (
    STORE_OPTIONS,
    fail_cleanly,
    prepare_out,
    results_store,
    storage_url,
)


@click.command("leaderboard")
@STORE_OPTIONS[0]
@STORE_OPTIONS[1]
@click.option("--suite", help="Only this suite (a name such as quick or quick-tuned, or a file).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["plain", "markdown", "csv", "json"]),
    default="plain",
    show_default=True,
)
@click.option("--wide", is_flag=True, help="Every column (files always have every column).")
@click.option("--columns", metavar="KEYS", help="Columns to show, e.g. acc,ttt,latency.")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="FILE|URL",
    help="Build it from these instead (repeatable): exported result files, databases.",
)
@click.pass_context
@fail_cleanly
def leaderboard_command(
    ctx: click.Context,
    out: Path,
    storage: str | None,
    suite: str | None,
    fmt: str,
    wide: bool,
    columns: str | None,
    sources: tuple[str, ...],
) -> None:
    """Print the ranked leaderboard of stored results, as 'benchbench run' does: mean test
    accuracy ± 95% interval over seeds, change against each track's baseline, time-to-target,
    training time, tuning, seeds; --wide adds calibration, throughput, data wait, size,
    latency and more. Columns: rank, candidate, acc, delta, ece, ttt, train, samples, wait,
    params, size, latency, source, tuning, spread, hparams, seeds."""
    from . import leaderboard
    from .results_io import merged

    shown = leaderboard.WIDE if wide else leaderboard.NARROW
    if columns:
        shown = leaderboard.column_keys(columns)
    opened = merged(sources) if sources else contextlib.nullcontext(results_store(out, storage))
    with opened as store:
        key = store.find_suite(suite) if suite else None
        click.echo(leaderboard.text(store, key, fmt, shown), nl=False)


@click.command("export")
@click.option(
    "--to",
    "path",
    required=True,
    type=click.Path(path_type=Path),
    help="File to write (.jsonl, or .jsonl.gz compressed).",
)
@click.option("--suite", help="Only this suite's places, runs and tunings (default: everything).")
@STORE_OPTIONS[0]
@STORE_OPTIONS[1]
@fail_cleanly
def export_command(path: Path, suite: str | None, out: Path, storage: str | None) -> None:
    """Write stored results, with their specs, curves, code identity and provenance, to one
    file that 'benchbench import' merges into another results database."""
    from .results_io import export

    store = results_store(out, storage)
    key = store.find_suite(suite) if suite else None
    counts = export(store, path, key)
    click.echo(
        f"exported {counts['runs']} runs, {counts['places']} suite places and "
        f"{counts['tunings']} tunings to {path}",
        err=True,
    )


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@STORE_OPTIONS[0]
@STORE_OPTIONS[1]
@fail_cleanly
def import_command(files: tuple[Path, ...], out: Path, storage: str | None) -> None:
    """Merge exported result files into the results database: a run already stored (same
    run id: same spec, same code) is skipped, so importing twice adds nothing."""
    from .results_io import import_file, read
    from .store import Store

    for path in files:
        for _ in read(path):  # check the whole file before changing the database
            pass
    store = Store(storage_url(prepare_out(out) if storage is None else out, storage))
    for path in files:
        n = import_file(store, path)
        kept = (
            f"; {n['places_kept']} places kept as they were (their runs differ)"
            if n["places_kept"]
            else ""
        )
        click.echo(
            f"{path}: {n['runs']} runs added, {n['runs_present']} already stored; "
            f"{n['places']} suite places added{kept}",
            err=True,
        )
