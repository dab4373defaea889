"""Experiment trackers: the relay from workers to the driver's trackers; TensorBoard, MLflow
and W&B (offline) read back with their own readers; live points; trackers that fail."""

from __future__ import annotations

import socket
import warnings
from pathlib import Path

import pytest
from wandb_records import history_and_summary

import benchbench as bb
from benchbench import BenchbenchError, Budget, RunResult, RunSpec
from benchbench.tracking import Session, TrackedRun, Tracker
from benchbench.tracking.relay import open_relay

TESTS = Path(__file__).parents[1]

SUITE = """
seeds = 2
budget = { epochs = 3, eval_every = 1 }
[[tracks]]
name = "regs"
kind = "regularizer"
candidates = ["none", "explode"]
tasks = ["blobs"]
fixed = { arch = "mlp" }
"""


class Recording(Tracker):
    name = "recording"

    def __init__(self, target, session):
        super().__init__(target, session)
        self.calls = []

    def run_started(self, run):
        self.calls.append(("started", run.run_id))

    def eval_point(self, run, point):
        self.calls.append(("point", run.run_id, point["step"]))

    def run_finished(self, run, result):
        self.calls.append(("finished", run.run_id, result.status))

    def files(self, paths):
        self.calls.append(("files", [p.name for p in paths]))

    def close(self):
        self.calls.append(("close",))


class Broken(Recording):
    name = "broken"

    def eval_point(self, run, point):
        raise ConnectionError("tracking server gone")


def test_the_relay_delivers_in_order_and_a_failing_tracker_costs_a_warning():
    trackers = {"recording": Recording, "broken": Broken}
    with warnings.catch_warnings(record=True) as caught:  # raised on the relay's thread
        warnings.simplefilter("always")
        relay = open_relay(["recording", "broken:x"], trackers, Session("suite", "s"))
        recording, broken = relay.trackers
        spec = RunSpec(task="blobs", arch="mlp", seed=3)
        relay.started(TrackedRun.of(spec, suite="s", track="t", candidate="c"))
        forward = relay.forward(spec.run_id)
        for step in (4, 8):
            forward({"step": step, "val_accuracy": 0.5})
        relay.finished(RunResult.for_spec(spec, "diverged"))
        relay.files([Path("a/s.md")])
        relay.close(10)
    run = spec.run_id
    assert recording.calls == [
        ("started", run),
        ("point", run, 4),
        ("point", run, 8),
        ("finished", run, "diverged"),
        ("files", ["s.md"]),
        ("close",),
    ]
    assert broken.calls == [("started", run)]  # called no more after it raised
    assert broken.target == "x"
    lines = [str(w.message) for w in caught]
    assert len(lines) == 1 and "tracker broken: eval_point raised ConnectionError" in lines[0]


