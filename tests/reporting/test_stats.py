"""The report's statistics against hand computations on small tables."""

import math

import numpy as np
import pandas as pd
import pytest

from benchbench.reporting import data, stats

# three tasks x three candidates, in binary fractions so every gap is exact
SCORES = pd.DataFrame(
    {"A": [1.0, 0.5, 0.5], "B": [0.75, 0.75, 1.0], "C": [0.5, 0.75, 0.75]},
    index=["t1", "t2", "t3"],
)


def test_mean_ranks_average_ties_and_skip_incomplete_tasks():
    # t1: A 1, B 2, C 3; t2: A 3, B and C tie for 1-2 (1.5 each); t3: A 3, B 1, C 2
    ranks = stats.mean_ranks(SCORES)
    assert list(ranks.index) == ["B", "C", "A"]
    assert ranks.to_dict() == pytest.approx({"A": 7 / 3, "B": 4.5 / 3, "C": 6.5 / 3})
    with_gap = pd.concat([SCORES, pd.DataFrame({"A": [0.1], "B": [None], "C": [0.2]}, ["t4"])])
    assert stats.mean_ranks(with_gap).to_dict() == pytest.approx(ranks.to_dict())


def test_friedman_matches_the_rank_sum_formula():
    # no ties: rank sums A 1+3+3=7, B 2+1+1=4, C 3+2+2=7; N=3, k=3
    table = pd.DataFrame({"A": [3, 1, 1], "B": [2, 3, 3], "C": [1, 2, 2]}, index=[1, 2, 3])
    statistic, p = stats.friedman(table)
    assert statistic == pytest.approx(12 / (3 * 3 * 4) * (49 + 16 + 49) - 3 * 3 * 4)  # 2.0
    assert p == pytest.approx(math.exp(-statistic / 2))  # chi-square, 2 degrees of freedom
    assert stats.friedman(table.iloc[:1]) is None and stats.friedman(table[["A", "B"]]) is None


def test_accuracy_profile_and_its_area():
    gaps = stats.accuracy_gaps(SCORES)  # A: 0, .25, .5; B: .25, 0, 0; C: .5, 0, .25
    assert gaps["A"].tolist() == [0.0, 0.25, 0.5] and gaps["B"].tolist() == [0.25, 0.0, 0.0]
    profile = stats.performance_profile(gaps, np.array([0.0, 0.25, 0.5]))
    assert profile.loc[0.0].tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 3])
    assert profile.loc[0.25].tolist() == pytest.approx([2 / 3, 1.0, 2 / 3])
    assert profile.loc[0.5].tolist() == [1.0, 1.0, 1.0]
    # A's step function: 1/3 on [0, .25), 2/3 on [.25, .5): area .25, over a width of .5
    area = stats.profile_area(gaps, 0.0, 0.5)
    assert area.to_dict() == pytest.approx({"A": 0.5, "B": 1.25 / 1.5, "C": 0.5})


def test_time_profile_counts_never_as_infinitely_slow():
    times = pd.DataFrame({"A": [2.0], "B": [4.0], "C": [None]}, index=["t1"])
    ratios = stats.time_ratios(times)
    assert ratios.iloc[0].tolist() == [1.0, 2.0, math.inf]
    assert stats.performance_profile(ratios, np.array([1.0, 1.9, 2.0])).to_numpy().tolist() == [
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [1.0, 1.0, 0.0],
    ]
    assert stats.profile_area(ratios, 1.0, 4.0).to_dict() == pytest.approx(
        {"A": 1.0, "B": 2 / 3, "C": 0.0}
    )


def test_paired_interval_pairs_seeds():
    a = pd.Series([0.9, 0.8, 0.7, 0.5], index=[0, 1, 2, 3])  # seed 3 has no partner
    b = pd.Series([0.85, 0.8, 0.6], index=[0, 1, 2])
    found = stats.paired_interval(a, b)  # differences .05, 0, .1: mean .05, sd .05
    assert found["n"] == 3 and found["mean"] == pytest.approx(0.05)
    assert found["ci95"] == pytest.approx(4.302652729749464 * 0.05 / math.sqrt(3))
    t = 0.05 / (0.05 / math.sqrt(3))  # sqrt(3); with 2 degrees of freedom p = 1 - t/sqrt(t^2+2)
    assert found["p"] == pytest.approx(1 - t / math.sqrt(t * t + 2))
    assert stats.paired_interval(a.iloc[:1], b)["ci95"] is None


def test_holm_steps_down_and_keeps_order():
    adjusted = stats.holm(pd.Series([0.01, 0.04, 0.03, None], index=list("wxyz")))
    # sorted .01 x3 = .03; .03 x2 = .06; .04 x1 = .04 -> raised to .06 (monotone)
    assert adjusted[["w", "x", "y"]].tolist() == pytest.approx([0.03, 0.06, 0.06])
    assert math.isnan(adjusted["z"])


def test_compare_gives_verdicts_from_holm_adjusted_paired_tests():
    def runs(task, candidate, accuracies):
        return [
            {"track": "t", "task": task, "candidate": candidate, "seed": seed, "status": "ok",
             "test_accuracy": value}
            for seed, value in enumerate(accuracies)
        ]  # fmt: skip

    frame = pd.DataFrame(
        runs("x", "A", [0.9, 0.8, 0.7]) + runs("x", "B", [0.8, 0.7, 0.6001])  # A +.1 each
        + runs("y", "A", [0.5, 0.6, 0.7]) + runs("y", "B", [0.7, 0.8, 0.9002])  # B +.2 each
        + runs("z", "A", [0.9, 0.8, 0.7]) + runs("z", "B", [0.85, 0.8, 0.6])  # noisy
    )  # fmt: skip
    table = data.compare(frame, "A", "B").set_index("task")
    assert table["n"].tolist() == [3, 3, 3]
    assert table.loc["x", "mean"] == pytest.approx(0.09997, abs=1e-5)
    expected = stats.holm(table["p"])
    assert table["p_holm"].tolist() == pytest.approx(expected.tolist())
    assert table["verdict"].to_dict() == {"x": "A better", "y": "B better", "z": "not separable"}
    # the largest p is multiplied by 1, the smallest by the number of tasks
    assert table.loc["z", "p_holm"] == pytest.approx(table.loc["z", "p"])  # (1 - 1/sqrt(5/3))
    smallest = table["p"].idxmin()
    assert table.loc[smallest, "p_holm"] == pytest.approx(3 * table.loc[smallest, "p"])


def test_pareto_front_and_interval_overlap():
    cost = pd.Series([1.0, 2.0, 3.0, 2.5], index=list("abcd"))
    value = pd.Series([0.5, 0.7, 0.9, 0.6], index=list("abcd"))
    assert stats.pareto_front(cost, value).to_dict() == {
        "a": True,
        "b": True,
        "c": True,
        "d": False,
    }
    assert stats.overlaps(0.9, 0.02, 0.95, 0.03) and not stats.overlaps(0.8, 0.02, 0.95, 0.03)
