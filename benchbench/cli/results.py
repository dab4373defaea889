"""The commands that read, move and check stored results: ``leaderboard``, ``report``,
``export``, ``import`` and ``verify``."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from .options import choices, fail_cleanly, loading, store_options, timeout_option


@click.command("leaderboard")
@store_options
@click.option("--suite", help="Only this suite (a name such as quick or quick-tuned, or a file).")
@click.option(
    "--format",
    "fmt",
    metavar=choices(["plain", "markdown", "csv", "json"]),
    default="plain",
    show_default=True,
    help="Tables as printed, Markdown, or every column as CSV or JSON.",
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
@fail_cleanly
def leaderboard_command(
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
    from ..api import leaderboard_text

    shown = columns.split(",") if columns else None
    text = leaderboard_text(
        suite, format=fmt, columns=shown, wide=wide, out=out, storage=storage, sources=sources
    )
    click.echo(text, nl=False)


@click.command("export")
@click.option(
    "--to",
    "path",
    required=True,
    type=click.Path(path_type=Path),
    help="File to write (.jsonl, or .jsonl.gz compressed).",
)
@click.option("--suite", help="Only this suite's places, runs and tunings (default: everything).")
@store_options
@fail_cleanly
def export_command(path: Path, suite: str | None, out: Path, storage: str | None) -> None:
    """Write stored results, with their specs, curves, code identity and provenance, to one
    file that 'benchbench import' merges into another results database."""
    from ..api import export

    counts = export(path, suite=suite, out=out, storage=storage)
    click.echo(
        f"exported {counts['runs']} runs, {counts['places']} suite places and "
        f"{counts['tunings']} tunings to {path}",
        err=True,
    )


@click.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@store_options
@click.option(
    "--on-conflict",
    metavar=choices(["keep", "replace", "fail"]),
    default="keep",
    show_default=True,
    help="A run stored here with other numbers than the file's: keep the stored copy, "
    "replace it, or import nothing of the file.",
)
@fail_cleanly
def import_command(
    files: tuple[Path, ...], out: Path, storage: str | None, on_conflict: str
) -> None:
    """Merge exported result files into the results database, each file whole or not at
    all: a run already stored (same run id: same spec, code and numerics) with the same
    numbers is skipped, so importing twice adds nothing; one stored with other numbers is a
    conflict, listed, and --on-conflict decides. Times never conflict."""
    from ..api import import_results

    counts = import_results(*files, out=out, storage=storage, on_conflict=on_conflict)
    for path, n in zip(files, counts, strict=True):
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
        if n["conflicts"]:
            kinds = ", ".join(f"{k} {kind}" for kind, k in n["conflict_kinds"].items())
            done = "replaced" if on_conflict == "replace" else "kept the stored copies"
            click.echo(
                f"{path}: {n['conflicts']} runs stored here with other numbers ({kinds}); {done}:",
                err=True,
            )
            for line in n["conflict_list"]:
                click.echo(f"  {line}", err=True)
            if n["conflicts"] > len(n["conflict_list"]):
                click.echo(f"  ... {n['conflicts'] - len(n['conflict_list'])} more", err=True)


@click.command("report")
@click.argument("suite", required=False)
@store_options
@click.option(
    "--format",
    "fmt",
    metavar=choices(["html", "markdown", "both"]),
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
    from ..api import report

    written = report(
        suite,
        out=out,
        storage=storage,
        to=path,
        format=fmt,
        compare=compare,
        track=track,
        against=against,
        plugins=loading(ctx)["plugins"],
    )
    for file in written:
        click.echo(f"report written to {file}", err=True)


@click.command("verify")
@click.argument("source")
@click.option(
    "--sample",
    type=int,
    default=3,
    show_default=True,
    help="Runs drawn at random from those that ended ok or diverged.",
)
@click.option("--all", "every", is_flag=True, help="Every such run instead of a sample.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the draw.")
@click.option(
    "--any-code",
    is_flag=True,
    help="Rerun runs made by other code under the code installed here (a regression check).",
)
@click.option(
    "--workers",
    type=int,
    help="Reruns at once (default: as many as the cores hold at each run's thread count).",
)
@timeout_option
@click.pass_context
@fail_cleanly
def verify_command(
    ctx: click.Context,
    source: str,
    sample: int,
    every: bool,
    seed: int,
    any_code: bool,
    workers: int | None,
    timeout: float,
) -> None:
    """Train runs of a result set again here and compare what they measure.

    SOURCE is an exported file (leaderboards/default.jsonl.gz), an SQLite file or a database
    URL. Each run trains with its own spec, numerics mode and recorded thread count; portable
    CPU runs must repeat exactly (test accuracy, validation curve, steps, parameters), native
    and GPU runs within 0.02 accuracy; times are shown, not judged. A run made by other code
    than is installed here is not rerun unless --any-code. Exit status 1 unless every sampled
    run was rerun and agreed.
    """
    from ..api import verify
    from .text import verify_table

    outcome = verify(
        source,
        sample=None if every else sample,
        seed=seed,
        any_code=any_code,
        workers=workers,
        timeout=timeout,
        **loading(ctx),
    )
    click.echo(verify_table(outcome.rows))
    click.echo(outcome.summary())
    sys.exit(0 if outcome.ok else 1)
