"""Executors: what a result records about where it ran and what it shared; parallel trials."""

from dataclasses import replace
from pathlib import Path

import optuna
import pytest

from benchbench import Budget
from benchbench.executors.local import ProcessPoolExecutor
from benchbench.executors.neighbours import Neighbours
from benchbench.executors.worker import module_roots
from benchbench.plugins import PluginConfig
from benchbench.spec import RunResult
from benchbench.storage.store import Store
from benchbench.tuning.study import Target, TuningConfig, load_study, open_storage, tune

TESTS = Path(__file__).parents[1]


@pytest.fixture
def clock(monkeypatch):
    now = [0.0]
    monkeypatch.setattr("benchbench.executors.neighbours.time.monotonic", lambda: now[0])
    return now


def test_a_result_counts_the_runs_that_overlapped_it_on_its_node(clock, registry):
    from benchbench.planning.resolve import resolve_spec

    spec = resolve_spec(registry, task="blobs", arch="mlp", budget=Budget(steps=1))

    def _result(wall):
        result = RunResult.for_spec(spec, "ok")
        result.provenance = {"wall_seconds": wall}
        result.machine = {"busy": False}
        return result

    neighbours = Neighbours()
    given = {"executor": "ray", "cpus_given": 1, "gpus_given": 0}

    clock[0] = 10.0  # a ran 5..10 on n1 while one run was still going on n1, one on n2
    a = _result(5.0)
    neighbours.placed(a, "n1", [("n1", 7.0), ("n2", 1.0)], given)
    assert a.machine == {**given, "busy": True, "node": "n1", "runs_alongside": 1}

    clock[0] = 12.0  # b ran 8..12 on n1: it overlapped a (5..10), nothing runs now
    b = _result(4.0)
    neighbours.placed(b, "n1", [], given)
    assert b.machine["runs_alongside"] == 1 and b.machine["busy"] is True

    clock[0] = 20.0  # c ran 17..20 on n1 alone; d ran 5..20 on n2, beside nothing of n2
    c, d = _result(3.0), _result(15.0)
    neighbours.placed(c, "n1", [], given)
    neighbours.placed(d, "n2", [], given)
    assert c.machine["runs_alongside"] == 0 and c.machine["busy"] is False
    assert d.machine["runs_alongside"] == 0 and d.machine["busy"] is False

    # e ran 21..25 on n2's clock but arrives late: f started on n2 at 26 (after e ended)
    # and g at 24; a run measured where it ran overlaps only what overlapped it there
    clock[0] = 40.0
    e = _result(4.0)
    neighbours.placed(e, "n2", [("n2", 26.0), ("n2", 24.0), ("n1", 22.0)], given, (21.0, 25.0))
    assert e.machine["runs_alongside"] == 1  # g; not f, not d (5..20), not n1's run


def test_workers_find_the_folders_the_p_modules_came_from():
    import benchbench_tasks

    plugins = Path(benchbench_tasks.__file__).resolve().parents[1]
    modules = ("bb_test_plugin", "benchbench_tasks", "benchbench_tasks.digits", "no:x", "nope")
    assert module_roots(modules) == (str(TESTS.resolve()), str(plugins))


def test_parallel_trials_in_worker_processes_keep_the_count_and_prune(pm, tmp_path, data_dir):
    url = f"sqlite:///{tmp_path / 'benchbench.db'}"
    Store(url)
    studies = open_storage(url)
    target = Target("blobs", "mlp", budget=Budget(steps=24, eval_every=1))
    config = TuningConfig(trials=12, pruner="median", seed=1)
    with ProcessPoolExecutor(PluginConfig(modules=("bb_test_plugin",)), data_dir, 2) as pool:
        summary = tune(target, config, pm, studies, data_dir, executor=pool, parallel=2)
    study = load_study(studies, summary.study)
    states = [t.state for t in study.trials]
    assert len(study.trials) == 12 and summary.trials == 12  # asked for 12: not one more
    assert sorted(t.number for t in study.trials) == list(range(12))
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.FAIL not in states
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert summary.pruned == len(pruned) >= 1  # reported from the workers, pruned there
    assert all(max(t.intermediate_values) < 24 for t in pruned)
    assert len({str(sorted(t.params.items())) for t in study.trials}) == 12  # none repeated
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(t.user_attrs["status"] == "ok" and 0.25 < t.value <= 1 for t in complete)


