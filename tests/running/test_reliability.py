"""Nothing lost, nothing hangs: kill -9 at random moments, Ctrl-C and SIGTERM, plugins that
raise, diverge, explode, hang or kill their process (under run and under tune), concurrent
runs on one database, missing data. These drive the real command in real processes.

Timing: no assertion here depends on how fast this machine is, except that a stopped suite
exits within 10 s, as the issue asks (the work after the signal is a few database commits).
Time limits that end a run are hit only by a plugin that blocks on purpose."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from click.testing import CliRunner
from run_records import numbers, stored

from benchbench.cli import cli

TESTS = Path(__file__).parents[1]
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


def suite_file(tmp_path: Path, candidates: list[str], seeds: int, steps: int, tasks=("blobs",)):
    path = tmp_path / "suite.toml"
    path.write_text(
        f"seeds = {seeds}\nbudget = {{ steps = {steps} }}\n\n[[tracks]]\nname = 'regs'\n"
        f"kind = 'regularizer'\ncandidates = {json.dumps(candidates)}\n"
        f"tasks = {json.dumps(list(tasks))}\nfixed = {{ arch = 'mlp' }}\n"
    )
    return path


def start(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.Popen(
        [sys.executable, "-m", "benchbench", "-p", "bb_test_plugin", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def workers_of(pid: int) -> list[int]:
    """The worker processes (multiprocessing spawn children) of ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, seconds: float = 600, every: float = 0.1) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition never held")
        time.sleep(every)


@pytest.mark.e2e
def test_sigkill_at_random_moments_then_resume_stores_every_run_once_as_uninterrupted(
    tmp_path,
):
    suite = suite_file(tmp_path, ["none", "label-smoothing"], seeds=4, steps=300)
    reference = start("run", str(suite), "--out", str(tmp_path / "ref"), "--device", "cpu")
    assert reference.wait(timeout=900) == 0, reference.stderr.read()
    expected = stored(tmp_path / "ref")
    assert len(expected) == 8

    out = tmp_path / "killed"
    chance = random.Random(11)
    kills = 0
    # kill -9 once the store holds `target` runs, plus a random fraction of a run's time
    for target in sorted(chance.sample(range(1, 7), 3)):
        process = start("run", str(suite), "--out", str(out), "--device", "cpu")
        wait_until(lambda t=target, p=process: len(stored(out)) >= t or p.poll() is not None)
        time.sleep(chance.uniform(0.0, 0.3))
        if process.poll() is not None:  # a very busy machine: the suite got ahead of us
            continue
        kills += 1
        workers = workers_of(process.pid)
        process.send_signal(signal.SIGKILL)
        process.wait()
        wait_until(lambda ws=workers: not any(alive(w) for w in ws), seconds=30)
        assert target <= len(stored(out)) < 8  # killed in the middle of the suite
    assert kills >= 2
    final = start("run", str(suite), "--out", str(out), "--device", "cpu")
    assert final.wait(timeout=900) == 0, final.stderr.read()
    results = stored(out)
    assert set(results) == set(expected)  # every run, and (primary key) each once
    for run_id, result in results.items():
        assert numbers(result) == numbers(expected[run_id])
    with sqlite3.connect(out / "benchbench.db") as conn:
        assert conn.execute("select count(*) from claims").fetchone() == (0,)
        places = conn.execute("select count(*), count(distinct run_id) from memberships")
        assert places.fetchone() == (8, 8)


@pytest.mark.e2e
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_stopped_suite_stores_what_finished_ends_its_workers_and_exits(tmp_path, signum, code):
    suite = suite_file(tmp_path, ["none", "hang"], seeds=2, steps=20)
    out = tmp_path / "out"
    process = start("run", str(suite), "--out", str(out), "--device", "cpu", "--timeout", "600")
    wait_until(lambda: len(stored(out)) == 2)  # the two 'none' runs; 'hang' now blocks
    workers = workers_of(process.pid)
    assert workers and all(alive(w) for w in workers)
    process.send_signal(signum)
    _, err = process.communicate(timeout=10)  # the bound: out within 10 s
    assert process.returncode == code, err
    assert "stopped: 2 runs stored this time (2 ok); 2 left" in err
    assert "Traceback" not in err
    wait_until(lambda: not any(alive(w) for w in workers), seconds=10)
    assert {r["regularizer"]: r["status"] for r in stored(out).values()} == {"none": "ok"}


