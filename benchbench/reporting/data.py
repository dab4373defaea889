"""What a comparison report shows, as pandas tables: gathered from a results database.

:func:`suite_report` gathers, per track of a suite, the ranked leaderboard rows (each marked
whether its interval overlaps the leader's), the learning curves averaged over seeds on a
common grid, the data-loading split, the tuning curves of tuned places, and across the
track's tasks the mean ranks, Friedman's test, the Nemenyi p-values and the performance
profiles. :func:`compare` and :func:`against` are the head-to-head tables.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..ranking import rank
from . import stats

GRID_POINTS = 60
CURVE_SEEDS = 100
"""Seeds per candidate whose curves the learning-curve figures average (the lowest seeds):
a report's cost stays bounded however many seeds are stored, and the mean of 100 curves
is as smooth as that of 10,000."""
ACCURACY_TAUS = np.linspace(0.0, 0.10, 101)
"""Accuracy profile tolerances: 0 to 10 points below the best."""
TIME_TAUS = np.linspace(1.0, 4.0, 121)
"""Time-to-target profile tolerances: 1x to 4x the fastest (AlgoPerf's range)."""


@dataclass
class TrackReport:
    """Everything the report shows for one track of one suite."""

    suite_name: str
    track: str
    tasks: list[str]
    board: pd.DataFrame
    curves: pd.DataFrame
    """task, candidate, axis (train_seconds or step), x, mean, low, high (over seeds)."""
    targets: dict[str, float]
    varies_arch: bool
    ranks: pd.Series | None = None
    friedman: tuple[float, float] | None = None
    nemenyi: pd.DataFrame | None = None
    accuracy_profile: pd.DataFrame | None = None
    time_profile: pd.DataFrame | None = None
    areas: pd.DataFrame | None = None
    tuning: pd.DataFrame = field(default_factory=pd.DataFrame)
    """task, candidate, trial, best (best validation accuracy so far)."""


def suite_report(
    store: Any, key: str, targets: dict[str, float], storage_url: str | None = None
) -> list[TrackReport]:
    """The report of one suite of ``store``: one :class:`TrackReport` per track. ``targets``
    maps task names to target accuracies (tasks not installed here have no target line);
    ``storage_url`` lets tuning curves be read from the Optuna studies beside the results."""
    board = rank.build_groups(store.groups(key), store.tunings(key))
    if board.empty:
        return []
    drawn = store.sample_places(key, CURVE_SEEDS)
    results = {r.run_id: r for r in store.results(set(drawn["run_id"]))}
    reports = []
    for track, rows in board.groupby("track", sort=False):
        runs = drawn[drawn["track"] == track]
        report = TrackReport(
            suite_name=str(rows["suite_name"].iloc[0]),
            track=str(track),
            tasks=list(dict.fromkeys(rows["task"])),
            board=_mark_separable(rows.reset_index(drop=True)),
            curves=_curves(runs, results),
            targets={t: targets[t] for t in dict.fromkeys(rows["task"]) if t in targets},
            varies_arch=runs["arch"].nunique() > 1,
        )
        _across_tasks(report)
        report.tuning = _tuning_curves(store.tunings(key), str(track), storage_url)
        reports.append(report)
    return reports


def _mark_separable(rows: pd.DataFrame) -> pd.DataFrame:
    """Add ``separable_from_leader``: False where a row's 95% interval overlaps the interval
    of its task's rank-1 row (that row itself included), so a reader sees which of the top
    rows the seeds cannot tell apart."""
    marks = []
    for _, row in rows.iterrows():
        leaders = rows[(rows["task"] == row["task"]) & (rows["rank"] == 1)]
        mean = row["test_accuracy_mean"]
        if leaders.empty or mean is None or pd.isna(mean):
            marks.append(None)
            continue
        lead = leaders.iloc[0]
        marks.append(
            not stats.overlaps(
                mean,
                _number(row["test_accuracy_ci95"]),
                lead["test_accuracy_mean"],
                _number(lead["test_accuracy_ci95"]),
            )
        )
    return rows.assign(separable_from_leader=marks)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _curves(runs: pd.DataFrame, results: dict[str, Any]) -> pd.DataFrame:
    """Validation accuracy against training seconds and against steps, per task and
    candidate: each seed's curve interpolated onto a common grid (from the latest first eval
    point to the earliest last one, so no seed is extrapolated: a method that pretrains
    first starts where its first evaluation was), then the mean and the min-max band."""
    rows = []
    for (task, candidate), places in runs.groupby(["task", "candidate"], sort=False):
        curves = [results[i].curve for i in places["run_id"] if results[i].curve]
        for axis in ("train_seconds", "step"):
            if not curves:
                continue
            start = max(c[0][axis] for c in curves)
            end = min(c[-1][axis] for c in curves)
            grid = np.linspace(start, end, GRID_POINTS) if end > start else np.array([end])
            seeds = np.array(
                [
                    np.interp(grid, [p[axis] for p in c], [p["val_accuracy"] for p in c])
                    for c in curves
                ]
            )
            rows.append(
                pd.DataFrame(
                    {
                        "task": task,
                        "candidate": candidate,
                        "axis": axis,
                        "x": grid,
                        "mean": seeds.mean(axis=0),
                        "low": seeds.min(axis=0),
                        "high": seeds.max(axis=0),
                    }
                )
            )
    columns = ["task", "candidate", "axis", "x", "mean", "low", "high"]
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def _across_tasks(report: TrackReport) -> None:
    """Mean ranks, Friedman, Nemenyi and the performance profiles over the track's tasks."""
    board = report.board
    if len(report.tasks) < 1:
        return
    accuracy = board.pivot_table(
        index="task", columns="candidate", values="test_accuracy_mean", aggfunc="first"
    ).astype(float)
    times = board.pivot(index="task", columns="candidate", values="time_to_target_s").astype(float)
    if accuracy.empty:
        return
    report.ranks = stats.mean_ranks(accuracy)
    report.friedman = stats.friedman(accuracy)
    if report.friedman is not None:
        report.nemenyi = stats.nemenyi(accuracy)
    gaps, ratios = stats.accuracy_gaps(accuracy.dropna()), stats.time_ratios(times)
    report.accuracy_profile = stats.performance_profile(gaps, ACCURACY_TAUS)
    report.time_profile = stats.performance_profile(ratios, TIME_TAUS)
    report.areas = pd.DataFrame(
        {
            "mean_rank": report.ranks,
            "accuracy_area": stats.profile_area(gaps, ACCURACY_TAUS[0], ACCURACY_TAUS[-1]),
            "time_area": stats.profile_area(ratios, TIME_TAUS[0], TIME_TAUS[-1]),
        }
    ).sort_values("mean_rank")


def _tuning_curves(tunings: pd.DataFrame, track: str, storage_url: str | None) -> pd.DataFrame:
    """Best validation accuracy so far against trial number, per tuned place of the track,
    read from its Optuna study; empty when untuned or the studies are not reachable."""
    columns = ["task", "candidate", "trial", "best"]
    if storage_url is None or tunings.empty or "study" not in tunings:
        return pd.DataFrame(columns=columns)
    import optuna

    from ..tuning.studies import quiet

    quiet()
    rows = []
    for _, place in tunings[tunings["track"] == track].iterrows():
        try:
            study = optuna.load_study(study_name=place["study"], storage=storage_url)
        except Exception:  # a study in another database: the table still says what it found
            continue
        best = -math.inf
        for trial in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
            if trial.value is not None:
                best = max(best, trial.value)
            if math.isfinite(best):
                rows.append((place["task"], place["candidate"], trial.number + 1, best))
    return pd.DataFrame(rows, columns=columns)


def compare(frame: pd.DataFrame, a: str, b: str, track: str | None = None) -> pd.DataFrame:
    """Candidates ``a`` and ``b`` on every task (of ``track``, or of any track) where both
    ran: the paired difference of test accuracy over the seeds both finished ok, its 95%
    interval, the paired t-test's p, Holm's adjustment across the tasks and the verdict."""
    if track is not None:
        frame = frame[frame["track"] == track]
    ok = frame[frame["status"] == "ok"]
    rows = []
    for task, runs in ok.groupby("task", sort=False):
        left = runs[runs["candidate"] == a].drop_duplicates("seed").set_index("seed")
        right = runs[runs["candidate"] == b].drop_duplicates("seed").set_index("seed")
        if left.empty or right.empty:
            continue
        found = stats.paired_interval(left["test_accuracy"], right["test_accuracy"])
        rows.append({"task": task, "a": a, "b": b, **found})
    table = pd.DataFrame(rows, columns=["task", "a", "b", "n", "mean", "ci95", "p"])
    table["p_holm"] = stats.holm(table["p"].astype(float)) if len(table) else []
    table["verdict"] = [
        stats.verdict(m, None if pd.isna(p) else p)
        for m, p in zip(table["mean"], table["p_holm"], strict=True)
    ]
    return table


def against(mine: pd.DataFrame, other: pd.DataFrame) -> pd.DataFrame:
    """The same (track, task, candidate) rows of two leaderboards side by side: both means,
    the difference with its 95% Welch interval over the seeds of each (runs of two result
    sets are not paired), whether it is beyond that noise, and the training-time ratio."""
    keys = ["track", "task", "candidate"]
    merged = mine.merge(other, on=keys, suffixes=("", "_other"))
    rows = []
    for _, row in merged.iterrows():
        a, b = row["_accuracies"], row["_accuracies_other"]
        difference = (
            None
            if row["test_accuracy_mean"] is None or row["test_accuracy_mean_other"] is None
            else row["test_accuracy_mean"] - row["test_accuracy_mean_other"]
        )
        ci = rank.welch_ci95(a, b)
        rows.append(
            {
                **{k: row[k] for k in keys},
                "mine": row["test_accuracy_mean"],
                "other": row["test_accuracy_mean_other"],
                "difference": difference,
                "ci95": ci,
                "beyond_noise": bool(
                    difference is not None and ci is not None and abs(difference) > ci
                ),
                "train_seconds_ratio": _ratio(row["train_seconds"], row["train_seconds_other"]),
            }
        )
    return pd.DataFrame(rows)


def _ratio(a: Any, b: Any) -> float | None:
    a, b = _number(a), _number(b)
    return None if a is None or b is None or b == 0 else a / b


def accuracies(frame: pd.DataFrame, tunings: pd.DataFrame | None = None) -> pd.DataFrame:
    """Leaderboard rows with each row's per-seed accuracies kept (``_accuracies``), for
    :func:`against`."""
    return rank.build(frame, tunings, keep_accuracies=True)
