"""Comparison reports: a results database turned into a page people would rather read.

:mod:`~benchbench.reporting.data` gathers the tables (pandas), :mod:`.stats` holds the statistics,
:mod:`.figures` draws (matplotlib), :mod:`.render` writes HTML or Markdown from templates. This
module says what the report contains, section by section, and the sentence each section opens with.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd

from ..arguments import checked, choice
from ..errors import BenchbenchError, one_line
from ..paths import DEFAULT_OUT, PathLike, file_name
from ..ranking import leaderboard
from . import data, figures
from .render import Figure, Section, Table, write

CAPTIONS = {
    "forest": "Change of test accuracy against the track's baseline, in points, with its 95% "
    "Welch interval over seeds: an interval crossing zero is not a difference the seeds can show.",
    "seconds": "Validation accuracy against training seconds: mean over seeds, band from the "
    "worst to the best seed; dashed: the task's target; dot: median time-to-target.",
    "steps": "The same curves against optimizer steps, which do not depend on the machine.",
    "pareto": "Accuracy against inference latency and model size: red, bold names: the Pareto "
    "front (nothing else is both cheaper and better).",
    "loader": "Where training time went: computing, or waiting for batches (an input-bound "
    "candidate is slowed by its data path, not its model).",
    "tuning": "Tuning: best validation accuracy found so far against trial number; a curve "
    "still rising at its end was stopped before it converged.",
    "cd": "Critical-difference diagram (Demšar 2006): mean ranks over tasks; candidates joined "
    "by a bar are not separable by the Nemenyi test at 5%.",
    "profiles": "Performance profiles (AlgoPerf): the share of tasks on which a candidate is "
    "within tau of the best; left on test accuracy, right on time-to-target (never reached "
    "counts as infinitely slow). Lines are offset by a hair so that equal ones stay visible.",
}
"""The sentence under each figure: what a reader learns from it."""


def _separable(row: pd.Series) -> str:
    if row["rank"] == 1:
        return "leader"
    if row["separable_from_leader"] is None or pd.isna(row["separable_from_leader"]):
        return "-"
    return "yes" if row["separable_from_leader"] else "not separable"


SEPARABLE = leaderboard.Column(
    "separable",
    "separable from #1",
    "separable from #1: its 95% interval does not overlap the leader's",
    _separable,
)


def _pct(value: Any, ci: Any = None, signed: bool = False) -> str:
    number = None if value is None or pd.isna(value) else float(value)
    return leaderboard.percent(number, ci, signed)


def track_sections(report: data.TrackReport) -> list[Section]:
    """The sections of one track: its tables and figures, then its across-task statistics."""
    title = f"{report.suite_name} / {report.track}"
    board = report.board
    keys = ["rank", "candidate", "acc", "delta", "separable", "ttt", "train", "seeds"]
    if "peak_memory_mb" in board and board["peak_memory_mb"].notna().any():  # GPU runs
        keys[-1:-1] = ["size", "latency", "memory"]
    if board["tuning_trials"].notna().any():
        keys += ["tuning", "spread", "hparams"]
    columns = [SEPARABLE if k == "separable" else leaderboard.column(k) for k in keys]
    tables = [
        Table(
            f"{task}: ranked by mean test accuracy over seeds",
            [c.header for c in columns],
            [[c.show(r) for c in columns] for _, r in board[board["task"] == task].iterrows()],
        )
        for task in report.tasks
    ]
    shown = [
        (partial(figures.forest, report), CAPTIONS["forest"]),
        (partial(figures.curves, report, "train_seconds"), CAPTIONS["seconds"]),
        (partial(figures.curves, report, "step"), CAPTIONS["steps"]),
        (partial(figures.pareto, report), CAPTIONS["pareto"]),
        (partial(figures.loader, report), CAPTIONS["loader"]),
        (partial(figures.tuning, report), CAPTIONS["tuning"]),
    ]
    verdicts = [
        f"{r['task']} / {r['candidate']}: {r['loader_verdict']}"
        for _, r in board.iterrows()
        if r["loader_verdict"] == "input-bound"
    ]
    main = Section(
        title,
        f"Tasks: {', '.join(report.tasks)}. Rows rank by mean test accuracy; a row whose seeds "
        "did not all end ok ranks below every complete one. 'not separable': its 95% interval "
        "overlaps the leader's.",
        tables,
        [Figure(caption, draw) for draw, caption in shown],
        [
            ". ".join(c.note for c in columns if c.note) + ".",
            *(
                verdicts
                or ["Every candidate is compute-bound: the data path is not the bottleneck."]
            ),
        ],
    )
    return [main, *across_sections(report, title)]


def across_sections(report: data.TrackReport, title: str) -> list[Section]:
    """Mean rank, Friedman and Nemenyi, performance profiles: one section, when the track
    has at least two tasks."""
    if report.areas is None or len(report.tasks) < 2:
        return []
    areas = report.areas
    table = Table(
        "Across tasks: mean rank (1 = best) and the area under each performance profile "
        "(1 = always the best, 0 = never within the widest tolerance)",
        ["rank", "candidate", "mean rank", "accuracy profile area", "time profile area"],
        [
            [
                str(i + 1),
                name,
                f"{r['mean_rank']:.2f}",
                f"{r['accuracy_area']:.3f}",
                f"{r['time_area']:.3f}",
            ]
            for i, (name, r) in enumerate(areas.iterrows())
        ],  # fmt: skip
    )
    if report.friedman is None:
        friedman = "Friedman's test needs at least 2 complete tasks and 3 candidates."
    else:
        statistic, p = report.friedman
        friedman = (
            f"Friedman's test over {len(report.tasks)} tasks: chi-square {statistic:.2f}, "
            f"p = {p:.3g}" + (" (the ranks differ)." if p < 0.05 else
                              " (no evidence the ranks differ; more tasks would tell).")
        )  # fmt: skip
    shown = [
        (partial(figures.critical_difference, report), CAPTIONS["cd"]),
        (partial(figures.profiles, report), CAPTIONS["profiles"]),
    ]
    return [
        Section(
            f"{title}: across tasks",
            "Tasks are the blocks: each candidate's mean test accuracy per task is ranked, the "
            "ranks averaged.",
            [table],
            [Figure(caption, draw) for draw, caption in shown],
            [friedman],
        )
    ]


def suite_sections(
    store: Any, key: str, targets: dict[str, float], storage_url: str | None = None
) -> list[Section]:
    """Every section of a suite's report."""
    sections = []
    for report in data.suite_report(store, key, targets, storage_url):
        sections.extend(track_sections(report))
    return sections


