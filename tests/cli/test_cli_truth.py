"""The command line tells the truth up front (issue 12): values checked before training,
tuned and untuned kept apart, timings that know their conditions, discoverable settings, a
fast start, honest intervals and profiles."""

import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pandas as pd
import pytest
from click.testing import CliRunner

from benchbench.cli import cli
from benchbench.host.cpus import CpuWatch, pin_threads, thread_share
from benchbench.params import Choice, Float, Int, Param, check_declarations, inferred
from benchbench.ranking import leaderboard, rank
from benchbench.running.loader_sweep import summarize, sweep_row

SUITE = """
seeds = 1
budget = { steps = 4 }

[[tracks]]
name = "regs"
kind = "regularizer"
candidates = ["none", "label-smoothing"]
tasks = ["blobs"]
fixed = { arch = "mlp" }
"""


def invoke(*args):
    return CliRunner().invoke(cli, ["-p", "bb_test_plugin", *args], catch_exceptions=False)


def one_line(result, *fragments):
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("benchbench: error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


# -- values and combinations, before anything trains ---------------------------------------


@pytest.mark.parametrize(
    ("sets", "fragments"),
    [
        (["lr=abc"], ["lr='abc'", "lr must be a number > 0"]),
        (["mlp.width=abc"], ["mlp.width='abc'", "an integer >= 1"]),
        (["mlp.width=2.5"], ["mlp.width=2.5", "an integer >= 1"]),
        (["optimizer=sgd"], ["'optimizer' is a component kind", "--optimizer"]),
        (["momentum=0.5"], ["not the loop's", "sgd.momentum"]),
        (["sam.rho=-1"], ["--optimizer sam"]),
        (["warmup=1"], ["warmup=1", "in [0, 1)"]),
        (["pin_memory=3"], ["true or false or null"]),
        (["label-smoothing.alpha=0.2"], ["--regularizer label-smoothing"]),
    ],
)
def test_a_bad_value_is_one_line_naming_key_value_and_what_is_allowed(sets, fragments):
    args = ["run-one", "--task", "blobs", "--arch", "mlp"]
    one_line(invoke(*args, *[x for s in sets for x in ("--set", s)]), *fragments)


def test_impossible_combinations_are_refused_and_doubtful_ones_warned():
    one_line(
        invoke("run-one", "--task", "digits", "--arch", "mlp", "--ssl", "fixmatch"),
        "ssl 'fixmatch' trains on unlabeled data and task 'digits' has none",
    )
    one_line(
        invoke(
            "run-one",
            "--task",
            "blobs",
            "--arch",
            "mlp",
            "--finetune",
            "svm",
            "--regularizer",
            "mixup",
        ),
        "'mixup' would have no effect",
    )
    probe = invoke(
        "run-one", "--task", "blobs", "--arch", "mlp", "--finetune", "linear-probe", "--steps", "2"
    )
    assert probe.exit_code == 0
    assert "benchbench: warning: finetune 'linear-probe' on task 'blobs'" in probe.output
    assert "randomly initialised network" in probe.output


def test_a_suite_with_a_bad_value_is_refused_before_anything_is_created(tmp_path):
    suite = tmp_path / "bad.toml"
    suite.write_text(
        SUITE.replace(
            '"label-smoothing"]',
            '{ name = "label-smoothing", label = "ls-bad", '
            'hparams = { "label-smoothing.alpha" = "abc" } }]',
        )
    )
    out = tmp_path / "out"
    one_line(
        invoke("run", str(suite), "--out", str(out)),
        "suite bad, track regs",
        "label-smoothing.alpha='abc'",
        "a number in [0, 1]",
    )
    assert not out.exists()
    one_line(invoke("tune", str(suite), "--out", str(out)), "label-smoothing.alpha='abc'")


def test_declarations_are_checked_when_a_component_registers():
    assert Float(0, 1).check(0.5) and Float(0, 1).check(1) and not Float(0, 1).check(1.01)
    assert not Float(0, low_open=True).check(0) and Float(0, low_open=True).check(1e-9)
    assert Int(1).check(3) and not Int(1).check(3.0) and not Int(1).check(True)
    assert not Float().check(float("nan")) and not Float().check("1")
    assert Choice("a", "b").check("a") and not Choice(1, 2).check("1")
    assert (
        inferred(True).type == "bool" and inferred(3).type == "int" and inferred("x").type == "str"
    )
    assert Float(0, 1, high_open=True).describe() == "a number in [0, 1)"
    with pytest.raises(ValueError, match="default rate=2 is not a number in"):
        check_declarations("regularizer 'x'", {"rate": 2}, {"rate": Float(0, 1)})
    with pytest.raises(ValueError, match=r"declares params \['nope'\]"):
        check_declarations("regularizer 'x'", {}, {"nope": Param("int")})


def test_every_builtin_hyperparameter_is_declared():
    from benchbench.plugins import PluginConfig, get_plugin_manager

    registry = get_plugin_manager(PluginConfig()).registry
    undeclared = [
        f"{e.name}.{k}" for e in registry for k in e.cls.defaults if k not in e.cls.params
    ]
    assert undeclared == []
    kinds = next(p for p in cli.commands["list"].params if p.name == "kind").metavar
    kinds = kinds.strip("[]").split("|")
    # the command's names are the registry's
    assert set(kinds) == {*registry.entries, "suite", "tracker", "executor"}
    assert {"tensorboard", "mlflow", "wandb"} <= set(registry.trackers)


# -- tuned and untuned apart -------------------------------------------------------------


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_tune_honours_its_options_and_tuned_runs_are_another_leaderboard(tmp_path):
    suite = tmp_path / "mine.toml"
    suite.write_text(SUITE)
    out = tmp_path / "out"
    common = ["--out", str(out), "--device", "cpu"]
    one_line(invoke("run", str(suite), "--tuned", *common), "has not been tuned")
    one_line(invoke("tune", str(suite), "--set", "nope.x=1", *common), "--set nope.x")

    untuned = invoke("run", str(suite), *common)
    assert untuned.exit_code == 0, untuned.output
    plain = (out / "leaderboards" / "mine.json").read_text()
    assert all(r["tuning_trials"] is None for r in json.loads(plain))

    tuned = invoke(
        "tune",
        str(suite),
        "--trials",
        "2",
        "--steps",
        "3",
        "--sampler",
        "random",
        "--seed",
        "5",
        "--set",
        "label-smoothing.alpha=0.05",
        *common,
        "--json",
    )
    assert tuned.exit_code == 0, tuned.output
    from benchbench.storage.store import Store

    stored = Store(f"sqlite:///{out}/benchbench.db").tunings()
    assert all(key.startswith("mine-tuned@") for key in stored["suite"])
    for protocol in stored["protocol"]:
        assert protocol == {
            "trials": 2,
            "sampler": "random",
            "pruner": "median",
            "seed": 5,
            "budget": {"steps": 3, "eval_every": 1.0},
        }
    smoothing = stored[stored["candidate"] == "label-smoothing"].iloc[0]
    assert smoothing["best_params"]["label-smoothing.alpha"] == 0.05  # fixed by --set
    assert list(stored["trials"]) == [2, 2]

    again = invoke("run", str(suite), *common)
    assert "it has been tuned: 'benchbench run mine --tuned'" in again.output
    assert (out / "leaderboards" / "mine.json").read_text() == plain  # never overwritten

    best = invoke("run", str(suite), "--tuned", *common)
    assert best.exit_code == 0, best.output
    assert "suite mine-tuned: 2 places run the best settings" in best.output
    assert "regs: 2 trials each" in best.output
    rows = json.loads((out / "leaderboards" / "mine-tuned.json").read_text())
    assert [r["tuning_trials"] for r in rows] == [2, 2]
    assert (out / "leaderboards" / "mine.json").read_text() == plain

    shown = invoke("leaderboard", "--out", str(out), "--suite", "mine-tuned")
    assert "tuning trials (pruned), s" in shown.output and "runs by benchbench" in shown.output
    one_line(invoke("leaderboard", "--out", str(out), "--suite", "mien"), "did you mean 'mine'")


# -- leaderboards that fit and say what they show ------------------------------------------


def board_rows(candidate, accuracies, baseline=False, busy=False):
    return [
        {
            "suite": "s",
            "track": "t",
            "task": "digits",
            "candidate": candidate,
            "seed": i,
            "baseline": baseline,
            "run_id": f"{candidate}{i}",
            "status": "ok",
            "test_accuracy": acc,
            "time_to_target_s": 1.5,
            "train_seconds": 2.0,
            "samples_per_s": 100.0,
            "data_wait_fraction": 0.1,
            "params": 1000,
            "chance_accuracy": 0.1,
            "busy": busy and i == 0,
            "latency_batch1_ms": 0.5,
        }
        for i, acc in enumerate(accuracies)
    ]


def test_few_seeds_show_n_instead_of_an_interval_and_busy_times_are_marked():
    frame = pd.DataFrame(
        board_rows("none", [0.975, 0.975], baseline=True)
        + board_rows("mixup", [0.9, 0.92, 0.94], busy=True)
    )
    text = leaderboard.render(rank.build(frame), "plain", leaderboard.NARROW)
    assert "97.50 (n=2)" in text and "± 0.00" not in text
    assert "92.00 ± 4.97" in text  # t(0.975, 2) * 0.02 / sqrt(3) = 4.303 * 0.01155
    assert "-5.50 (n=2)" in text  # the baseline has 2 seeds: no Welch interval either
    assert "1.50* (3/3)" in text and "1.50 (2/2)" in text and "t-rank" in text
    flat = " ".join(text.split())
    assert "*: measured on shared hardware (some seeds ran beside other runs" in flat
    assert "calibration" not in flat and "milliseconds" not in flat  # notes of shown columns
    assert "more columns: --wide" in flat
    wide = leaderboard.render(rank.build(frame), "markdown")
    assert "latency: inference milliseconds" in wide and "0.50* / -" in wide
    assert "2.00*" in wide  # busy training seconds, a --wide column
    assert max(len(line) for line in text.splitlines()) <= 100


def test_leaderboard_columns_option_checks_names(tmp_path):
    one_line(
        invoke("leaderboard", "--columns", "latncy", "--out", str(tmp_path)),
        "unknown leaderboard column 'latncy'",
        "did you mean 'latency'",
    )
    assert leaderboard.column_keys("acc, latency") == ("rank", "candidate", "acc", "latency")


# -- discoverable settings ------------------------------------------------------------------


def test_show_gives_defaults_types_ranges_and_search_space():
    shown = invoke("show", "label-smoothing").output
    assert "regularizer label-smoothing" in shown and "--regularizer label-smoothing" in shown
    assert "its runs are identified by: benchbench 0.1.0" in shown
    line = next(x for x in shown.splitlines() if x.startswith("label-smoothing.alpha"))
    assert "0.1" in line and "a number in [0, 1]" in line and "[0, 0.3]" in line
    loop = invoke("show", "loop").output
    batch = next(x for x in loop.splitlines() if x.startswith("batch_size"))
    assert "128" in batch and "an integer >= 1" in batch
    assert "[0.0001, 0.03] log" in next(x for x in loop.splitlines() if x.startswith("lr "))
    task = invoke("show", "digits").output
    assert (
        "target: 95% validation accuracy" in task
        and "epochs 30" in task
        and "batch_size=64" in task
    )
    one_line(invoke("show", "lable-smoothing"), "did you mean 'label-smoothing'")


# -- fast start ------------------------------------------------------------------------------


def test_the_command_line_and_a_cached_dataset_import_nothing_heavy(data_dir):
    probe = (
        "import sys, benchbench.cli.main\n"
        "heavy = [m for m in ('torch', 'pandas', 'optuna') if m in sys.modules]\n"
        "from benchbench_tasks.mnist1d import MNIST1D, cached_dataset\n"
        f"data = cached_dataset({str(data_dir)!r})\n"
        f"splits = MNIST1D().load({str(data_dir)!r})\n"
        "print(heavy, len(data['y']), len(splits.train), 'mnist1d.data' in sys.modules,"
        " 'sklearn' in sys.modules)\n"
    )
    from benchbench_tasks.mnist1d import MNIST1D

    first = MNIST1D().load(data_dir)  # generated, cached, indexed and split by this process
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["[]", "4000", str(len(first.train)), "False", "False"]


# -- conditions of timings -----------------------------------------------------------------


def test_threads_are_pinned_to_a_share_of_the_owned_cores():
    import torch

    owned = len(os.sched_getaffinity(0))
    assert thread_share(1) == owned and thread_share(owned * 2) == 1
    assert thread_share(4, threads=3) == 3
    before = torch.get_num_threads()
    try:
        pin_threads(1)
        assert torch.get_num_threads() == 1 and os.environ["OMP_NUM_THREADS"] == "1"
    finally:
        pin_threads(before)


def test_cpu_watch_counts_other_processes_not_this_one_or_its_children():
    spin = "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass\n"
    child = subprocess.Popen([sys.executable, "-c", spin])  # our own work: not a neighbour
    watch = CpuWatch().start()
    child.wait()
    own = watch.stop(threads=1)
    assert own["other_cores_busy"] < 0.5 and own["threads"] == 1
    # a process that is not ours (its parent exits at once): the machine was busy
    subprocess.run(["sh", "-c", f'{sys.executable} -c "{spin}" >/dev/null 2>&1 &'], check=True)
    watch = CpuWatch().start()
    time.sleep(1.2)
    other = watch.stop(threads=1)
    assert other["other_cores_busy"] > 0.6 and other["busy"] is True


# -- profiles --------------------------------------------------------------------------------


def fake(rate, compute=None, status="ok", busy=False):
    loader = {
        "loader_samples_per_s": 5 * rate,
        "compute_samples_per_s": compute or rate,
        "data_wait_fraction": 0.1,
        "verdict": "compute-bound",
        "prepare_seconds": 0.2,
    }
    return SimpleNamespace(status=status, samples_per_s=rate, loader=loader, machine={"busy": busy})


def test_profile_rows_are_medians_with_a_spread_and_impossible_rates_are_noise():
    device = {"data_path": "device", "workers": 0, "pin_memory": False}
    memory = {"data_path": "memory", "workers": 0, "pin_memory": False}
    row = sweep_row(device, [fake(100), fake(300), fake(200)])
    assert row.train_samples_per_s == 200 and row.train_spread == pytest.approx(1.0)
    assert row.repeats == 3 and row.compute_samples_per_s == 200 and not row.busy
    fast = sweep_row(memory, [fake(260, busy=True), fake(250), fake(256)])
    text = summarize([row, fast])
    assert text.startswith("fastest: memory, 0 workers at 256 samples/s (median of 3, spread 4%)")
    assert "128% of the compute-alone rate (200 samples/s)" in text
    assert "the rates are noise here" in text and "kept the machine busy" in text
    calm = summarize([sweep_row(device, [fake(200), fake(204), fake(202)])])
    assert "noise" not in calm and "busy" not in calm


PLUGIN = """
import benchbench


class Quiet(benchbench.Regularizer):
    name = "quiet"
    summary = "{summary}"
    baseline = True


@benchbench.hookimpl
def benchbench_register_components(registry):
    registry.add(Quiet)
"""


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_list_is_served_from_a_cache_that_follows_plugin_changes(tmp_path):
    (tmp_path / "bb_listed.py").write_text(PLUGIN.format(summary="first words"))
    env = {**os.environ, "PYTHONPATH": str(tmp_path), "BENCHBENCH_DATA": str(tmp_path / "d")}
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from benchbench.cli import cli\n"
        "out = CliRunner().invoke(cli, ['-p', 'bb_listed', 'list', '--kind', 'regularizer']).output\n"
        "print('torch' in sys.modules, [l.split()[1] for l in out.splitlines() if 'quiet' in l],"
        " 'first words' in out)\n"
    )

    def listed():
        done = subprocess.run(
            [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=True
        )
        return done.stdout.strip()

    assert listed() == "True ['quiet'] True"  # built: the plugins were loaded
    assert listed() == "False ['quiet'] True"  # cached: nothing heavy imported
    time.sleep(0.01)
    (tmp_path / "bb_listed.py").write_text(PLUGIN.format(summary="second words"))
    assert listed() == "True ['quiet'] False"  # the plugin changed: listed afresh