def statuses(out: Path) -> dict[str, tuple[str, str | None]]:
    return {r["regularizer"]: (r["status"], r["error"]) for r in stored(out).values()}


MISBEHAVING = ["none", "explode", "diverge", "inflate", "hang", "crash"]


@pytest.mark.e2e
def test_misbehaving_plugins_cost_only_their_own_runs(tmp_path):
    """raise, NaN, a finite explosion, blocking past the budget, os._exit: each recorded
    with its status while the others finish."""
    suite = suite_file(tmp_path, MISBEHAVING, seeds=1, steps=40)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["-p", "bb_test_plugin", "run", str(suite), "--out", str(out)]
        + ["--device", "cpu", "--workers", "2", "--timeout", "15"],
    )
    assert result.exit_code == 1, result.output  # failures are reported in the exit status
    found = statuses(out)
    assert found["none"] == ("ok", None)
    assert found["explode"] == ("failed", "RuntimeError: boom")
    assert found["diverge"] == ("diverged", "non-finite loss at step 3")
    assert found["inflate"][0] == "diverged" and "loss exploded" in found["inflate"][1]
    assert found["hang"] == ("timed-out", "TimeoutError: run exceeded 15 s")
    assert found["crash"] == ("failed", "ProcessExpired: worker died (exit code 3)")
    assert "3 runs of suite suite failed or timed out" in result.output  # diverged: a result


@pytest.mark.e2e
def test_misbehaving_plugins_cost_only_their_own_trials(tmp_path):
    suite = suite_file(tmp_path, MISBEHAVING, seeds=1, steps=40)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli,
        ["-p", "bb_test_plugin", "tune", str(suite), "--trials", "1", "--out", str(out)]
        + ["--device", "cpu", "--timeout", "15", "--json"],
    )
    assert result.exit_code == 0, result.output
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / 'benchbench.db'}")
    trials = {}
    for row in json.loads(result.stdout):
        study = optuna.load_study(study_name=row["study"], storage=storage)
        (trial,) = study.trials
        name = row["candidate"].rsplit("/", 1)[1]
        trials[name] = (trial.state.name, trial.user_attrs.get("status"), trial.value)
    assert trials["none"][:2] == ("COMPLETE", "ok") and trials["none"][2] > 0.25
    assert trials["explode"] == ("FAIL", "failed", None)
    assert trials["diverge"] == ("COMPLETE", "diverged", 0.0)
    assert trials["inflate"] == ("COMPLETE", "diverged", 0.0)
    assert trials["hang"] == ("FAIL", "timed-out", None)
    assert trials["crash"] == ("FAIL", "failed", None)


@pytest.mark.e2e
def test_a_stopped_tuning_ends_its_trial_and_resumes(tmp_path):
    out = tmp_path / "out"
    args = ["tune", "--task", "blobs", "--arch", "mlp", "--regularizer", "hang"]
    args += ["--trials", "1", "--steps", "20", "--out", str(out), "--timeout", "600"]
    process = start(*args)
    wait_until(lambda: bool(workers_of(process.pid)) and stored_trials(out) == 1, every=0.2)
    time.sleep(1)
    workers = workers_of(process.pid)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert "Traceback" not in err and "run the same command to resume" in err
    wait_until(lambda: not any(alive(w) for w in workers), seconds=10)
    storage = optuna.storages.RDBStorage(f"sqlite:///{out / 'benchbench.db'}")
    (summary,) = optuna.get_all_study_summaries(storage)
    (trial,) = optuna.load_study(study_name=summary.study_name, storage=storage).trials
    assert trial.state.name == "FAIL" and "status" not in trial.user_attrs  # redone on resume


def stored_trials(out: Path) -> int:
    try:
        with sqlite3.connect(out / "benchbench.db", timeout=60) as conn:
            return conn.execute("select count(*) from trials").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


