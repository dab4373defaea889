"""Ranking runs into a leaderboard (pandas), and the intervals it is built on.

One row per suite, track, task and candidate: mean test accuracy over its seeds with a 95%
Student-t interval; the change against the track's baseline with a 95% Welch interval, so a
reader can tell a real difference from seed noise; median time-to-target; throughput,
data-wait share and verdict; parameters.

Seeds that did not end ok count against their candidate (:data:`~benchbench.ranking.rank.RULE`): a
diverged seed enters the mean as chance accuracy and its time-to-target as never, as AlgoPerf counts
a missed target as a failure rather than a missing value; a failed or timed-out seed has no
accuracy, so it is left out of the mean, and a row with any such seed (or any diverged one) ranks
below every row whose seeds all ended ok. Within each group, rows rank by mean test accuracy.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..identity import digest
from ..kinds import KINDS
from ..training.profiling import INPUT_BOUND_FRACTION

RULE = (
    "a seed that diverged counts as chance accuracy (1/classes) and never reaches the target; "
    "a failed or timed-out seed is left out of the mean; a row with any seed that did not "
    "end ok ranks below every row whose seeds all did"
)
"""How seeds that did not end ok count, in the words every leaderboard's footnote uses."""
GROUP = ["suite", "track", "task"]
COLUMN_MEANINGS = {
    "suite": "the suite's key: its name for a registered suite, its file's name and content "
    "hash for a suite file (suite_name is what to show)",
    "track": "the track: one comparison of candidates on its own tasks and budget",
    "task": "the task (dataset and split) the row's runs trained on",
    "candidate": "the candidate: the components the track compares (regularizer, ssl or "
    "finetune), with a variant label when runs of other code, device or data were merged",
    "rank": "its rank within suite, track and task: by mean test accuracy, rows with a seed "
    "that did not end ok below the others",
    "time_rank": "its rank by time to the target (DAWNBench's and AlgoPerf's order): by median "
    "seconds to the task's target validation accuracy, faster first; rows that never reach "
    "it, and rows with a seed that did not end ok, below the others",
    "seeds": "seeds run (stored results of its places)",
    "ok": "seeds that ended ok",
    "diverged": "seeds that diverged (a non-finite loss); each counts as chance accuracy",
    "failed": "seeds that failed or timed out; left out of the mean",
    "complete": "every seed ended ok",
    "test_accuracy_mean": "mean test accuracy over its seeds (0-1)",
    "test_accuracy_ci95": "half-width of the 95% Student-t interval of that mean (needs 3 seeds)",
    "delta_vs_baseline": "mean test accuracy minus the track's baseline's (0-1)",
    "delta_ci95": "half-width of the 95% Welch interval of that difference",
    "delta_n": "seeds behind the difference (the smaller of the two candidates')",
    "test_ece_mean": "mean expected calibration error on the test split (15 bins)",
    "time_to_target_s": "median training seconds to the task's target validation accuracy, a "
    "seed that missed it counting as never (infinite)",
    "reached_target": "seeds that reached the target",
    "train_seconds": "mean training seconds (evaluation not counted)",
    "samples_per_s": "mean training throughput, samples per second",
    "data_wait_fraction": "mean share of training time spent waiting for batches",
    "loader_verdict": "input-bound when that share is large, else compute-bound",
    "params": "the model's parameters",
    "model_bytes": "the model's size in bytes (parameters and buffers)",
    "latency_batch1_ms": "inference latency of a batch of 1, milliseconds",
    "latency_batch1024_ms": "inference latency of a batch of 1024, milliseconds",
    "peak_memory_mb": "peak GPU memory allocated, MB (CUDA runs)",
    "source_train_seconds": "training seconds of the source model (transfer and "
    "semi-supervised tasks that pretrain), mean over seeds",
    "busy": "seeds timed on shared hardware (beside other runs or busy processes): their "
    "times are marked",
    "tuning_trials": "trials tuning spent on this candidate (0: it runs its defaults in a "
    "tuned suite; empty: the suite was not tuned)",
    "tuning_pruned": "of those, trials the pruner stopped early",
    "tuning_seconds": "training seconds tuning spent on this candidate",
    "val_spread": "spread of the trials' validation accuracies: how much tuning mattered",
    "tuned_params": "the hyperparameters tuning chose, as JSON",
    "baseline": "this candidate is the track's baseline",
    "suite_name": "the suite's name as users call it",
    "benchbench_version": "the benchbench version that made the runs",
    **{
        kind.origin_column: f"NAME: ORIGIN of its {kind.name} component (where its code came "
        "from: a distribution and version, or a hash of its source)"
        for kind in KINDS
    },
    "variant": "a hash of the runs' code, device and data: seeds are averaged within one",
}
"""What every column of the leaderboard DataFrame (:func:`~benchbench.leaderboard`, the
leaderboard files' JSON and CSV) holds, in order; the docs list them from here."""
COLUMNS = list(COLUMN_MEANINGS)


