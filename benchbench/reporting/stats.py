"""The statistics of a comparison report, each a small function of a small table.

Ranks across tasks and the Friedman test follow Demšar (2006): tasks are the blocks, a
candidate's score on a task is its mean test accuracy over seeds; the Nemenyi post-hoc test
behind the critical-difference diagram is scikit-posthocs'. Performance profiles follow
AlgoPerf: for a tolerance tau, the share of tasks on which a candidate is within tau of the
best candidate of that task, and the normalised area under that step function as one number.
Head-to-head comparisons pair seeds (the same seed of two candidates shares data order and
initialisation) and adjust their p-values across tasks with Holm's method (statsmodels).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..ranking.rank import ci95


def mean_ranks(scores: pd.DataFrame, higher_is_better: bool = True) -> pd.Series:
    """Each candidate's (column's) rank averaged over the tasks (rows): rank 1 is the best on
    a task, ties share the mean of their ranks. Tasks missing a candidate are left out, so
    every rank comes from the same tasks."""
    complete = scores.dropna()
    ranks = complete.rank(axis=1, ascending=not higher_is_better, method="average")
    return ranks.mean().sort_values()


def friedman(scores: pd.DataFrame) -> tuple[float, float] | None:
    """Friedman's chi-square statistic and p-value over the complete tasks (rows), or None
    when there are fewer than 2 tasks or 3 candidates (the test needs them)."""
    from scipy import stats

    complete = scores.dropna()
    if len(complete) < 2 or complete.shape[1] < 3:
        return None
    result = stats.friedmanchisquare(*[complete[c].to_numpy() for c in complete.columns])
    return float(result.statistic), float(result.pvalue)


def nemenyi(scores: pd.DataFrame) -> pd.DataFrame:
    """Pairwise p-values of the Nemenyi post-hoc test after Friedman (scikit-posthocs)."""
    import scikit_posthocs

    return (
        scikit_posthocs.posthoc_nemenyi_friedman(scores.dropna().to_numpy())
        .set_axis(scores.columns, axis=0)
        .set_axis(scores.columns, axis=1)
    )


def accuracy_gaps(scores: pd.DataFrame) -> pd.DataFrame:
    """Per task (row), how far each candidate's accuracy lies below the best: best - value."""
    return scores.rsub(scores.max(axis=1), axis=0)


def time_ratios(times: pd.DataFrame) -> pd.DataFrame:
    """Per task (row), each candidate's time over the fastest's; never reached (NaN) is
    infinite, and a task nobody reached gives infinity to all."""
    filled = times.astype(float).fillna(math.inf)
    best = filled.min(axis=1).replace(0.0, np.nan)
    return filled.div(best, axis=0).fillna(math.inf)


def performance_profile(distances: pd.DataFrame, taus: np.ndarray) -> pd.DataFrame:
    """rho(tau): the share of tasks (rows) on which each candidate's distance from the best
    (a gap, or a ratio) is at most tau. One row per tau, one column per candidate."""
    values = distances.to_numpy(dtype=float)
    shares = (values[None, :, :] <= np.asarray(taus, dtype=float)[:, None, None]).mean(axis=1)
    return pd.DataFrame(shares, index=pd.Index(taus, name="tau"), columns=distances.columns)


def profile_area(distances: pd.DataFrame, low: float, high: float) -> pd.Series:
    """The area under each candidate's profile between ``low`` and ``high``, divided by
    ``high - low``: 1 when it is within ``low`` of the best everywhere, 0 when never within
    ``high``. Exact for the step function: each task adds ``(high - max(low, d)) / n``."""
    values = distances.to_numpy(dtype=float)
    spans = np.clip(high - np.maximum(low, values), 0.0, high - low)
    return pd.Series(spans.mean(axis=0) / (high - low), index=distances.columns)


def paired_interval(a: pd.Series, b: pd.Series) -> dict[str, float | int | None]:
    """Mean of ``a - b`` over the seeds (index) both have, its 95% t-interval half-width
    and the paired t-test's two-sided p-value; None where two pairs are too few."""
    from scipy import stats

    pairs = pd.concat([a, b], axis=1, join="inner").dropna()
    differences = (pairs.iloc[:, 0] - pairs.iloc[:, 1]).to_numpy(dtype=float)
    n = len(differences)
    if n == 0:
        return {"n": 0, "mean": None, "ci95": None, "p": None}
    mean = float(differences.mean())
    if n < 2:
        return {"n": n, "mean": mean, "ci95": None, "p": None}
    sd = float(differences.std(ddof=1))
    half = ci95(differences)
    if sd == 0:
        p = 1.0 if mean == 0 else 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean) / (sd / math.sqrt(n)), n - 1))
    return {"n": n, "mean": mean, "ci95": half, "p": p}


def holm(pvalues: pd.Series) -> pd.Series:
    """Holm's step-down adjustment of p-values (statsmodels); missing ones stay missing."""
    from statsmodels.stats.multitest import multipletests

    present = pvalues.dropna()
    adjusted = pd.Series(np.nan, index=pvalues.index, dtype=float)
    if len(present):
        adjusted[present.index] = multipletests(present.to_numpy(), method="holm")[1]
    return adjusted


def verdict(mean: float | None, adjusted_p: float | None, alpha: float = 0.05) -> str:
    """``A better``, ``B better`` or ``not separable`` from a difference and its p-value."""
    if mean is None or adjusted_p is None or math.isnan(adjusted_p) or adjusted_p >= alpha:
        return "not separable"
    return "A better" if mean > 0 else "B better"


def overlaps(mean: float, ci: float | None, other: float, other_ci: float | None) -> bool:
    """Whether two 95% intervals overlap (a missing interval is a point)."""
    ci, other_ci = ci or 0.0, other_ci or 0.0
    return mean + ci >= other - other_ci and other + other_ci >= mean - ci


def pareto_front(cost: pd.Series, value: pd.Series) -> pd.Series:
    """Whether each point is on the Pareto front: no other point costs no more and is worth
    at least as much, with one of the two strictly."""
    points = pd.concat([cost, value], axis=1).to_numpy(dtype=float)
    front = []
    for c, v in points:
        dominated = ((points[:, 0] <= c) & (points[:, 1] >= v)) & (
            (points[:, 0] < c) | (points[:, 1] > v)
        )
        front.append(not dominated.any() and not math.isnan(c) and not math.isnan(v))
    return pd.Series(front, index=cost.index)