def compare_sections(
    store: Any, key: str, a: str, b: str, track: str | None, targets: dict[str, float]
) -> list[Section]:
    """Candidates ``a`` and ``b`` head to head on every task they share (of ``track``)."""
    frame = store.frame(key)
    table = data.compare(frame, a, b, track)
    rows = [
        [r["task"], str(r["n"]), _pct(r["mean"], r["ci95"], signed=True),
         "-" if pd.isna(r["p"]) else f"{r['p']:.3g}",
         "-" if pd.isna(r["p_holm"]) else f"{r['p_holm']:.3g}", r["verdict"]]
        for _, r in table.iterrows()
    ]  # fmt: skip
    section = Section(
        f"{a} (A) against {b} (B)",
        "Per task, the difference A - B of test accuracy over the seeds both finished, paired "
        "by seed (same data order and initialisation), with its 95% t-interval; p from the "
        "paired t-test, Holm-adjusted across the tasks; the verdict uses the adjusted p at 5%.",
        [
            Table(
                "Paired differences",
                ["task", "n", "A - B pp ± 95%", "p", "p (Holm)", "verdict"],
                rows,
            )
        ],  # fmt: skip
    )
    for report in data.suite_report(store, key, targets):
        if track is not None and report.track != track:
            continue
        chosen = report.board["candidate"].isin([a, b])
        if chosen.sum() < 2:
            continue
        report.board = report.board[chosen]
        report.curves = report.curves[report.curves["candidate"].isin([a, b])]
        report.tasks = list(dict.fromkeys(report.board["task"]))
        section.figures.append(
            Figure(
                f"{report.track}: A and B overlaid, validation accuracy against training seconds",
                partial(figures.curves, report, "train_seconds"),
            )
        )
    if table.empty:
        section.notes.append(f"No task has ok runs of both {a!r} and {b!r}.")
    return [section]