def t975(dof: float) -> float:
    """Student's t 97.5% quantile at ``dof`` degrees of freedom (``scipy.stats.t.ppf``'s
    own function, from ``scipy.special``, without importing all of ``scipy.stats``)."""
    from scipy.special import stdtrit

    return float(stdtrit(dof, 0.975))


def ci95(values: Sequence[float]) -> float | None:
    """Half-width of the 95% Student-t interval of the mean; ``None`` below two values."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return None
    return float(t975(n - 1) * values.std(ddof=1) / math.sqrt(n))


def welch_ci95(a: Sequence[float], b: Sequence[float]) -> float | None:
    """Half-width of the 95% Welch interval of ``mean(a) - mean(b)``; ``None`` if either has
    fewer than two values. Zero spread in both gives zero."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    if va + vb == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    return float(t975(dof) * math.sqrt(va + vb))


def welch_moments(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> float | None:
    """:func:`welch_ci95` from each sample's mean, variance (``ddof=1``) and size."""
    if n_a < 2 or n_b < 2:
        return None
    va, vb = var_a / n_a, var_b / n_b
    if va + vb == 0:
        return 0.0
    dof = (va + vb) ** 2 / (va**2 / (n_a - 1) + vb**2 / (n_b - 1))
    return float(t975(dof) * math.sqrt(va + vb))


def ci95_moments(var: float | None, n: int) -> float | None:
    """:func:`ci95` from a sample's variance (``ddof=1``) and size."""
    if n < 2 or var is None:
        return None
    return float(t975(n - 1) * math.sqrt(var) / math.sqrt(n))


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
            "peak_memory_mb": _mean(ok, "peak_memory_mb"),
            "source_train_seconds": _mean(ok, "source_train_seconds"),
            "busy": int((ok["busy"] == True).sum()) if "busy" in ok else None,  # noqa: E712
            "baseline": bool(runs["baseline"].any()),
            "acc_n": len(accuracy),
            "acc_var": float(accuracy.var(ddof=1)) if len(accuracy) > 1 else None,
            "_accuracies": accuracy.tolist(),
            **origins(runs["code"].iloc[0] if "code" in runs else None),
        }
    )


def origins(code_json: str | None) -> dict[str, str | None]:
    """A run's code identity (JSON, as :meth:`Store.frame <benchbench.storage.places.Places.frame>`
    gives it) as leaderboard columns: ``benchbench_version`` and, per slot, ``name: origin`` of each
    component in it."""
    code = json.loads(code_json) if isinstance(code_json, str) and code_json else {}
    columns: dict[str, str | None] = {"benchbench_version": code.get("benchbench")}
    for kind in KINDS:
        prefix = kind.name + ":"
        found = [f"{k.partition(':')[2]}: {v}" for k, v in code.items() if k.startswith(prefix)]
        columns[kind.origin_column] = ", ".join(found) or None
    return columns


