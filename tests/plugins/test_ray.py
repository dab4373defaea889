"""Runs and trials on Ray: a Ray instance of this process, then a real two-node cluster on
this machine (a head and a worker node, each a ``ray start`` of its own with one CPU), the
``benchbench`` command driving it from another process. The node-loss test kills the worker
node's processes with SIGKILL, so it comes last.

Needs ``benchbench[ray]``; end to end (minutes), so .ci/run runs these after the README's
test command. No assertion depends on this machine's speed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from run_records import numbers, stored  # stored: the results, read from SQLite

pytest.importorskip("ray")
pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc"),
]

TESTS = Path(__file__).parents[1]
RAY = str(Path(sys.executable).parent / "ray")
LIVE = Path(tempfile.mkdtemp(prefix="bb-live-"))  # bb_live_tracker's marks, seen by every node
ENV = {
    **os.environ,
    "BB_LIVE_DIR": str(LIVE),
    "PYTHONPATH": str(TESTS),
    "RAY_AUTH_MODE": "token",  # Ray's default for 'ray start': a token in ~/.ray
    "RAY_USAGE_STATS_ENABLED": "0",
}


def benchbench(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchbench", "-p", "bb_test_plugin", *args]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900, **kwargs)


def test_a_ray_instance_records_each_way_a_run_ends(pm, data_dir):
    from benchbench_executors.ray import RayExecutor

    from benchbench import Budget
    from benchbench.executors.base import Job, Placement
    from benchbench.planning.resolve import resolve_spec
    from benchbench.plugins import PluginConfig

    def spec(regularizer):
        return resolve_spec(
            pm.registry, task="blobs", arch="mlp", regularizer=regularizer, budget=Budget(steps=30)
        )

    names = ["none", "hang", "crash", "explode"]
    placement = Placement(PluginConfig(modules=("bb_test_plugin",)), data_dir, timeout=10)
    executor = RayExecutor(placement)
    got = {}
    with executor:
        assert executor.use_device("auto") == "cpu" and executor.slots >= 1
        for name in names:
            executor.submit(Job(spec(name)))
        while executor.busy:
            got.update({job.spec.regularizer: r for job, r in executor.wait(1.0)})
    assert got["none"].status == "ok" and got["none"].test_accuracy > 0.25  # 4 classes
    assert got["none"].machine["executor"] == "ray" and got["none"].machine["cpus_given"] == 1
    assert got["none"].machine["threads"] == 1  # pinned to the one CPU it was given
    assert got["hang"].status == "timed-out" and "exceeded 10 s" in got["hang"].error
    assert got["crash"].status == "failed" and "worker process died, twice" in got["crash"].error
    assert got["explode"].status == "failed" and got["explode"].error == "RuntimeError: boom"
    assert got["explode"].error_component == "regularizer explode"


def test_tune_on_ray_records_a_hanging_trial_as_timed_out_and_finishes(tmp_path):
    out = tmp_path / "out"
    args = ["--task", "blobs", "--arch", "mlp", "--regularizer", "hang", "--steps", "20"]
    done = benchbench(
        "tune", *args, "--trials", "2", "--workers", "2", "--executor", "ray",
        "--timeout", "10", "--out", str(out), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    assert (summary["trials"], summary["failed"], summary["complete"]) == (2, 2, 0)
    import optuna

    study = optuna.load_study(study_name=summary["study"], storage=f"sqlite:///{out}/benchbench.db")
    assert [t.user_attrs["status"] for t in study.trials] == ["timed-out", "timed-out"]
    assert all("exceeded 10 s" in t.user_attrs["error"] for t in study.trials)


def _raylets() -> set[int]:
    pids = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if command.endswith(b"/raylet"):
                pids.add(int(entry.name))
    return pids


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _running_a_run(raylet: int) -> bool:
    """Whether a worker process of this raylet is executing a run now (Ray titles a worker
    by the task it executes, ``ray::IDLE`` between tasks)."""
    for pid in _children(raylet):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(b"ray::ray_task"):
                return True
        except OSError:
            continue
    return False


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster on this machine: a head node and a worker node, one CPU each. Yields
    (address, the worker node's raylet pid)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    common = ["--num-cpus=1", "--object-store-memory=100000000", "--disable-usage-stats"]
    start = [RAY, "start", "--head", f"--port={port}", "--include-dashboard=false", *common]
    subprocess.run(start, env=ENV, check=True, capture_output=True, timeout=120)
    before = _raylets()
    address = f"127.0.0.1:{port}"
    join = [RAY, "start", f"--address={address}", *common]
    subprocess.run(join, env=ENV, check=True, capture_output=True, timeout=120)
    (worker,) = _raylets() - before
    yield address, worker
    subprocess.run([RAY, "stop", "--force"], env=ENV, capture_output=True, timeout=120)


def test_quick_on_a_cluster_stores_what_a_local_run_stores(cluster, tmp_path, data_dir):
    address, _ = cluster
    data = ["--data-dir", str(data_dir)]
    here = benchbench(*data, "run", "quick", "--workers", "2", "--out", str(tmp_path / "local"))
    assert here.returncode == 0, here.stderr[-2000:]
    there = benchbench(
        *data, "run", "quick", "--executor", "ray", "--address", address,
        "--out", str(tmp_path / "ray"),
    )  # fmt: skip
    assert there.returncode == 0, there.stderr[-2000:]
    local, ray = stored(tmp_path / "local"), stored(tmp_path / "ray")
    assert len(local) == 12 and set(ray) == set(local)  # the same run ids
    assert {k: numbers(v) for k, v in ray.items()} == {k: numbers(v) for k, v in local.items()}
    machines = [r["machine"] for r in ray.values()]
    assert len({m["node"] for m in machines}) == 2  # both nodes worked
    assert all(m["executor"] == "ray" and m["cpus_given"] == 1 for m in machines)
    assert there.stdout.splitlines()[0] == here.stdout.splitlines()[0] == "quick"


def test_tasks_a_suite_declares_from_own_data_run_on_the_cluster(cluster, tmp_path):
    """The declarations reach the Ray workers (in their runtime environment), which register
    the same tasks and train them."""
    import numpy as np
    from PIL import Image

    address, _ = cluster
    for name, shade in (("dark", 20), ("light", 230)):
        folder = tmp_path / "pics" / name
        folder.mkdir(parents=True)
        for i in range(12):
            Image.fromarray(np.full((6, 6, 3), shade + i, np.uint8)).save(folder / f"{i}.png")
    suite = tmp_path / "own.toml"
    suite.write_text(
        'seeds = 2\nbudget = { steps = 10 }\n[tasks.pics]\nsource = "imagefolder"\n'
        'path = "pics"\ntarget_accuracy = 0.9\n[[tracks]]\nname = "own"\nkind = "arch"\n'
        'candidates = ["mlp"]\ntasks = ["pics"]\n'
    )
    done = benchbench(
        "run", str(suite), "--executor", "ray", "--address", address, "--out", str(tmp_path / "o")
    )
    assert done.returncode == 0, done.stderr[-2000:]
    results = stored(tmp_path / "o")
    assert len(results) == 2 and {r["task"] for r in results.values()} == {"pics"}
    assert all(r["status"] == "ok" and r["machine"]["executor"] == "ray" for r in results.values())


def test_eval_points_reach_the_driver_s_tracker_while_runs_train_on_the_cluster(cluster, tmp_path):
    """--log on Ray: the runs' eval points come back over a Ray queue to the driver's
    tracker while they train (each worker waits at a point for the mark of the one before,
    which only the driver's tracker makes), and no node needs the tracker."""
    address, _ = cluster
    suite = tmp_path / "live.toml"
    suite.write_text(
        'seeds = 2\nbudget = { epochs = 3, eval_every = 1 }\n[[tracks]]\nname = "t"\n'
        'kind = "arch"\ncandidates = ["mlp"]\ntasks = ["blobs"]\n'
    )
    done = benchbench(
        "-p", "bb_live_tracker", "run", str(suite), "--executor", "ray", "--address", address,
        "--out", str(tmp_path / "out"), "--log", "live",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    runs = stored(tmp_path / "out")
    assert len(runs) == 2
    for run_id in runs:
        seen = sorted(p.name for p in LIVE.glob(f"{run_id}-*.seen"))
        assert len(seen) == 2, seen  # three points a run: the first two seen from the next
        assert not list(LIVE.glob(f"{run_id}-*.missed"))
        assert (LIVE / f"{run_id}-finished").exists()


@pytest.mark.skipif(
    not os.environ.get("BENCHBENCH_TEST_POSTGRES"),
    reason="needs a PostgreSQL server: BENCHBENCH_TEST_POSTGRES=postgresql://... (.ci/run sets it)",
)
def test_two_parallel_ray_trials_share_a_postgresql_study(cluster, tmp_path):
    import optuna

    address, _ = cluster
    url = os.environ["BENCHBENCH_TEST_POSTGRES"]
    args = ["--task", "blobs", "--arch", "mlp", "--steps", "24", "--trials", "16"]
    done = benchbench(
        "tune", *args, "--workers", "2", "--executor", "ray", "--address", address,
        "--storage", url, "--seed", str(os.getpid()), "--out", str(tmp_path), "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    study = optuna.load_study(study_name=summary["study"], storage=url)
    states = {t.state for t in study.trials}
    assert summary["trials"] == summary["n_trials"] == len(study.trials) == 16
    assert sorted(t.number for t in study.trials) == list(range(16))  # none lost
    assert len({json.dumps(t.params, sort_keys=True) for t in study.trials}) == 16  # none twice
    assert optuna.trial.TrialState.RUNNING not in states
    assert optuna.trial.TrialState.FAIL not in states
    assert summary["pruned"] >= 1  # reported from the nodes, pruned there


LONG_SUITE = """
seeds = 4
budget = { epochs = 10 }

[[tracks]]
name = "architectures"
kind = "arch"
candidates = ["cnn", "mlp"]
tasks = ["mnist1d"]
"""


def test_losing_a_node_keeps_what_finished_and_a_rerun_completes(cluster, tmp_path, data_dir):
    address, worker = cluster
    suite = tmp_path / "long.toml"
    suite.write_text(LONG_SUITE)
    out = tmp_path / "out"
    command = [
        sys.executable, "-m", "benchbench", "--data-dir", str(data_dir), "run", str(suite),
        "--executor", "ray", "--address", address, "--out", str(out),
    ]  # fmt: skip
    driver = subprocess.Popen(command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and driver.poll() is None:
        if len(stored(out)) >= 2 and _running_a_run(worker):  # a run to lose with the node
            time.sleep(0.5)  # past its first moments, its start recorded
            if _running_a_run(worker):
                break
        time.sleep(0.1)
    before = stored(out)
    assert 2 <= len(before) < 8, "the suite should be under way"
    for pid in [*_children(worker), worker]:  # the worker node, all at once
        os.kill(pid, signal.SIGKILL)
    _, err = driver.communicate(timeout=900)
    after = stored(out)
    assert driver.returncode in (0, 1), err[-2000:]
    assert {k: numbers(after[k]) for k in before} == {k: numbers(v) for k, v in before.items()}
    assert len(after) == 8  # every run stored: ok, or recorded as lost with its node
    lost = {k for k, r in after.items() if r["status"] != "ok"}
    assert all(after[k]["error_component"] == "cluster" for k in lost)
    retried = [r for r in after.values() if r["status"] == "ok" and r["machine"]["attempt"] == 2]
    assert retried or lost  # the run on the node that died was retried, or recorded
    again = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(lost)} to run" in again.stderr
    final = stored(out)
    assert len(final) == 8 and all(r["status"] == "ok" for r in final.values())
