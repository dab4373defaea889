"""Ranking runs into leaderboards (pandas) and rendering them (tabulate, CSV, JSON).

One row per suite, track, task and candidate: mean test accuracy over its seeds with a 95%
Student-t interval; the change against the track's baseline with a 95% Welch interval, so a
reader can tell a real difference from seed noise; median time-to-target; throughput,
data-wait share and verdict; parameters.

Seeds that did not end ok count against their candidate (:data:`RULE`): a diverged seed
enters the mean as chance accuracy and its time-to-target as never, as AlgoPerf counts a
missed target as a failure rather than a missing value; a failed or timed-out seed has no
accuracy, so it is left out of the mean, and a row with any such seed (or any diverged one)
ranks below every row whose seeds all ended ok. Within each group, rows rank by mean test
accuracy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from tabulate import tabulate

from .profiling import INPUT_BOUND_FRACTION
from .spec import RunResult

RULE = (
    "a seed that diverged counts as chance accuracy (1/classes) and never reaches the target; "
    "a failed or timed-out seed is left out of the mean; a row with any seed that did not "
    "end ok ranks below every row whose seeds all did"
)
GROUP = ["suite", "track", "task"]
COLUMNS = [
    "suite",
    "track",
    "task",
    "candidate",
    "rank",
    "seeds",
    "ok",
    "diverged",
    "failed",
    "complete",
    "test_accuracy_mean",
    "test_accuracy_ci95",
    "delta_vs_baseline",
    "delta_ci95",
    "test_ece_mean",
    "time_to_target_s",
    "reached_target",
    "train_seconds",
    "samples_per_s",
    "data_wait_fraction",
    "loader_verdict",
    "params",
    "model_bytes",
    "latency_batch1_ms",
    "latency_batch1024_ms",
    "source_train_seconds",
    "tuning_trials",
    "tuning_pruned",
    "tuning_seconds",
    "val_spread",
    "tuned_params",
    "baseline",
    "suite_name",
]
FORMATS = ("markdown", "plain", "csv", "json")


def ci95(values: Sequence[float]) -> float | None:
    """Half-width of the 95% Student-t interval of the mean; ``None`` below two values."""
    from scipy import stats  # slow import: only when ranking

    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return None
    return float(stats.t.ppf(0.975, n - 1) * values.std(ddof=1) / math.sqrt(n))


def welch_ci95(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Half-width of the 95% Welch interval of ``mean(a) - mean(b)``; ``None`` if either has
    fewer than two values. Zero spread in both gives zero."""
    from scipy import stats

    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(stats.t.ppf(0.975, dof) * math.sqrt(va + vb))


def _mean(runs: pd.DataFrame, column: str) -> float | None:
    """Mean of a column over runs, ``None`` when absent or empty (older results lack it)."""
    if column not in runs or runs[column].isna().all():
        return None
    return float(runs[column].mean())


def _summarise(runs: pd.DataFrame) -> pd.Series:
    ok = runs[runs["status"] == "ok"]
    diverged = runs[runs["status"] == "diverged"]
    chance = (
        diverged["chance_accuracy"].dropna()
        if "chance_accuracy" in diverged
        else pd.Series(dtype=float)
    )
    accuracy = pd.concat([ok["test_accuracy"].dropna(), chance], ignore_index=True)
    # every seed that ended (ok or diverged) has a time-to-target; never = infinity
    times = pd.concat(
        [
            ok["time_to_target_s"].astype(float).fillna(math.inf),
            pd.Series(math.inf, index=diverged.index),
        ]
    )
    median_time = float(times.median()) if len(times) else math.inf
    wait = ok["data_wait_fraction"].dropna()
    return pd.Series(
        {
            "seeds": len(runs),
            "ok": len(ok),
            "diverged": len(diverged),
            "failed": len(runs) - len(ok) - len(diverged),
            "complete": len(ok) == len(runs),
            "test_accuracy_mean": float(accuracy.mean()) if len(accuracy) else None,
            "test_accuracy_ci95": ci95(accuracy),
            "test_ece_mean": _mean(ok, "test_ece"),
            "time_to_target_s": median_time if math.isfinite(median_time) else None,
            "reached_target": int(np.isfinite(times).sum()),
            "train_seconds": ok["train_seconds"].mean() if len(ok) else None,
            "samples_per_s": ok["samples_per_s"].mean() if len(ok) else None,
            "data_wait_fraction": wait.mean() if len(wait) else None,
            "params": int(runs["params"].dropna().median())
            if runs["params"].notna().any()
            else None,
            "model_bytes": _mean(ok, "model_bytes"),
            "latency_batch1_ms": _mean(ok, "latency_batch1_ms"),
            "latency_batch1024_ms": _mean(ok, "latency_batch1024_ms"),
            "source_train_seconds": _mean(ok, "source_train_seconds"),
            "baseline": bool(runs["baseline"].any()),
            "_accuracies": accuracy.tolist(),
        }
    )


