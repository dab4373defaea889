"""Tuning: equal effort per candidate, validation only, pruning, resuming, sharing a study."""

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from benchbench import Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.planning.suite import load_suite, plan, target
from benchbench.storage.store import Store
from benchbench.tuning.study import (
    Target,
    TuningConfig,
    finished,
    load_study,
    open_storage,
    study_name,
    summarize,
    tune,
)

TESTS = Path(__file__).parents[1]
BLOBS = Target("blobs", "mlp", budget=Budget(steps=24, eval_every=1))  # 8 steps per epoch


@pytest.fixture
def storage(tmp_path):
    url = f"sqlite:///{tmp_path / 'benchbench.db'}"
    Store(url)
    return url, open_storage(url)


def test_tuning_config_is_validated():
    assert TuningConfig.from_dict({"trials": 5, "budget": {"steps": 10}}).budget == Budget(steps=10)
    for bad, message in [
        ({"trials": 0}, "positive integer"),
        ({"sampler": "grid"}, "sampler must be one of"),
        ({"pruner": "asha"}, "pruner must be one of"),
        ({"trails": 3}, r"unknown tuning key\(s\) \['trails'\]"),
    ]:
        with pytest.raises(ValueError, match=message):
            TuningConfig.from_dict(bad)


def test_every_candidate_gets_the_same_trials_and_the_test_split_is_never_read(
    pm, storage, data_dir
):
    from bb_test_plugin import TEST_SPLIT_READS

    url, studies = storage
    config = TuningConfig(trials=3, pruner="none")
    candidates = [
        Target("watched-blobs", "mlp", regularizer=r, budget=Budget(steps=16))
        for r in ("none", "label-smoothing")
    ]
    TEST_SPLIT_READS.clear()
    summaries = [tune(c, config, pm, studies, data_dir) for c in candidates]
    assert TEST_SPLIT_READS == []  # three trials each, and not one read of the test split
    assert [s.trials for s in summaries] == [3, 3] and [s.complete for s in summaries] == [3, 3]
    assert all(0.25 < s.best_value <= 1.0 for s in summaries)  # 4 classes: chance is 0.25
    assert "label-smoothing.alpha" in summaries[1].best_params
    assert "label-smoothing.alpha" not in summaries[0].best_params
    assert summaries[0].study != summaries[1].study
    # the watch works: an ordinary run reads the test split
    spec = resolve_spec(pm.registry, task="watched-blobs", arch="mlp", budget=Budget(steps=2))
    assert execute(spec, pm, data_dir).test_accuracy is not None and TEST_SPLIT_READS


def test_pruning_stops_bad_trials_early(pm, storage, data_dir):
    _, studies = storage
    summary = tune(BLOBS, TuningConfig(trials=12, pruner="median", seed=1), pm, studies, data_dir)
    study = load_study(studies, summary.study)
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert summary.pruned == len(pruned) >= 1 and summary.trials == 12
    assert all(max(t.intermediate_values) < 24 for t in pruned)  # stopped before the last step
    assert all(max(t.intermediate_values) == 24 for t in complete)
    assert all(t.number >= 5 for t in pruned)  # the median pruner starts after 5 trials
    code = study.user_attrs["code"]  # the study says which code it tuned
    assert code["task:blobs"].startswith("-p bb_test_plugin") and code["arch:mlp"]


def test_a_resumed_study_continues_from_its_stored_trials(pm, storage, data_dir):
    _, studies = storage
    config = TuningConfig(trials=3, pruner="none")
    first = tune(BLOBS, config, pm, studies, data_dir)
    before = [t.params for t in finished(load_study(studies, first.study))]
    second = tune(BLOBS, TuningConfig(trials=5, pruner="none"), pm, studies, data_dir)
    study = load_study(studies, second.study)
    assert second.study == first.study and len(study.trials) == 5
    assert [t.params for t in finished(study)][:3] == before
    again = tune(BLOBS, TuningConfig(trials=5, pruner="none"), pm, studies, data_dir)
    assert len(load_study(studies, again.study).trials) == 5  # nothing left to do


def test_the_study_name_follows_what_is_tuned(pm):
    config = TuningConfig()
    name = study_name(BLOBS, config, pm)
    assert name == study_name(BLOBS, TuningConfig(trials=99), pm)  # more trials: same study
    assert name != study_name(BLOBS, TuningConfig(seed=1), pm)
    other = Target("blobs", "mlp", fixed={"lr": 0.01}, budget=BLOBS.budget)
    assert name != study_name(other, config, pm)


