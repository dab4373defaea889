import json
import math

import pandas as pd
import pytest

from benchbench.ranking import leaderboard, rank

T_975 = {1: 12.706204736, 2: 4.302652730, 3: 3.182446305}  # Student-t quantiles, by dof


def rows(candidate, accuracies, baseline=False, statuses=None, ttt=None):
    statuses = statuses or ["ok"] * len(accuracies)
    return [
        {
            "suite": "s",
            "track": "t",
            "task": "digits",
            "candidate": candidate,
            "seed": i,
            "baseline": baseline,
            "run_id": f"{candidate}{i}",
            "status": status,
            "test_accuracy": acc if status == "ok" else None,
            "time_to_target_s": (ttt[i] if ttt else None),
            "train_seconds": 2.0,
            "samples_per_s": 100.0,
            "data_wait_fraction": 0.1,
            "params": 1000,
            "arch": "mlp",
            "regularizer": candidate,
            "ssl": "supervised",
            "finetune": "full",
            "device": "cpu",
            "best_val_accuracy": acc,
            "chance_accuracy": 0.1,
        }
        for i, (acc, status) in enumerate(zip(accuracies, statuses, strict=True))
    ]


def test_ci95_against_hand_computation():
    values = [0.90, 0.80, 0.85]
    sd = 0.05  # sample standard deviation of the three
    assert rank.ci95(values) == pytest.approx(T_975[2] * sd / math.sqrt(3), rel=1e-6)
    assert rank.ci95([0.5]) is None


def test_welch_interval_against_hand_computation():
    a, b = [0.90, 0.80, 0.85], [0.70, 0.80]
    va, vb = 0.0025 / 3, 0.005 / 2
    dof = (va + vb) ** 2 / (va**2 / 2 + vb**2 / 1)
    from scipy import stats

    expected = stats.t.ppf(0.975, dof) * math.sqrt(va + vb)
    assert rank.welch_ci95(a, b) == pytest.approx(expected, rel=1e-9)
    assert rank.welch_ci95([0.5, 0.5], [0.4, 0.4]) == 0.0


def test_board_means_intervals_deltas_and_ranks():
    frame = pd.DataFrame(
        rows("none", [0.70, 0.80], baseline=True, ttt=[None, 1.5])
        + rows("mixup", [0.90, 0.80, 0.85], ttt=[1.0, 2.0, 4.0])
        + rows("broken", [0.99, 0.0, 0.0], statuses=["ok", "diverged", "failed"])
    )
    board = rank.build(frame).set_index("candidate")
    # broken has the best ok seed (0.99) but ranks last: its seeds did not all end ok
    assert list(board.index) == ["mixup", "none", "broken"]
    assert list(board["rank"]) == [1, 2, 3]
    mixup, none, broken = board.loc["mixup"], board.loc["none"], board.loc["broken"]
    assert mixup["test_accuracy_mean"] == pytest.approx(0.85)
    assert mixup["test_accuracy_ci95"] == pytest.approx(T_975[2] * 0.05 / math.sqrt(3))
    assert none["test_accuracy_ci95"] == pytest.approx(T_975[1] * math.sqrt(0.005) / math.sqrt(2))
    assert mixup["delta_vs_baseline"] == pytest.approx(0.10)
    assert mixup["delta_ci95"] == pytest.approx(rank.welch_ci95([0.9, 0.8, 0.85], [0.7, 0.8]))
    assert none["delta_vs_baseline"] == 0.0 and pd.isna(none["delta_ci95"])
    assert mixup["time_to_target_s"] == 2.0 and mixup["reached_target"] == 3
    # one of two seeds missed the target: the median of (1.5, never) is never
    assert pd.isna(none["time_to_target_s"]) and none["reached_target"] == 1
    # the diverged seed counts as chance (0.1), the failed one is left out
    assert (broken["seeds"], broken["ok"], broken["diverged"], broken["failed"]) == (3, 1, 1, 1)
    assert broken["test_accuracy_mean"] == pytest.approx((0.99 + 0.1) / 2)
    assert broken["test_accuracy_ci95"] == pytest.approx(
        T_975[1] * float(pd.Series([0.99, 0.1]).std()) / math.sqrt(2)
    )
    assert broken["delta_vs_baseline"] == pytest.approx(0.545 - 0.75)
    assert not broken["complete"] and mixup["complete"]
    assert pd.isna(broken["time_to_target_s"]) and broken["reached_target"] == 0
    assert mixup["loader_verdict"] == "compute-bound" and mixup["params"] == 1000
    # by time: mixup reaches the target (median 2.0 s); none never does, broken is incomplete
    assert list(board["time_rank"]) == [1, 2, 2]