def _with_tunings(rows: pd.DataFrame, tunings: pd.DataFrame | None) -> pd.DataFrame:
    """Add what tuning found and cost to each row (from :meth:`Store.tunings`); rows of an
    untuned suite get nothing, untuned rows of a tuned suite 0 trials (defaults)."""
    keys = [*GROUP, "candidate"]
    names = {
        "trials": "tuning_trials",
        "pruned": "tuning_pruned",
        "tuning_seconds": "tuning_seconds",
        "val_spread": "val_spread",
        "best_params": "tuned_params",
    }
    if tunings is None or tunings.empty:
        for column in names.values():
            rows[column] = None
        return rows
    found = tunings[[*keys, *names]].rename(columns=names)
    found["tuned_params"] = found["tuned_params"].map(lambda p: json.dumps(p, sort_keys=True))
    rows = rows.merge(found, on=keys, how="left")
    tuned_suites = set(tunings["suite"])
    untuned = rows["tuning_trials"].isna() & rows["suite"].isin(tuned_suites)
    rows.loc[untuned, "tuning_trials"] = 0
    return rows


def build(frame: pd.DataFrame, tunings: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ranked leaderboard from :meth:`Store.frame` rows (one per suite place), with the
    tuning of each place from :meth:`Store.tunings` where given."""
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    if "suite_name" not in frame:
        frame = frame.assign(suite_name=frame["suite"])
    rows = (
        frame.groupby([*GROUP, "suite_name", "candidate"], sort=False)
        .apply(_summarise, include_groups=False)
        .reset_index()
    )
    deltas, delta_cis = [], []
    for _, row in rows.iterrows():
        same = rows[(rows[GROUP] == row[GROUP]).all(axis=1)]
        base = same[same["baseline"]]
        if (
            base.empty
            or row["test_accuracy_mean"] is None
            or base.iloc[0]["test_accuracy_mean"] is None
        ):
            deltas.append(None)
            delta_cis.append(None)
            continue
        base = base.iloc[0]
        deltas.append(row["test_accuracy_mean"] - base["test_accuracy_mean"])
        delta_cis.append(
            None if row["baseline"] else welch_ci95(row["_accuracies"], base["_accuracies"])
        )
    rows = _with_tunings(rows, tunings)
    rows["delta_vs_baseline"] = deltas
    rows["delta_ci95"] = delta_cis
    rows["loader_verdict"] = [
        None
        if f is None or pd.isna(f)
        else ("input-bound" if f > INPUT_BOUND_FRACTION else "compute-bound")
        for f in rows["data_wait_fraction"]
    ]
    # accuracies lie in [0, 1]: + 2 puts every complete row above every incomplete one
    score = pd.to_numeric(rows["test_accuracy_mean"], errors="coerce") + 2 * rows["complete"]
    rows["rank"] = score.groupby([rows[g] for g in GROUP]).rank(ascending=False, method="min")
    rows["rank"] = rows["rank"].astype("Int64")
    rows = rows.sort_values([*GROUP, "rank"], kind="stable", na_position="last")
    return rows[COLUMNS].reset_index(drop=True)


def provenance(results: Sequence[RunResult]) -> str:
    """One line saying what produced the results: benchbench, torch, device, plugins, host."""
    if not results:
        return "No results."

    def values(key: str) -> str:
        return ", ".join(sorted({str(r.provenance.get(key)) for r in results}))

    plugins = sorted(
        {
            f"{p['plugin']} ({p['distribution']} {p['version']})"
            if p["distribution"]
            else f"{p['plugin']} (-p)"
            for r in results
            for p in r.provenance.get("plugins", [])
        }
    )
    return (
        f"{len(results)} runs by benchbench {values('benchbench')}, torch {values('torch')}, "
        f"on {values('device')} ({values('device_name')}, {values('torch_threads')} threads) "
        f"of {values('host')}; plugins: {', '.join(plugins)}."
    )


def _pct(value: float | None, ci: float | None = None, signed: bool = False) -> str:
    if value is None or pd.isna(value):
        return "-"
    text = f"{value * 100:+.2f}" if signed else f"{value * 100:.2f}"
    if ci is not None and not pd.isna(ci):
        text += f" ± {ci * 100:.2f}"
    return text


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _number(value: float | None, scale: float, spec: str) -> str:
    return "-" if _missing(value) else format(value * scale, spec)


def _params(value: str | None) -> str:
    """Tuned hyperparameters as ``name=value`` pairs, numbers to 3 significant digits."""
    if _missing(value):
        return "-"
    pairs = json.loads(value).items()
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in pairs)


def _display(board: pd.DataFrame) -> pd.DataFrame:
    def ttt(row: pd.Series) -> str:
        ended = int(row["seeds"]) - int(row["failed"])
        if not ended:
            return "-"
        reached = f"({int(row['reached_target'])}/{ended})"
        if _missing(row["time_to_target_s"]):
            return f"never {reached}"
        return f"{row['time_to_target_s']:.2f} {reached}"

    def seeds(row: pd.Series) -> str:
        text = f"{int(row['ok'])}/{int(row['seeds'])}"
        others = [f"{int(row[k])} {k}" for k in ("diverged", "failed") if row[k]]
        return text + (f": {', '.join(others)}" if others else "")

    return pd.DataFrame(
        {
            "rank": board["rank"].map(lambda r: "-" if _missing(r) else str(int(r))),
            "candidate": [
                c + (" (baseline)" if b else "")
                for c, b in zip(board["candidate"], board["baseline"], strict=True)
            ],
            "test acc %": [
                _pct(v, c)
                for v, c in zip(
                    board["test_accuracy_mean"], board["test_accuracy_ci95"], strict=True
                )
            ],
            "Δ vs baseline (pp)": [
                _pct(v, c, signed=True)
                for v, c in zip(board["delta_vs_baseline"], board["delta_ci95"], strict=True)
            ],
            "ECE %": [_pct(v) for v in board["test_ece_mean"]],
            "time-to-target s (reached)": board.apply(ttt, axis=1),
            "train s": board["train_seconds"].map(
                lambda v: "-" if v is None or pd.isna(v) else f"{v:.2f}"
            ),
            "samples/s": board["samples_per_s"].map(
                lambda v: "-" if v is None or pd.isna(v) else f"{v:,.0f}"
            ),
            "data wait": [
                "-" if _missing(v) else f"{_pct(v)}% {'' if _missing(d) else d}".strip()
                for v, d in zip(board["data_wait_fraction"], board["loader_verdict"], strict=True)
            ],
            "params": board["params"].map(
                lambda v: "-" if v is None or pd.isna(v) else f"{int(v):,}"
            ),
            "size MB": board["model_bytes"].map(lambda v: _number(v, 1e-6, ".2f")),
            "latency ms b1 / b1024": [
                "-" if _missing(a) else f"{a:.2f} / {_number(b, 1, '.1f')}"
                for a, b in zip(
                    board["latency_batch1_ms"], board["latency_batch1024_ms"], strict=True
                )
            ],
            "source s": board["source_train_seconds"].map(lambda v: _number(v, 1, ".1f")),
            "tuning trials (pruned), s": [
                "-"
                if _missing(n)
                else ("defaults" if n == 0 else f"{int(n)} ({int(p)}), {sec:.0f}")
                for n, p, sec in zip(
                    board["tuning_trials"],
                    board["tuning_pruned"],
                    board["tuning_seconds"],
                    strict=True,
                )
            ],
            "val spread pp": board["val_spread"].map(lambda v: _number(v, 100, ".2f")),
            "hparams": board["tuned_params"].map(_params),
            "seeds ok": board.apply(seeds, axis=1),
        }
    )


def render(board: pd.DataFrame, fmt: str = "markdown") -> str:
    """The leaderboard as Markdown or plain tables (one per suite, track and task), CSV or JSON."""
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "csv":
        return board.to_csv(index=False)
    if fmt == "json":
        records = json.loads(board.to_json(orient="records"))
        return json.dumps(records, indent=2)
    if board.empty:
        return "no results yet\n"
    parts = []
    table_format = "github" if fmt == "markdown" else "simple"
    names = board.get("suite_name", board["suite"])
    ambiguous = {n for n, keys in board.groupby(names)["suite"] if keys.nunique() > 1}
    for (suite, track, task), group in board.groupby(GROUP, sort=False):
        name = group["suite_name"].iloc[0] if "suite_name" in group else suite
        title = f"{suite if name in ambiguous else name} / {track} / {task}"
        heading = f"### {title}" if fmt == "markdown" else title
        shown = _display(group)
        shown = shown.loc[:, (shown != "-").any()]  # e.g. no source column without transfer
        table = tabulate(
            shown,
            headers="keys",
            tablefmt=table_format,
            showindex=False,
            disable_numparse=True,
        )
        parts.append(f"{heading}\n\n{table}\n")
    note = (
        "test acc: mean over seeds ± 95% t-interval; Δ: difference of means against the "
        "track's baseline ± 95% Welch interval; ECE: expected calibration error on the test "
        "split (15 bins); time-to-target: median training seconds to the task's target "
        "validation accuracy, a seed that missed it counting as never, with the seeds that "
        f"reached it; seeds: {RULE}; size and latency: the trained "
        "model's bytes and inference milliseconds at batch 1 / 1024; source s: training "
        "seconds of the cached source model a transfer run starts from, not charged to it; "
        "tuning: trials on the validation split (pruned among them) and their seconds, the "
        "spread (standard deviation) of validation accuracy over complete trials, and the "
        "best hyperparameters, which every seed of the row ran with."
    )
    return "\n".join(parts) + "\n" + note + "\n"