def workers(url, count, trials, extra=()):
    """Start ``count`` 'benchbench tune' processes on one storage; wait for all."""
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    command = [sys.executable, "-m", "benchbench", "-p", "bb_test_plugin", "tune"]
    args = ["--task", "blobs", "--arch", "mlp", "--steps", "24", "--pruner", "none"]
    processes = [
        subprocess.Popen(
            [
                *command,
                *args,
                "--trials",
                str(trials),
                "--storage",
                url,
                "--worker",
                str(i),
                "--json",
                *extra,
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(count)
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert all(p.returncode == 0 for p in processes), [err[-500:] for _, err in outputs]
    return [json.loads(out) for out, _ in outputs]


def check_shared(url, reports, trials):
    studies = open_storage(url)
    study = load_study(studies, reports[0]["study"])
    states = [t.state for t in study.trials]
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.FAIL not in states
    assert trials <= len(study.trials) <= trials + 1  # at most one overshoot per extra worker
    numbers = sorted(t.number for t in study.trials)
    assert numbers == list(range(len(study.trials)))  # none lost
    params = {json.dumps(t.params, sort_keys=True) for t in study.trials}
    assert len(params) == len(study.trials)  # none repeated: the workers sample apart
    assert summarize(study, trials).trials == trials  # the first N, all finished
    # a worker that stops while the other still runs a trial reports what it saw then
    assert max(r["trials"] for r in reports) == trials


@pytest.mark.e2e
def test_two_processes_share_one_sqlite_study(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    check_shared(url, workers(url, 2, 6), 6)


@pytest.mark.e2e
@pytest.mark.skipif(
    not os.environ.get("BENCHBENCH_TEST_POSTGRES"),
    reason="needs a PostgreSQL server: BENCHBENCH_TEST_POSTGRES=postgresql://... (.ci/run sets it)",
)
def test_two_processes_share_one_postgresql_study():
    url = os.environ["BENCHBENCH_TEST_POSTGRES"]
    reports = workers(url, 2, 6, ("--seed", str(os.getpid())))  # a fresh study every time
    check_shared(url, reports, 6)


SUITE = """
seeds = 2
budget = { steps = 16, eval_every = 1 }

[tuning]
trials = 3
pruner = "none"

[[tracks]]
name = "regularizers"
kind = "regularizer"
candidates = ["none", "label-smoothing"]
tasks = ["blobs"]
fixed = { arch = "mlp" }
"""


def test_run_uses_the_tuned_configuration_where_a_study_exists(pm, storage, data_dir, tmp_path):
    url, studies = storage
    path = tmp_path / "tuned.toml"
    path.write_text(SUITE)
    suite = load_suite(str(path), pm.registry)
    track = suite.tracks[0]
    assert track.tuning.trials == 3
    none, smoothing = track.candidates
    summary = tune(
        target(track, "blobs", smoothing, pm.registry, "cpu"), track.tuning, pm, studies, data_dir
    )
    planned = plan(
        suite,
        pm.registry,
        tuned=lambda t, task, c: summary.best_params if c is smoothing else None,
    )
    tuned = [p for p in planned if p.candidate == "label-smoothing"]
    assert {p.seed for p in tuned} == {0, 1}
    for run in tuned:
        assert all(run.spec.hparams[k] == v for k, v in summary.best_params.items())
    untuned = next(p for p in planned if p.candidate == "none")
    assert untuned.spec.hparams["lr"] == 3e-3  # the loop's default


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_cli_tune_then_run_reports_trials_and_hyperparameters(tmp_path, data_dir):
    from click.testing import CliRunner

    from benchbench.cli import cli

    path = tmp_path / "tuned.toml"
    path.write_text(SUITE)
    out = tmp_path / "out"
    runner = CliRunner()
    base = ["-p", "bb_test_plugin", "--data-dir", str(data_dir)]
    before = runner.invoke(cli, [*base, "run", str(path), "--tuned", "--out", str(out)])
    assert before.exit_code == 2 and "suite tuned has not been tuned here" in before.stderr
    tuned = runner.invoke(cli, [*base, "tune", str(path), "--out", str(out), "--json"])
    assert tuned.exit_code == 0, tuned.output
    rows = json.loads(tuned.stdout)
    assert [r["n_trials"] for r in rows] == [3, 3]
    after = runner.invoke(cli, [*base, "run", str(path), "--tuned", "--out", str(out)])
    assert after.exit_code == 0, after.output
    assert "2 places run the best settings" in after.stderr
    assert "(regularizers: 3 trials each)" in after.stderr
    board = json.loads((out / "leaderboards" / "tuned-tuned.json").read_text())
    assert [r["tuning_trials"] for r in board] == [3, 3]
    assert all("lr" in json.loads(r["tuned_params"]) for r in board)
    assert "3 (0)" in (out / "leaderboards" / "tuned-tuned.md").read_text()


def test_tune_says_clearly_what_it_needs(tmp_path):
    from click.testing import CliRunner

    from benchbench.cli import cli

    runner = CliRunner()
    result = runner.invoke(cli, ["tune", "--task", "digits", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "needs both --task and --arch" in result.stderr
    result = runner.invoke(cli, ["tune", "quick", "--task", "digits", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "name a suite, or one candidate with --task" in result.stderr


def test_an_interrupted_trial_is_redone_and_a_crashing_one_counts(pm, storage, data_dir):
    _, studies = storage
    config = TuningConfig(trials=2, pruner="none")
    study = optuna.create_study(study_name=study_name(BLOBS, config, pm), storage=studies)
    interrupted = study.ask()  # a worker that died mid-trial: no run status
    study.tell(interrupted, state=optuna.trial.TrialState.FAIL)
    crashed = study.ask()
    crashed.set_user_attr("status", "failed")  # its run raised: effort spent
    study.tell(crashed, state=optuna.trial.TrialState.FAIL)
    assert [t.number for t in finished(study)] == [1]
    summary = tune(BLOBS, config, pm, studies, data_dir)
    assert summary.trials == 2 and summary.failed == 1 and summary.complete == 1
    assert len(load_study(studies, summary.study).trials) == 3  # only one new trial ran