def _variants(frame: pd.DataFrame) -> list[str]:
    """Per run, a hash of what besides its spec's settings decides its numbers: its code,
    device and data. Seeds of one candidate are averaged only within one variant."""
    fields = [frame.get(k, pd.Series(None, index=frame.index)) for k in ("code", "device", "data")]
    return [digest([c, d, None if missing(x) else x]) for c, d, x in zip(*fields, strict=True)]


def _label_variants(rows: pd.DataFrame) -> pd.DataFrame:
    """A candidate whose runs came from more than one variant (results merged from machines
    with other code or devices) gets a row per variant, each named by what sets it apart."""
    keys = [*GROUP, "candidate"]
    said = [kind.origin_column for kind in KINDS]
    labels = {}
    for _, same in rows.groupby(keys, sort=False):
        if same["variant"].nunique() < 2:
            continue
        differ = [c for c in ("benchbench_version", *said) if same[c].nunique(dropna=False) > 1]
        for index, row in same.iterrows():
            parts = [str(row[c]) for c in differ] or [f"variant {row['variant']}"]
            labels[index] = f"{row['candidate']} [{'; '.join(parts)}]"
    for index, label in labels.items():
        rows.loc[index, "candidate"] = label
    return rows


def _with_tunings(rows: pd.DataFrame, tunings: pd.DataFrame | None) -> pd.DataFrame:
    """Add what tuning found and cost to each row (from :meth:`Store.tunings
    <benchbench.storage.tunings.Tunings.tunings>`); rows of an untuned suite get nothing, untuned
    rows of a tuned suite 0 trials (defaults)."""
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


def build(
    frame: pd.DataFrame, tunings: pd.DataFrame | None = None, keep_accuracies: bool = False
) -> pd.DataFrame:
    """The ranked leaderboard from :meth:`Store.frame <benchbench.storage.places.Places.frame>` rows
    (one per suite place), with the tuning of each place from :meth:`Store.tunings
    <benchbench.storage.tunings.Tunings.tunings>` where given; ``keep_accuracies`` keeps each row's
    accuracies per seed (``_accuracies``) for comparisons. :func:`build_groups` ranks the same
    from rows the database aggregated."""
    if frame.empty:
        return pd.DataFrame(columns=[*COLUMNS, "_accuracies"] if keep_accuracies else COLUMNS)
    if "suite_name" not in frame:
        frame = frame.assign(suite_name=frame["suite"])
    frame = frame.assign(variant=_variants(frame))
    rows = (
        frame.groupby([*GROUP, "suite_name", "candidate", "variant"], sort=False)
        .apply(_summarise, include_groups=False)
        .reset_index()
    )
    return _finish(rows, tunings, keep_accuracies)


def build_groups(groups: pd.DataFrame, tunings: pd.DataFrame | None = None) -> pd.DataFrame:
    """The ranked leaderboard from :meth:`Store.groups <benchbench.storage.places.Places.groups>`
    (one row per candidate and variant, aggregated in the database): the same rules and
    columns as :func:`build`, the accuracies' mean and spread from their sums."""
    if groups.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = groups.copy()
    n = rows["acc_n"].astype(int)
    total = pd.to_numeric(rows["acc_sum"], errors="coerce").astype(float)
    squares = pd.to_numeric(rows["acc_sumsq"], errors="coerce").astype(float)
    mean = total / n.where(n > 0)
    spread = ((squares - total * mean) / (n - 1).where(n > 1)).clip(lower=0.0)
    # equal accuracies leave a rounding residue (~1e-16) from the sums, not a spread: an
    # accuracy's real variance is at least (1/test size)^2 / seeds, far above 1e-12
    spread = spread.where(spread > 1e-12, 0.0).where(n > 1)
    rows["test_accuracy_mean"] = [None if pd.isna(v) else float(v) for v in mean]
    rows["acc_var"] = [None if pd.isna(v) else float(v) for v in spread]
    rows["test_accuracy_ci95"] = [
        ci95_moments(v, k) for v, k in zip(rows["acc_var"], n, strict=True)
    ]
    for column in ("seeds", "ok", "diverged", "reached_target", "busy"):
        rows[column] = rows[column].fillna(0).astype(int)
    rows["failed"] = rows["seeds"] - rows["ok"] - rows["diverged"]
    rows["complete"] = rows["ok"] == rows["seeds"]
    rows["baseline"] = rows["baseline"] > 0
    rows["params"] = [None if pd.isna(p) else int(p) for p in rows["params"]]
    for column in ("time_to_target_s", "test_ece_mean"):
        rows[column] = [None if pd.isna(v) else float(v) for v in rows[column]]
    found = pd.DataFrame([origins(c) for c in rows["code"]], index=rows.index)
    return _finish(pd.concat([rows, found], axis=1), tunings, False)