def against_sections(mine: Any, other: Any, key: str, other_key: str, label: str) -> list[Section]:
    """The same candidates in two result sets side by side."""
    table = data.against(
        data.accuracies(mine.frame(key), mine.tunings(key)),
        data.accuracies(other.frame(other_key), other.tunings(other_key)),
    )
    rows = [
        [r["track"], r["task"], r["candidate"], _pct(r["mine"]), _pct(r["other"]),
         _pct(r["difference"], r["ci95"], signed=True), "yes" if r["beyond_noise"] else "no",
         "-" if r["train_seconds_ratio"] is None else f"{r['train_seconds_ratio']:.2f}x"]
        for _, r in table.iterrows()
    ]  # fmt: skip
    return [
        Section(
            f"This result set against {label}",
            "Each row is one candidate on one task in both result sets: the difference of mean "
            "test accuracy with its 95% Welch interval (runs of two result sets are not "
            "paired), and the ratio of training seconds (this / other).",
            [
                Table(
                    "Side by side",
                    [
                        "track",
                        "task",
                        "candidate",
                        "this %",
                        "other %",
                        "difference pp ± 95%",
                        "beyond noise",
                        "train s ratio",
                    ],
                    rows,
                )
            ],  # fmt: skip
            notes=[] if rows else ["The two result sets share no candidate of this suite."],
        )
    ]


def write_report(
    sections: list[Section], title: str, stamp: list[str], fmt: str, to: Path
) -> list[Path]:
    """Write the sections as ``fmt`` (html, markdown, or both: the Markdown beside the HTML
    file ``to``, with the same stem) (see :func:`.render.write`)."""
    to = Path(to)
    html_path = to if fmt in ("html", "both") else None
    markdown_path = to.with_suffix(".md") if fmt in ("markdown", "both") else None
    return write(sections, title, stamp, html_path, markdown_path)


REPORT_FORMATS = ("html", "markdown", "both")
"""What :func:`~benchbench.report` writes: one HTML file, Markdown with PNG figures, or both."""


@checked(format=choice(REPORT_FORMATS))
def report(
    suite: str | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    to: PathLike | None = None,
    format: str = "html",
    compare: tuple[str, str] | None = None,
    track: str | None = None,
    against: str | None = None,
    plugins: Sequence[str] = (),
) -> list[Path]:
    """Write a comparison report of ``suite`` (the only suite stored, when None) and return
    the files written.

    Per track: ranked tables, a forest plot against the baseline, learning curves,
    accuracy against latency and size, the data-loading split, tuning curves; across tasks:
    mean ranks, Friedman's test with a critical-difference diagram, performance profiles.
    ``compare=(A, B)`` sets two candidates head to head (paired by seed, Holm-adjusted,
    only ``track``'s tasks when given); ``against`` sets the result set beside another (an
    exported file or a database). ``format``: ``html`` (one self-contained file),
    ``markdown`` (PNG figures beside it) or ``both``; ``to`` defaults to
    ``OUT/reports/SUITE.html`` (``.md``).
    """
    from ..plugins.manager import load_plugins
    from ..storage.files import merged
    from ..storage.store import open_results, storage_url

    store = open_results(Path(out), storage)
    key = store.only_suite(suite)
    name = store.suite_names()[key][0]
    tasks = load_plugins(plugins).registry.entries["task"].values()
    targets = {e.name: e.cls.target_accuracy for e in tasks}
    to = (
        Path(to)
        if to
        else Path(out) / "reports" / f"{file_name(name)}.{'md' if format == 'markdown' else 'html'}"
    )
    if compare:
        sections = compare_sections(store, key, *compare, track, targets)
        title = f"benchbench: {compare[0]} against {compare[1]} ({name})"
    elif against:
        with merged([against]) as other:
            other_key = other.find_suite(name)
            sections = against_sections(store, other, key, other_key, against)
        title = f"benchbench: {name} against {against}"
    else:
        sections = suite_sections(store, key, targets, storage_url(Path(out), storage))
        title = f"benchbench report: {name}"
    contexts, codes = store.place_summary(key)
    stamp = [leaderboard.origin_line(contexts)] if contexts else []
    code = leaderboard.code_note(leaderboard.codes_seen(codes), "plain").splitlines()
    if code:
        sections.append(Section("Provenance", code[0], notes=[c.strip() for c in code[1:]]))
    try:
        return write_report(sections, title, stamp, format, to)
    except (OSError, ValueError) as exc:  # a read-only folder, a name the OS refuses
        detail = getattr(exc, "strerror", None) or one_line(exc, 120)
        raise BenchbenchError(f"cannot write the report to {to}: {detail}") from exc