def test_a_hung_tracker_delays_neither_the_run_nor_the_end_past_its_bound():
    """A tracker that blocks: forwarding points and results still returns at once (the
    worker and the driver never wait for it), and closing gives up after its bound with a
    warning, leaving the tracker behind."""
    import threading

    entered, release = threading.Event(), threading.Event()

    class Hung(Recording):
        name = "hung"

        def eval_point(self, run, point):
            entered.set()
            release.wait(30)
            super().eval_point(run, point)

    relay = open_relay(["hung"], {"hung": Hung}, Session("suite", "s"))
    (hung,) = relay.trackers
    spec = RunSpec(task="blobs", arch="mlp")
    relay.started(TrackedRun.of(spec))
    forward = relay.forward(spec.run_id)
    for step in range(50):  # returns while the tracker is stuck on the first
        forward({"step": step, "val_accuracy": 0.5})
    relay.finished(RunResult.for_spec(spec, "ok"))
    assert entered.wait(30)  # stuck on the first point, everything sent regardless
    assert hung.calls == [("started", spec.run_id)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        relay.close(seconds=0.2)
    assert any("did not take what was sent within 0 s" in str(w.message) for w in caught)
    release.set()  # the tracker's thread ends on its own


def test_tracked_runs_carry_params_and_tags():
    spec = RunSpec(task="blobs", arch="mlp", seed=2, budget=Budget(epochs=3), hparams={"lr": 0.01})
    run = TrackedRun.of(spec, suite="s", track="t", candidate="c")
    assert run.run_id == spec.run_id and run.name == "blobs/mlp/none/supervised/full/adamw/seed2"
    assert run.params["lr"] == 0.01 and run.params["budget.epochs"] == 3
    assert run.params["seed"] == 2 and run.params["arch"] == "mlp"
    assert run.tags["benchbench.run_id"] == spec.run_id
    assert run.tags["benchbench.candidate"] == "c" and run.tags["benchbench.track"] == "t"


def test_unknown_trackers_and_missing_packages_are_one_line():
    class NeedsPackage(Tracker):
        name = "needy"
        module = "no_such_tracker_package"
        extra = "needy"

    known = {"tensorboard": Recording, "needy": NeedsPackage}
    with pytest.raises(BenchbenchError, match="did you mean 'tensorboard'"):
        open_relay(["tensorbord"], known, Session("suite", "s"))
    with pytest.raises(BenchbenchError, match=r"pip install 'benchbench\[needy\]'"):
        open_relay(["needy"], known, Session("suite", "s"))
    assert open_relay([], known, Session("suite", "s")) is None


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.e2e  # a suite trained end to end: with the other e2e checks, not the quick set
def test_a_suite_in_tensorboard_and_mlflow_matches_the_results(tmp_path, monkeypatch):
    """Both trackers hold one run per benchbench run with its curve and final accuracy;
    the exploding regularizer's runs are FAILED in MLflow; running the suite again logs
    nothing twice (every run is stored); a second suite run with one run retried replaces
    that run's tracked run."""
    from mlflow.tracking import MlflowClient
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    suite = tmp_path / "tracked.toml"
    suite.write_text(SUITE)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    logs = [f"tensorboard:{tmp_path / 'tb'}", f"mlflow:{uri}", "wandb:bb-test"]
    outcome = bb.run(
        str(suite), out=tmp_path / "out", log=logs, progress=False, plugins=["bb_test_plugin"]
    )
    results = bb.results(out=tmp_path / "out")
    assert len(results) == 4 and outcome.dispatched.stored["ok"] == 2

    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name("benchbench/tracked")
    runs = client.search_runs([experiment.experiment_id])
    children = {
        r.data.tags["benchbench.run_id"]: r for r in runs if "benchbench.run_id" in r.data.tags
    }
    assert set(children) == set(results["run_id"])
    for row in results.itertuples():
        child = children[row.run_id]
        if row.status == "ok":
            assert child.info.status == "FINISHED"
            assert child.data.metrics["test_accuracy"] == pytest.approx(row.test_accuracy)
            history = client.get_metric_history(child.info.run_id, "val_accuracy")
            assert [m.value for m in history] == pytest.approx(
                [p["val_accuracy"] for p in row.curve]
            )
        else:
            assert child.info.status == "FAILED"
            assert child.data.tags["benchbench.status"] == row.status
    parents = [r for r in runs if "benchbench.run_id" not in r.data.tags]
    assert len(parents) == 1
    artifacts = {a.path for a in client.list_artifacts(parents[0].info.run_id)}
    assert {"tracked.md", "tracked.csv", "tracked.json"} <= artifacts

    folders = sorted((tmp_path / "tb" / "tracked").iterdir())
    assert len(folders) == 5  # four runs and the session
    ok = results[results["status"] == "ok"].iloc[0]
    (folder,) = [f for f in folders if f.name.endswith(ok["run_id"][:12])]
    events = EventAccumulator(str(folder))
    events.Reload()
    assert [e.value for e in events.Scalars("val_accuracy")] == pytest.approx(
        [p["val_accuracy"] for p in ok["curve"]]
    )
    assert [e.step for e in events.Scalars("val_accuracy")] == [p["step"] for p in ok["curve"]]
    assert events.Scalars("final/test_accuracy")[0].value == pytest.approx(ok["test_accuracy"])

    for row in results.itertuples():  # W&B, offline: a run folder per run, read back
        (folder,) = (tmp_path / "wandb").glob(f"offline-run-*-{row.run_id}")
        history, summary = history_and_summary(folder / f"run-{row.run_id}.wandb")
        assert summary["status"] == row.status
        if row.status == "ok":
            assert summary["test_accuracy"] == pytest.approx(row.test_accuracy)
            assert [h["val_accuracy"] for h in history] == pytest.approx(
                [p["val_accuracy"] for p in row.curve]
            )
            assert [h["_step"] for h in history] == [p["step"] for p in row.curve]

    again = bb.run(
        str(suite),
        out=tmp_path / "out",
        log=logs,
        progress=False,
        plugins=["bb_test_plugin"],
        retry_failed=True,
    )
    assert sum(again.dispatched.stored.values()) == 2  # the two failed runs, again
    runs = client.search_runs([experiment.experiment_id])
    children = [r for r in runs if "benchbench.run_id" in r.data.tags]
    assert len(children) == 4  # the retried runs replaced theirs
    assert len(sorted((tmp_path / "tb" / "tracked").iterdir())) == 5


@pytest.mark.e2e  # a suite trained end to end: with the other e2e checks, not the quick set
def test_a_dead_tracking_server_costs_a_warning_and_no_result(tmp_path, capsys):
    suite = tmp_path / "tracked.toml"
    suite.write_text(SUITE)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = bb.run(
            str(suite),
            out=tmp_path / "out",
            log=[f"mlflow:http://127.0.0.1:{_closed_port()}"],
            progress=False,
            plugins=["bb_test_plugin"],
        )
    assert sum(outcome.dispatched.stored.values()) == 4
    assert len(bb.results(out=tmp_path / "out")) == 4
    lines = [str(w.message) for w in caught if "tracker mlflow" in str(w.message)]
    assert len(lines) == 1 and "it logs nothing more" in lines[0]


@pytest.mark.slow
def test_eval_points_reach_the_tracker_while_the_run_trains(tmp_path, monkeypatch):
    """The worker (a pool process) waits at each eval point until the driver's tracker has
    marked the point before: every point but the last reached the tracker while its run was
    still training."""
    monkeypatch.setenv("BB_LIVE_DIR", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    monkeypatch.syspath_prepend(str(TESTS))
    suite = tmp_path / "tracked.toml"
    suite.write_text(SUITE.replace('"none", "explode"', '"none"').replace("seeds = 2", "seeds = 1"))
    outcome = bb.run(
        str(suite),
        out=tmp_path / "out",
        log=["live"],
        progress=False,
        plugins=["bb_test_plugin", "bb_live_tracker"],
        workers=1,
    )
    assert outcome.ok
    seen = sorted(p.name for p in tmp_path.glob("*.seen"))
    # three points (one per epoch): the first two were seen from the next
    assert len(seen) == 2 and not list(tmp_path.glob("*.missed"))
    assert len(list(tmp_path.glob("*-finished"))) == 1


@pytest.mark.slow
def test_tuning_trials_are_runs_of_their_study_in_mlflow(tmp_path):
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    outcome = bb.tune(
        task="blobs",
        arch="mlp",
        trials=4,
        steps=24,
        pruner="none",
        out=tmp_path / "out",
        log=[f"mlflow:{uri}"],
        plugins=["bb_test_plugin"],
        progress=False,
    )
    summary = outcome.candidates[0].summary
    client = MlflowClient(uri)
    (experiment,) = [
        e for e in client.search_experiments() if e.name.startswith("benchbench/blobs/mlp")
    ]
    runs = client.search_runs([experiment.experiment_id])
    trials = [r for r in runs if "benchbench.trial" in r.data.tags]
    assert sorted(int(r.data.tags["benchbench.trial"]) for r in trials) == [0, 1, 2, 3]
    (parent,) = [r for r in runs if "benchbench.trial" not in r.data.tags]
    assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {parent.info.run_id}
    best = max(r.data.metrics["val_accuracy"] for r in trials)
    assert best == pytest.approx(summary.best_value)


@pytest.mark.e2e
def test_optuna_dashboard_opens_the_tuning_studies(tmp_path):
    """The documented 'optuna-dashboard sqlite:///OUT/benchbench.db' serves benchbench's
    studies as they are (a server on the loopback address, stopped by the test)."""
    import json
    import subprocess
    import sys
    import time
    import urllib.request

    pytest.importorskip("optuna_dashboard")
    bb.tune(
        task="blobs",
        arch="mlp",
        trials=3,
        steps=12,
        pruner="none",
        out=tmp_path,
        plugins=["bb_test_plugin"],
        progress=False,
    )
    port = _closed_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "optuna-dashboard"),
            f"sqlite:///{tmp_path / 'benchbench.db'}",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline, body = time.monotonic() + 60, None
        while body is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/studies") as reply:
                    body = json.load(reply)
            except OSError:
                time.sleep(0.5)
        assert body is not None, "optuna-dashboard did not answer"
        (study,) = body["study_summaries"]  # the one candidate's study, as benchbench named it
        assert study["study_name"].startswith("benchbench-")
        assert study["directions"] == ["maximize"]
        attrs = {a["key"]: json.loads(a["value"]) for a in study["user_attrs"]}
        assert attrs["target"]["task"] == "blobs" and attrs["target"]["arch"] == "mlp"
    finally:
        server.terminate()
        server.wait(10)


def _serve_mlflow(folder: Path, port: int):
    """An MLflow tracking server on the loopback address with a SQLite backend; returns the
    process once it answers."""
    import subprocess
    import sys
    import time
    import urllib.request

    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "mlflow"),
            "server",
            "--backend-store-uri",
            f"sqlite:///{folder / 'mlflow.db'}",
            "--default-artifact-root",
            str(folder / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "1",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    server.kill()
    raise AssertionError("the MLflow server did not start")


def _stop(server) -> None:
    import os
    import signal

    try:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its workers
    except ProcessLookupError:
        pass
    server.wait(30)


@pytest.mark.e2e
def test_a_suite_on_a_real_mlflow_server_and_the_server_gone_mid_suite(tmp_path):
    """'benchbench run quick --seeds 1 --log mlflow:http://127.0.0.1:PORT' against a real
    tracking server: one MLflow run per benchbench run, the same test accuracy, the
    validation curve as the metric history. Then the server is stopped while a second
    suite trains: one warning, every result stored."""
    import subprocess
    import sys
    import threading
    import time

    from mlflow.tracking import MlflowClient

    port = _closed_port()
    server = _serve_mlflow(tmp_path, port)
    uri = f"http://127.0.0.1:{port}"
    try:
        command = [sys.executable, "-m", "benchbench", "run", "quick", "--seeds", "1"]
        done = subprocess.run(
            [*command, "--out", str(tmp_path / "out"), "--log", f"mlflow:{uri}"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        results = bb.results(out=tmp_path / "out")
        client = MlflowClient(uri)
        experiment = client.get_experiment_by_name("benchbench/quick")
        runs = client.search_runs([experiment.experiment_id], max_results=1000)
        children = {
            r.data.tags["benchbench.run_id"]: r for r in runs if "benchbench.run_id" in r.data.tags
        }
        assert set(children) == set(results["run_id"]) and len(children) == len(results) > 4
        for row in results.itertuples():
            child = children[row.run_id]
            assert child.data.metrics["test_accuracy"] == pytest.approx(row.test_accuracy)
            history = client.get_metric_history(child.info.run_id, "val_accuracy")
            assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
                [p["val_accuracy"] for p in row.curve]
            )

        # the server gone while a suite trains: as soon as the suite logged its first run
        def kill_once_logging() -> None:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                running = client.search_runs(
                    [experiment.experiment_id], filter_string="attributes.status = 'RUNNING'"
                )
                if any("benchbench.run_id" in r.data.tags for r in running):
                    break
                time.sleep(0.2)
            _stop(server)

        killer = threading.Thread(target=kill_once_logging)
        killer.start()
        gone = subprocess.run(
            [*command, "--out", str(tmp_path / "out2"), "--log", f"mlflow:{uri}"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        killer.join()
        assert gone.returncode == 0, gone.stderr[-2000:]
        assert len(bb.results(out=tmp_path / "out2")) == len(results)
        warned = [line for line in gone.stderr.splitlines() if "tracker mlflow" in line]
        assert len(warned) == 1 and "it logs nothing more" in warned[0]
    finally:
        _stop(server)