def _finish(
    rows: pd.DataFrame, tunings: pd.DataFrame | None, keep_accuracies: bool
) -> pd.DataFrame:
    """Deltas against each group's baseline (Welch intervals), tunings, variant labels,
    verdicts and ranks, for rows summarised either way."""
    base = rows[rows["baseline"]].drop_duplicates(GROUP)
    base = base[[*GROUP, "test_accuracy_mean", "acc_var", "acc_n"]].rename(
        columns={"test_accuracy_mean": "base_mean", "acc_var": "base_var", "acc_n": "base_n"}
    )
    rows = rows.merge(base, on=GROUP, how="left")
    deltas, delta_cis, delta_ns = [], [], []
    for row in rows.itertuples(index=False):
        mean, base_mean = row.test_accuracy_mean, row.base_mean
        if missing(base_mean) or mean is None or missing(mean):
            deltas.append(None)
            delta_cis.append(None)
            delta_ns.append(None)
            continue
        delta_ns.append(min(int(row.acc_n), int(row.base_n)))
        deltas.append(mean - base_mean)
        delta_cis.append(
            None
            if row.baseline or missing(row.acc_var) or missing(row.base_var)
            else welch_moments(
                mean, row.acc_var, int(row.acc_n), base_mean, row.base_var, int(row.base_n)
            )
        )
    rows = _label_variants(_with_tunings(rows, tunings))
    rows["delta_vs_baseline"] = deltas
    rows["delta_ci95"] = delta_cis
    rows["delta_n"] = pd.array(delta_ns, dtype="Int64")
    rows["loader_verdict"] = [
        None
        if f is None or pd.isna(f)
        else ("input-bound" if f > INPUT_BOUND_FRACTION else "compute-bound")
        for f in rows["data_wait_fraction"]
    ]
    # accuracies lie in [0, 1]: + 2 puts every complete row above every incomplete one
    score = pd.to_numeric(rows["test_accuracy_mean"], errors="coerce") + 2 * rows["complete"]
    score = score.round(12)  # equal means summed in another order are still a tie
    rows["rank"] = score.groupby([rows[g] for g in GROUP]).rank(ascending=False, method="min")
    rows["rank"] = rows["rank"].astype("Int64")
    # the same by time: a row that never reaches the target, or is incomplete, ranks last
    seconds = pd.to_numeric(rows["time_to_target_s"], errors="coerce").fillna(math.inf)
    seconds = seconds.where(rows["complete"].astype(bool), math.inf).round(9)
    rows["time_rank"] = seconds.groupby([rows[g] for g in GROUP]).rank(method="min")
    rows["time_rank"] = rows["time_rank"].astype("Int64")
    # equal ranks in name order: the same board whichever way the rows were gathered
    rows = rows.sort_values([*GROUP, "rank", "candidate"], kind="stable", na_position="last")
    kept = [*COLUMNS, "_accuracies"] if keep_accuracies else COLUMNS
    return rows[kept].reset_index(drop=True)


def missing(value: object) -> bool:
    """None or NaN: no value."""
    return value is None or bool(pd.isna(value))