def test_time_rank_orders_by_median_seconds_to_target():
    frame = pd.DataFrame(
        rows("adamw", [0.9, 0.9, 0.9], baseline=True, ttt=[3.0, 4.0, 5.0])
        + rows("sam", [0.95, 0.95, 0.95], ttt=[6.0, 7.0, 8.0])
        + rows("lion", [0.8, 0.8, 0.8], ttt=[1.0, 2.0, None])
        + rows("sgd", [0.7, 0.7, 0.7], ttt=[None, None, 1.0])
    )
    board = rank.build(frame).set_index("candidate")
    # lion: median of (1, 2, never) is 2 s; sgd: of (never, never, 1) never
    assert board["time_rank"].to_dict() == {"sam": 3, "adamw": 2, "lion": 1, "sgd": 4}
    assert board["rank"].to_dict() == {"sam": 1, "adamw": 2, "lion": 3, "sgd": 4}
    text = leaderboard.render(rank.build(frame), "plain")
    assert "t-rank" in text and "rank by time to target" in " ".join(text.split())


def test_incomplete_rows_never_outrank_complete_ones_and_nan_is_never_shown():
    frame = pd.DataFrame(
        rows("none", [0.70, 0.80, 0.75], baseline=True)
        + rows("flaky", [0.95, 0.95, 0.0], statuses=["ok", "ok", "failed"])
        + rows("lucky", [0.99, 0.99, 0.0], statuses=["ok", "ok", "diverged"])
        + rows("gone", [0.0, 0.0], statuses=["diverged", "diverged"])
        + rows("dead", [0.0, 0.0], statuses=["failed", "timed-out"])
    )
    board = rank.build(frame).set_index("candidate")
    assert list(board.index) == ["none", "flaky", "lucky", "gone", "dead"]
    assert list(board["rank"].astype(object).where(board["rank"].notna(), None)) == [
        1,
        2,
        3,
        4,
        None,
    ]
    assert board.loc["flaky", "test_accuracy_mean"] == pytest.approx(0.95)
    assert board.loc["lucky", "test_accuracy_mean"] == pytest.approx((0.99 * 2 + 0.1) / 3)
    assert board.loc["gone", "test_accuracy_mean"] == pytest.approx(0.1)
    assert board.loc["gone", "test_accuracy_ci95"] == 0.0
    assert pd.isna(board.loc["dead", "test_accuracy_mean"])
    for fmt in ("markdown", "plain"):
        text = leaderboard.render(rank.build(frame), fmt)
        assert "nan" not in text.lower() and "<NA>" not in text and "None" not in text
        assert "2/3: 1 failed" in text and "2/3: 1 diverged" in text
        assert "0/2: 2 diverged" in text and "0/2: 2 failed" in text
        assert rank.RULE in " ".join(text.split())
    records = json.loads(leaderboard.render(rank.build(frame), "json"))
    assert all(not (isinstance(v, float) and math.isnan(v)) for r in records for v in r.values())


def test_renderings_carry_the_promised_fields():
    board = rank.build(pd.DataFrame(rows("none", [0.7, 0.8], baseline=True)))
    records = json.loads(leaderboard.render(board, "json"))
    assert set(records[0]) >= {
        "track",
        "task",
        "candidate",
        "rank",
        "seeds",
        "test_accuracy_mean",
        "test_accuracy_ci95",
        "delta_vs_baseline",
        "time_to_target_s",
        "data_wait_fraction",
        "params",
    }
    markdown = leaderboard.render(board, "markdown")
    assert "### s / t / digits" in markdown and "75.00 (n=2)" in markdown  # no 2-seed interval
    assert records[0]["test_accuracy_ci95"] == pytest.approx(0.6353, abs=1e-4)  # kept in data
    assert (
        leaderboard.render(board, "csv")
        .splitlines()[0]
        .startswith("suite,track,task,candidate,rank")
    )
    assert "none (baseline)" in leaderboard.render(board, "plain")
    assert leaderboard.render(rank.build(pd.DataFrame()), "markdown") == "no results yet\n"