@pytest.mark.e2e
@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_two_runs_on_one_database_share_the_work(tmp_path, database):
    from benchbench.storage.store import Store, default_url

    suite = suite_file(tmp_path, ["none", "label-smoothing", "mixup"], seeds=2, steps=30)
    out = tmp_path / "out"
    out.mkdir()
    url = default_url(out)
    if database == "postgresql":
        url = os.environ.get("BENCHBENCH_TEST_POSTGRES", "")
        if not url:
            pytest.skip("needs a PostgreSQL server: BENCHBENCH_TEST_POSTGRES (.ci/run sets it)")
        # runs never stored before in the shared database: a learning rate of this test's own
        text = suite.read_text() + f"hparams = {{ lr = {random.uniform(0.001, 0.002)!r} }}\n"
        suite.write_text(text)
    args = ("run", str(suite), "--out", str(out), "--storage", url, "--device", "cpu")
    processes = [start(*args) for _ in "ab"]
    outputs = [p.communicate(timeout=900) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    trained = []
    for board, err in outputs:
        assert "suite / regs / blobs" in board, outputs  # each prints the whole board
        trained += [int(n) for n in re.findall(r"benchbench: (\d+) runs stored this time", err)]
    store = Store(url)
    frame = store.frame(store.find_suite(str(suite)))
    assert len(trained) == 2 and sum(trained) == 6, outputs  # each run trained once
    assert frame["run_id"].nunique() == 6 and set(frame["status"]) == {"ok"}


def test_missing_or_damaged_data_fails_its_own_runs_and_the_suite_goes_on(tmp_path):
    from fake_datasets import fake_mnist

    suite = suite_file(tmp_path, ["none"], seeds=2, steps=5, tasks=("mnist", "blobs"))
    data, out = tmp_path / "data", tmp_path / "out"
    data.mkdir()

    def run():
        args = ["-p", "bb_test_plugin", "--data-dir", str(data), "run", str(suite)]
        return CliRunner().invoke(cli, [*args, "--out", str(out), "--device", "cpu"])

    first = run()
    assert first.exit_code == 1, first.output
    assert "benchbench: task mnist: mnist not found: expected" in first.output
    assert "its 2 runs fail" in first.output
    by_task = {}
    for r in stored(out).values():
        by_task.setdefault(r["task"], set()).add(r["status"])
    assert by_task == {"mnist": {"failed"}, "blobs": {"ok"}}  # both stored, blobs trained
    assert "Traceback" not in first.output

    fake_mnist(data, "MNIST")  # the data arrives: other files, other run ids
    second = run()
    assert second.exit_code == 0, second.output
    assert "4 runs, 2 already stored, 2 to run" in second.output
    labels = data / "MNIST" / "raw" / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-7])  # truncated
    third = run()
    assert third.exit_code == 1 and "IDX header says (50,)" in third.output


def test_run_one_checks_its_storage_before_training(tmp_path):
    """A bad URL must not cost the run: 'hang' would block this test if it trained."""
    result = CliRunner().invoke(
        cli,
        ["-p", "bb_test_plugin", "run-one", "--task", "blobs", "--arch", "mlp"]
        + ["--regularizer", "hang", "--storage", "postgresql://bob:s3cret@db:abc/x"],
    )
    assert result.exit_code == 2
    assert "is not a database URL" in result.output and "s3cret" not in result.output


def test_a_zero_byte_database_is_named_and_left_alone(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "benchbench.db").write_bytes(b"")
    suite = suite_file(tmp_path, ["none"], seeds=1, steps=2)
    result = CliRunner().invoke(cli, ["-p", "bb_test_plugin", "run", str(suite), "--out", str(out)])
    assert result.exit_code == 2 and "empty file (0 bytes)" in result.output
    assert (out / "benchbench.db").stat().st_size == 0


def test_a_malformed_suite_creates_nothing(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[[tracks]]\nname='a'\nkind='arch'\ncandidates=['mlpp']\ntasks=['blobs']\n")
    out = tmp_path / "out"
    result = CliRunner().invoke(cli, ["-p", "bb_test_plugin", "run", str(bad), "--out", str(out)])
    assert result.exit_code == 2 and "unknown arch 'mlpp'" in result.output
    assert not out.exists()
