"""The figures of a comparison report, drawn with matplotlib from the tables of
:mod:`~benchbench.reporting.data`.

Each function returns a ``Figure`` (or None when there is nothing to draw). A candidate
keeps one colour and line style in every figure of its track; with more than ten
candidates the colours repeat with another line style, so no two lines look alike.
Legends sit outside the axes, so they never hide data.
"""

from __future__ import annotations

import io
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only: no display, no GUI toolkit

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import stats  # noqa: E402
from .data import TrackReport  # noqa: E402

STYLES = ("-", "--", ":", "-.")
PANEL_WIDTH = 5.2
plt.rcParams.update(
    {"font.size": 9, "svg.fonttype": "none", "axes.titlesize": 10, "text.parse_math": False}
)  # names from plugins and suite files are text: a "$" in one must not start mathtext


def style(candidates: list[str]) -> dict[str, dict[str, Any]]:
    """Colour and line style per candidate: ten colours, then again with the next style."""
    colours = plt.get_cmap("tab10").colors
    return {
        c: {"color": colours[i % 10], "linestyle": STYLES[(i // 10) % len(STYLES)]}
        for i, c in enumerate(candidates)
    }


def _panels(tasks: list[str], rows: int = 1, height: float = 3.4) -> tuple[Any, np.ndarray]:
    fig, axes = plt.subplots(
        rows,
        len(tasks),
        figsize=(PANEL_WIDTH * len(tasks) + 2.6, height * rows),
        squeeze=False,
        layout="constrained",
    )
    return fig, axes


def _legend(fig: Any, axes: np.ndarray) -> None:
    handles, labels = {}, []
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            if label not in handles:
                handles[label] = handle
                labels.append(label)
    if labels:
        fig.legend(
            [handles[label] for label in labels],
            labels,
            loc="outside right upper",
            fontsize=8,
            frameon=False,
        )


def forest(report: TrackReport) -> Any | None:
    """Δ test accuracy against the baseline with its 95% Welch interval, per task."""
    board = report.board
    if board["delta_vs_baseline"].isna().all():
        return None
    fig, axes = _panels(report.tasks, height=0.32 * board.groupby("task").size().max() + 1.2)
    for ax, task in zip(axes[0], report.tasks, strict=True):
        rows = board[board["task"] == task].iloc[::-1]
        y = np.arange(len(rows))
        delta = rows["delta_vs_baseline"].astype(float) * 100
        ci = rows["delta_ci95"].astype(float).fillna(0) * 100
        colours = ["#444444" if b else "#1f77b4" for b in rows["baseline"]]
        ax.hlines(y, delta - ci, delta + ci, colors=colours, linewidth=1.2)
        ax.scatter(delta, y, c=colours, zorder=3, s=14)
        ax.axvline(0, color="#888888", linewidth=0.8)
        ax.set_yticks(y, rows["candidate"])
        ax.set_xlabel("Δ test accuracy vs baseline (points, 95% interval)")
        ax.set_title(task)
    return fig


def curves(report: TrackReport, axis: str) -> Any | None:
    """Validation accuracy against training seconds (or steps): mean over seeds, min-max
    band, the task's target as a dashed line, each candidate's time-to-target as a dot."""
    table = report.curves[report.curves["axis"] == axis]
    if table.empty:
        return None
    candidates = list(dict.fromkeys(report.board["candidate"]))
    looks = style(candidates)
    fig, axes = _panels(report.tasks)
    for ax, task in zip(axes[0], report.tasks, strict=True):
        for candidate in candidates:
            line = table[(table["task"] == task) & (table["candidate"] == candidate)]
            if line.empty:
                continue
            look = looks[candidate]
            ax.plot(line["x"], line["mean"], label=candidate, linewidth=1.3, **look)
            ax.fill_between(line["x"], line["low"], line["high"], color=look["color"], alpha=0.12)
            ttt = report.board[
                (report.board["task"] == task) & (report.board["candidate"] == candidate)
            ]["time_to_target_s"]
            if axis == "train_seconds" and len(ttt) and not pd.isna(ttt.iloc[0]):
                x = float(ttt.iloc[0])
                ax.plot([x], [np.interp(x, line["x"], line["mean"])], "o", color=look["color"])
        if task in report.targets:
            ax.axhline(report.targets[task], color="#555555", linestyle="--", linewidth=0.9)
            ax.annotate("target", (0, report.targets[task]), fontsize=7, color="#555555")
        ax.set_xlabel("training seconds" if axis == "train_seconds" else "steps")
        ax.set_ylabel("validation accuracy")
        ax.set_title(task)
    _legend(fig, axes)
    return fig


def pareto(report: TrackReport) -> Any | None:
    """Test accuracy against inference latency (batch 1) and against model size, per task,
    the Pareto front (nothing both cheaper and better) joined and labelled in bold."""
    board = report.board
    costs = [("latency_batch1_ms", "latency at batch 1 (ms)"), ("model_bytes", "model size (MB)")]
    if not report.varies_arch or board[[c for c, _ in costs]].isna().all().all():
        return None
    fig, axes = _panels(report.tasks, rows=2, height=3.0)
    for column, (cost, label) in enumerate(costs):
        for ax, task in zip(axes[column], report.tasks, strict=True):
            rows = board[board["task"] == task].dropna(subset=[cost, "test_accuracy_mean"])
            x = rows[cost].astype(float) / (1e6 if cost == "model_bytes" else 1)
            y = rows["test_accuracy_mean"].astype(float) * 100
            front = stats.pareto_front(x, y)
            ax.scatter(x[~front], y[~front], color="#999999", s=16)
            ax.scatter(x[front], y[front], color="#d62728", s=22, zorder=3)
            order = x[front].sort_values().index
            ax.plot(x[order], y[order], color="#d62728", linewidth=1)
            for index, name in rows["candidate"].items():
                ax.annotate(
                    name,
                    (x[index], y[index]),
                    fontsize=7,
                    xytext=(4, 2),
                    textcoords="offset points",
                    fontweight="bold" if front[index] else "normal",
                )
            log_x(ax)
            ax.set_xlabel(label)
            ax.set_ylabel("test accuracy %")
            ax.set_title(task)
    return fig


def log_x(ax: Any) -> None:
    """A log x axis whose ticks are plain numbers (``0.1``, ``20``): matplotlib's default
    labels are mathtext (``$10^{-1}$``), which this module's literal text would show raw."""
    from matplotlib import ticker

    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def loader(report: TrackReport) -> Any | None:
    """Training seconds split into waiting for data and computing, per candidate."""
    board = report.board.dropna(subset=["train_seconds", "data_wait_fraction"])
    if board.empty:
        return None
    fig, axes = _panels(report.tasks, height=0.32 * board.groupby("task").size().max() + 1.2)
    for ax, task in zip(axes[0], report.tasks, strict=True):
        rows = board[board["task"] == task].iloc[::-1]
        total = rows["train_seconds"].astype(float)
        wait = total * rows["data_wait_fraction"].astype(float)
        y = np.arange(len(rows))
        ax.barh(y, total - wait, color="#1f77b4", label="compute")
        ax.barh(y, wait, left=total - wait, color="#ff7f0e", label="waiting for data")
        ax.set_yticks(y, rows["candidate"])
        ax.set_xlabel("training seconds (mean over seeds)")
        ax.set_title(task)
    _legend(fig, axes)
    return fig


def tuning(report: TrackReport) -> Any | None:
    """Best validation accuracy so far against trial number, per tuned candidate."""
    table = report.tuning
    if table.empty:
        return None
    looks = style(list(dict.fromkeys(report.board["candidate"])))
    fig, axes = _panels(report.tasks)
    for ax, task in zip(axes[0], report.tasks, strict=True):
        for candidate, line in table[table["task"] == task].groupby("candidate", sort=False):
            look = looks.get(candidate, {})
            ax.step(line["trial"], line["best"], where="post", label=candidate, **look)
        ax.set_xlabel("trial")
        ax.set_ylabel("best validation accuracy so far")
        ax.set_title(task)
    _legend(fig, axes)
    return fig


def critical_difference(report: TrackReport) -> Any | None:
    """Demšar's critical-difference diagram: mean ranks over tasks, candidates the Nemenyi
    test cannot separate joined by a bar (scikit-posthocs draws it)."""
    if report.nemenyi is None or report.ranks is None:
        return None
    import scikit_posthocs

    fig, ax = plt.subplots(figsize=(9, 0.28 * len(report.ranks) + 1.4), layout="constrained")
    scikit_posthocs.critical_difference_diagram(report.ranks, report.nemenyi, ax=ax)
    ax.set_title(f"mean rank over {len(report.tasks)} tasks (1 = best)")
    return fig


def profiles(report: TrackReport) -> Any | None:
    """Performance profiles: the share of tasks within tau of the best, on test accuracy
    (tau in points below the best) and on time-to-target (tau as a multiple of the fastest)."""
    if report.accuracy_profile is None or len(report.tasks) < 2:
        return None
    looks = style(list(dict.fromkeys(report.board["candidate"])))
    fig, axes = plt.subplots(1, 2, figsize=(13, 3.6), layout="constrained", squeeze=False)
    panels = (
        (report.accuracy_profile, 100, "tau: points of test accuracy below the best"),
        (report.time_profile, 1, "tau: time-to-target as a multiple of the fastest"),
    )
    for ax, (profile, scale, label) in zip(axes[0], panels, strict=True):
        offsets = np.linspace(-0.012, 0.012, len(profile.columns))  # equal lines stay visible
        for offset, candidate in zip(offsets, profile.columns, strict=True):
            look = looks.get(candidate, {})
            shares = profile[candidate] + offset
            ax.step(profile.index * scale, shares, where="post", label=candidate, **look)
        ax.set_xlabel(label)
        ax.set_ylabel("share of tasks")
        ax.set_ylim(-0.03, 1.03)
    _legend(fig, axes)
    return fig


def svg(fig: Any) -> str:
    """The figure as an inline ``<svg>`` element: no XML prolog, no metadata."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata=dict.fromkeys(("Creator", "Date", "Format", "Type")))
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def save_png(fig: Any, path: Any) -> None:
    """The figure as a PNG file."""
    fig.savefig(path, format="png", dpi=110)


def close(fig: Any) -> None:
    plt.close(fig)