def test_provenance_names_versions_device_and_plugins():
    from benchbench import RunResult, RunSpec

    result = RunResult.for_spec(RunSpec(task="t", arch="a"), "ok")
    result.provenance = {
        "benchbench": "0.1.0",
        "torch": "2.13.0",
        "device": "cpu",
        "device_name": "Xeon",
        "torch_threads": 2,
        "host": "h",
        "plugins": [
            {"plugin": "archs", "distribution": "benchbench", "version": "0.1.0"},
            {"plugin": "mine", "distribution": None, "version": None},
        ],
    }
    line = leaderboard.provenance([result, result])
    assert line == (
        "2 runs by benchbench 0.1.0, torch 2.13.0, on cpu (Xeon, 2 threads) of h; "
        "plugins: archs (benchbench 0.1.0), mine (-p)."
    )
    assert leaderboard.provenance([]) == "No results."


def test_the_database_ranks_the_published_set_as_pandas_does(tmp_path):
    """The leaderboard aggregated in SQL (:meth:`Store.groups`, medians per group by
    primary-key range) and the one ranked in pandas from every place's JSON agree on every row of
    the published default set, rank for rank and number for number."""
    from pathlib import Path

    import numpy as np

    import benchbench as bb
    from benchbench.ranking import rank
    from benchbench.storage.store import Store

    published = Path(__file__).parents[2] / "leaderboards" / "default.jsonl.gz"
    bb.import_results(published, out=tmp_path, progress=False)
    store = Store(f"sqlite:///{tmp_path / 'benchbench.db'}")
    key = store.find_suite("default")
    sql = rank.build_groups(store.groups(key), store.tunings(key))
    pandas = rank.build(store.frame(key), store.tunings(key))
    assert len(sql) == len(pandas) == 137
    for column in rank.COLUMNS:
        if column == "variant":
            continue
        mine, theirs = sql[column].tolist(), pandas[column].tolist()
        if column in ("test_accuracy_ci95", "delta_ci95", "delta_vs_baseline",
                      "test_accuracy_mean", "test_ece_mean", "time_to_target_s",
                      "train_seconds", "samples_per_s", "data_wait_fraction", "model_bytes",
                      "latency_batch1_ms", "latency_batch1024_ms", "source_train_seconds"):  # fmt: skip
            np.testing.assert_allclose(
                np.array(mine, dtype=float), np.array(theirs, dtype=float),
                rtol=1e-9, atol=1e-12, err_msg=column,
            )  # fmt: skip
        else:
            assert [None if rank.missing(v) else v for v in mine] == [
                None if rank.missing(v) else v for v in theirs
            ], column


def test_peak_gpu_memory_is_averaged_and_shown_beside_size_and_latency():
    from datetime import datetime, timezone

    from benchbench.storage.schema import run_row

    data = rows("none", [0.7, 0.8, 0.9], baseline=True)
    for row, peak in zip(data, (100.0, 200.0, 330.0), strict=True):
        row.update(device="cuda", peak_memory_mb=peak)
    board = rank.build(pd.DataFrame(data))
    assert board.iloc[0]["peak_memory_mb"] == pytest.approx(210.0)
    records = json.loads(leaderboard.render(board, "json"))
    assert records[0]["peak_memory_mb"] == pytest.approx(210.0)
    header, _, first = leaderboard.render(board, "markdown").splitlines()[2:5]
    cells = {h.strip(): c.strip() for h, c in zip(header.split("|"), first.split("|"), strict=True)}
    assert cells["peak MB"] == "210"  # (a board of CPU runs has no such column)
    cpu = rank.build(pd.DataFrame(rows("none", [0.7, 0.8], baseline=True)))
    assert "peak_memory_mb" in cpu and rank.missing(cpu.iloc[0]["peak_memory_mb"])
    # the database's column comes from the result's conditions
    result = {"run_id": "x", "status": "ok", "machine": {"peak_memory_allocated_mb": 512.5}}
    assert run_row(result, datetime.now(timezone.utc))[0]["peak_memory_mb"] == 512.5
