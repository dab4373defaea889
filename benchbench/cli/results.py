"""The commands that read and move stored results: ``leaderboard``, ``export``, ``import``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import click

from ..errors import BenchbenchError
from .options import (
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
    from ..ranking import leaderboard
    from ..storage.files import merged

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
    from ..storage.files import export

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
    from ..storage.files import import_file, read
    from ..storage.store import Store

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


@click.command("report")
@click.argument("suite", required=False)
@STORE_OPTIONS[0]
@STORE_OPTIONS[1]
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown", "both"]),
    default="html",
    show_default=True,
    help="One self-contained HTML file, Markdown with PNG files beside it, or both.",
)
@click.option("--to", "path", type=click.Path(path_type=Path), help="File to write.")
@click.option("--compare", nargs=2, metavar="A B", help="Two candidates head to head.")
@click.option("--track", help="With --compare: only this track's tasks.")
@click.option("--against", metavar="FILE|URL", help="Another result set, side by side.")
@click.pass_context
@fail_cleanly
def report_command(
    ctx: click.Context,
    suite: str | None,
    out: Path,
    storage: str | None,
    fmt: str,
    path: Path | None,
    compare: tuple[str, str] | None,
    track: str | None,
    against: str | None,
) -> None:
    """Write a comparison report of SUITE (the only suite stored, when left out): per track
    the ranked tables, a forest plot against the baseline, learning curves, accuracy against
    latency and size, the data-loading split, tuning curves; across tasks mean ranks, the
    Friedman test with a critical-difference diagram and performance profiles. --compare A B
    puts two candidates head to head (paired by seed, Holm-adjusted); --against sets this
    result set beside another (an exported file or a database)."""
    from .. import reporting as report
    from ..ranking import leaderboard
    from ..storage.files import merged
    from .options import manager

    store = results_store(out, storage)
    key = _only_suite(store, suite)
    name = store.suite_names()[key][0]
    targets = {e.name: e.cls.target_accuracy for e in manager(ctx).registry if e.kind == "task"}
    if compare:
        sections = report.compare_sections(store, key, *compare, track, targets)
        title = f"benchbench: {compare[0]} against {compare[1]} ({name})"
    elif against:
        with merged([against]) as other:
            other_key = other.find_suite(name)
            sections = report.against_sections(store, other, key, other_key, against)
        title = f"benchbench: {name} against {against}"
    else:
        url = storage_url(out, storage)
        sections = report.suite_sections(store, key, targets, url)
        title = f"benchbench report: {name}"
    frame = store.frame(key)
    stamp = [leaderboard.provenance(store.results(set(frame["run_id"])))] if len(frame) else []
    code = leaderboard.code_note(frame.get("code", ()), "plain").splitlines()
    if code:
        sections.append(report.Section("Provenance", code[0], notes=[c.strip() for c in code[1:]]))
    target = path or out / "reports" / f"{name}.{'md' if fmt == 'markdown' else 'html'}"
    for written in report.write_report(sections, title, stamp, fmt, target):
        click.echo(f"report written to {written}", err=True)


def _only_suite(store: Any, suite: str | None) -> str:
    """The suite named, or the only one stored; one clear line otherwise."""
    if suite:
        return store.find_suite(suite)
    names = store.suite_names()
    if len(names) != 1:
        listing = ", ".join(n for n, _ in names.values()) or "none"
        raise BenchbenchError(f"name the suite to report on (stored suites: {listing})")
    return next(iter(names))