@pytest.mark.e2e  # a flow across several commands, each with its worker processes: with the end-to-end ones
def test_a_run_lost_with_its_node_is_run_again_by_the_next_run(tmp_path, data_dir):
    from click.testing import CliRunner

    from benchbench.cli import cli
    from benchbench.executors.base import LOST

    suite = tmp_path / "s.toml"
    suite.write_text(
        "seeds = 2\nbudget = { steps = 8 }\n[[tracks]]\nname = 'a'\nkind = 'arch'\n"
        "candidates = ['mlp']\ntasks = ['blobs']\n"
    )
    base = ["-p", "bb_test_plugin", "--data-dir", str(data_dir), "run", str(suite)]
    runner = CliRunner()
    first = runner.invoke(cli, [*base, "--out", str(tmp_path)])
    assert first.exit_code == 0, first.output
    store = Store(f"sqlite:///{tmp_path / 'benchbench.db'}")
    kept, lost = sorted(store.results(), key=lambda r: r.seed)
    gone = replace(lost, status="failed", error="NodeDiedError: lost", error_component=LOST)
    store.save(gone)
    again = runner.invoke(cli, [*base, "--out", str(tmp_path)])
    assert again.exit_code == 0, again.output
    assert "1 runs lost with their cluster node run again" in again.stderr
    assert "1 already stored, 1 to run" in again.stderr
    after = {r.run_id: r for r in store.results()}
    assert after[lost.run_id].status == "ok" and after[kept.run_id].to_dict() == kept.to_dict()
    store.save(replace(kept, status="failed", error="RuntimeError: flaky"))  # the method's own
    plain = runner.invoke(cli, [*base, "--out", str(tmp_path)])
    assert plain.exit_code == 1 and "2 already stored, 0 to run" in plain.stderr  # kept as is
    retried = runner.invoke(cli, [*base, "--out", str(tmp_path), "--retry-failed"])
    assert retried.exit_code == 0 and "1 already stored, 1 to run" in retried.stderr
    assert {r.status for r in store.results()} == {"ok"}


def test_cuda_runs_get_a_worker_per_gpu_and_never_share_one(monkeypatch, registry):
    """The placement logic with a faked machine of 3 GPUs: one worker per GPU by default,
    fewer when asked, never more workers than GPUs, and only the GPUs this process may use."""
    import torch

    from benchbench import BenchbenchError
    from benchbench.executors.base import Placement
    from benchbench.executors.choose import open_executor

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 3)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    config = PluginConfig()

    def local(device, runs=None, share=1.0):
        placement = Placement(config, workers=runs, timeout=60.0, gpus_per_run=share)
        pool, device, _ = open_executor(registry, "local", placement, device)
        return pool, device

    pool, device = local("cuda")
    assert device == "cuda" and pool.slots == 3 and pool.gpus == ["0", "1", "2"]
    assert local("cuda", 2)[0].gpus == ["0", "1"]
    with pytest.raises(BenchbenchError, match="workers=4 on 3 GPU.s. would put more than 1"):
        local("cuda", 4)
    # asked to share: half a GPU each fills every GPU's first slot before any second
    assert local("cuda", share=0.5)[0].gpus == ["0", "0", "1", "1", "2", "2"]
    assert local("cuda", 4, 0.5)[0].gpus == ["0", "0", "1", "2"]
    assert local("cuda", 3, 0.5)[0].gpus == ["0", "1", "2"]
    assert local("cuda", share=0.4)[0].slots == 6  # two whole runs fit in one GPU
    with pytest.raises(BenchbenchError, match="or gpus_per_run=0.333"):
        local("cuda", 7, 0.5)
    assert local("cuda:1", 2, 0.5)[0].slots == 2
    with pytest.raises(
        BenchbenchError, match="gpus_per_run must be a number above 0 and at most 1"
    ):
        local("cuda", share=1.5)
    with pytest.raises(BenchbenchError, match="would put 2 runs on one GPU"):
        local("cuda:1", 2)
    assert local("cuda:1")[0].gpus is None and local("cpu", 2)[0].slots == 2
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "5,7")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert local("cuda")[0].gpus == ["5", "7"]


def test_each_gpu_worker_sees_only_its_gpu_and_runs_on_others_are_not_neighbours(data_dir):
    """Runs through a pool of two GPU workers (CPU runs here, so no GPU is needed): each ran
    in a process that saw one GPU id, the one its placement names, and two runs at once on
    different GPUs are not counted as running alongside each other."""
    from benchbench.planning.resolve import resolve_spec
    from benchbench.plugins import get_plugin_manager

    registry = get_plugin_manager(PluginConfig()).registry
    specs = [
        resolve_spec(registry, task="digits", arch="mlp", budget=Budget(steps=30), seed=seed)
        for seed in range(4)
    ]
    with ProcessPoolExecutor(PluginConfig(), data_dir, timeout=120, gpus=["3", "5"]) as pool:
        results = list(pool.run(specs))
    assert sorted(r.seed for r in results) == [0, 1, 2, 3]
    for result in results:
        assert result.status == "ok", result.error
        assert result.provenance["cuda_visible_devices"] == result.machine["gpu"]
        assert result.machine["runs_alongside"] == 0  # (the CPU watch may still flag busy:
        # these CPU runs do share cores)
    assert {r.machine["gpu"] for r in results} == {"3", "5"}


def test_runs_asked_to_share_a_gpu_run_together_and_are_flagged(data_dir):
    """--gpus-per-run 0.5 on one GPU: one pool of two workers that both see that GPU; each
    run counts the other as running alongside and is flagged busy."""
    from benchbench.planning.resolve import resolve_spec
    from benchbench.plugins import get_plugin_manager

    registry = get_plugin_manager(PluginConfig()).registry
    specs = [
        resolve_spec(registry, task="digits", arch="mlp", budget=Budget(steps=30), seed=seed)
        for seed in range(2)
    ]
    pool = ProcessPoolExecutor(PluginConfig(), data_dir, timeout=120, gpus=["4", "4"])
    with pool:
        results = list(pool.run(specs))
    assert pool.slots == 2
    assert [r.status for r in results] == ["ok", "ok"]
    assert {r.provenance["cuda_visible_devices"] for r in results} == {"4"}
    first, second = results
    assert first.machine["runs_alongside"] == 1 and first.machine["busy"] is True
