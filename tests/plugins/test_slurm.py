"""Runs on a real Slurm cluster: the one-node cluster ``.ci/slurm`` starts on this machine
(munged, slurmctld, slurmd from Debian's packages, on the loopback address), driven by the
``benchbench`` command in another process: the quick suite as a local run stores it, jobs
cancelled from outside, Ctrl-C, a driver killed with -9 and started again, both time limits,
live eval points to a tracker, and tuning with a PostgreSQL study.

End to end (minutes), so .ci/run runs these after the README's test command. Each test
skips with its reason where Slurm cannot start. No assertion depends on this machine's
speed."""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from run_records import numbers, stored  # stored: the results, read from SQLite

pytest.importorskip("submitit")
pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
TESTS = ROOT / "tests"
LIVE = Path(tempfile.mkdtemp(prefix="bb-live-"))  # bb_live_tracker's marks
ENV = {**os.environ, "BB_LIVE_DIR": str(LIVE), "PYTHONPATH": str(TESTS)}
USER = getpass.getuser()


@pytest.fixture(scope="module", autouse=True)
def slurm():
    """A Slurm cluster that answers: the one running, else the one ``.ci/slurm`` starts
    (which needs its packages installed and root)."""
    if shutil.which("sinfo") is None:
        pytest.skip("Slurm is not installed here (bash .ci/slurm installs and starts it)")
    if _idle() is None:
        if os.geteuid() != 0:
            pytest.skip("no Slurm node is up, and starting one (.ci/slurm) needs root")
        start = subprocess.run(["bash", str(ROOT / ".ci/slurm")], capture_output=True, text=True)
        if start.returncode != 0 or _idle() is None:
            pytest.skip(f"Slurm could not start: {start.stderr.strip()[-300:]}")
    yield
    assert not ours(), "a test left jobs in squeue"


def _idle() -> str | None:
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
    states = out.stdout.split() if out.returncode == 0 else []
    return next((s for s in states if s in ("idle", "mix", "alloc")), None)


def ours() -> dict[str, str]:
    """The jobs of this user squeue shows (pending, running, completing): id -> state."""
    out = subprocess.run(
        ["squeue", "-h", "-r", "-u", USER, "-o", "%i|%T"], capture_output=True, text=True
    )
    return dict(line.split("|") for line in out.stdout.split())


def benchbench(*args: str, **kwargs) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "benchbench", "-p", "bb_test_plugin", *args]
    return subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=900, **kwargs)


def start(*args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "benchbench", "-p", "bb_test_plugin", *args]
    return subprocess.Popen(
        command, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def ledger(out: Path) -> dict[str, dict]:
    """The jobs the driver wrote down: run id -> {job, attempt, ...}."""
    found = {}
    for path in (out / "slurm" / "ledger").glob("*.json"):
        try:
            found[path.stem] = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
    return found


def wait_for(condition, seconds: float = 300, what: str = "") -> None:
    deadline = time.monotonic() + seconds  # a guard against a hang, not a speed check
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {seconds} s")
        time.sleep(0.25)


def suite(tmp_path: Path, candidates: list[str], seeds: int, steps: int) -> Path:
    path = tmp_path / "suite.toml"
    path.write_text(
        f'seeds = {seeds}\nbudget = {{ steps = {steps} }}\n[[tracks]]\nname = "t"\n'
        f'kind = "regularizer"\ncandidates = {json.dumps(candidates)}\ntasks = ["blobs"]\n'
        'fixed = { arch = "mlp" }\n'
    )
    return path


def test_quick_through_slurm_stores_what_a_local_run_stores(tmp_path, data_dir):
    data = ["--data-dir", str(data_dir)]
    # one thread, as each job has (the same bits need the same thread count)
    here = benchbench(*data, "run", "quick", "--seeds", "1", "--threads", "1",
                      "--out", str(tmp_path / "local"))  # fmt: skip
    assert here.returncode == 0, here.stderr[-2000:]
    there = benchbench(
        *data, "run", "quick", "--seeds", "1", "--executor", "slurm",
        "--out", str(tmp_path / "slurm"),
    )  # fmt: skip
    assert there.returncode == 0, there.stderr[-2000:]
    local, slurm = stored(tmp_path / "local"), stored(tmp_path / "slurm")
    assert len(local) == 6 and set(slurm) == set(local)  # the same run ids
    assert {k: numbers(v) for k, v in slurm.items()} == {k: numbers(v) for k, v in local.items()}
    machines = [r["machine"] for r in slurm.values()]
    assert all(m["executor"] == "slurm" and m["cpus_given"] == 1 for m in machines)
    assert all(m["threads"] == 1 and m["attempt"] == 1 for m in machines)
    arrays = {m["slurm_job"].split("_")[0] for m in machines}
    assert len(arrays) == 1  # one sbatch: a job array of 6
    for m in machines:  # each job's files kept under the output folder
        assert (tmp_path / "slurm" / "slurm" / m["slurm_job"]).is_dir()
    assert there.stdout.splitlines()[0] == here.stdout.splitlines()[0] == "quick"
    assert not ledger(tmp_path / "slurm")
    (array,) = arrays
    script = submission(tmp_path / "slurm", array)
    # all 6 at once (Slurm decides), 1 CPU each, --timeout 3600 s + 150 s in minutes
    assert {"--array=0-5%6", "--cpus-per-task=1", "--time=63"} <= script
    assert not ours()


def submission(out: Path, array: str) -> set[str]:
    """The ``#SBATCH`` options of an array's submission script, as ``--NAME=VALUE``."""
    text = (out / "slurm" / array / f"{array}_submission.sh").read_text()
    return {line.split(maxsplit=1)[1] for line in text.splitlines() if line.startswith("#SBATCH")}


def test_a_job_cancelled_from_outside_is_submitted_again_then_recorded(tmp_path):
    out = tmp_path / "out"
    driver = start("run", str(suite(tmp_path, ["hang"], 1, 20)), "--executor", "slurm",
                   "--timeout", "600", "--out", str(out))  # fmt: skip
    jobs = []
    for attempt in (1, 2):
        wait_for(
            lambda a=attempt: (
                [r for r in ledger(out).values() if r["attempt"] == a]
                and ours().get(next(iter(ledger(out).values()))["job"]) == "RUNNING"
            ),
            what=f"attempt {attempt} running",
        )
        (record,) = ledger(out).values()
        jobs.append(record["job"])
        subprocess.run(["scancel", record["job"]], check=True)
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 1, err[-2000:]
    (result,) = stored(out).values()
    assert result["status"] == "failed" and result["error_component"] == "cluster"
    assert "cancelled, twice" in result["error"] and "Slurm log: " in result["error"]
    assert jobs[0] != jobs[1]
    again = benchbench("run", str(suite(tmp_path, ["hang"], 1, 20)), "--executor", "slurm",
                       "--timeout", "5", "--out", str(out))  # fmt: skip
    assert "1 runs lost with their cluster node run again" in again.stderr
    assert stored(out)[result["run_id"]]["status"] == "timed-out"
    assert not ours()


def test_ctrl_c_cancels_every_job_and_keeps_what_finished(tmp_path):
    out = tmp_path / "out"
    driver = start("run", str(suite(tmp_path, ["none", "hang"], 1, 20)), "--executor", "slurm",
                   "--timeout", "600", "--out", str(out))  # fmt: skip
    wait_for(lambda: len(stored(out)) == 1, what="the run that ends")
    wait_for(lambda: "RUNNING" in ours().values(), what="the hanging run")
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err[-2000:]
    assert "1 runs stored this time (1 ok); 1 left" in err
    assert not ours()  # scancel'd, and gone from squeue before the driver exits
    assert not ledger(out)
    assert {r["status"] for r in stored(out).values()} == {"ok"}


def test_a_driver_killed_and_started_again_submits_nothing_twice(tmp_path):
    out = tmp_path / "out"
    args = ("run", str(suite(tmp_path, ["none", "label-smoothing"], 2, 400)), "--executor",
            "slurm", "--workers", "1", "--out", str(out))  # fmt: skip
    driver = start(*args)
    wait_for(lambda: len(ledger(out)) == 4 and "RUNNING" in ours().values(), what="jobs out")
    submitted = {r["job"] for r in ledger(out).values()}
    driver.kill()
    driver.communicate(timeout=60)
    assert ours(), "the jobs go on without their driver"
    again = benchbench(*args)
    assert again.returncode == 0, again.stderr[-2000:]
    results = stored(out)
    assert len(results) == 4 and all(r["status"] == "ok" for r in results.values())
    assert {r["machine"]["slurm_job"] for r in results.values()} == submitted
    folders = {p.name for p in (out / "slurm").iterdir() if p.name[0].isdigit()}
    arrays = {job.split("_")[0] for job in submitted}
    assert len(arrays) == 1 and folders == submitted | arrays  # nothing by the second driver
    assert "--array=0-3%1" in submission(out, arrays.pop())  # --workers 1: one at a time
    assert not ours()


def test_a_run_past_its_time_limit_is_timed_out(tmp_path):
    """--timeout: the job's own watchdog; --time: Slurm's limit (its warning signal). The
    second also asks for everything else a job can ask for, as sbatch options."""
    asks = ["--partition", "debug", "--account", "bb", "--qos", "normal", "--mem", "1G",
            "--cpus-per-run", "2", "--sbatch", "comment=benchbench-test"]  # fmt: skip
    for limit, words in ((["--timeout", "5"], "run exceeded 5 s"),
                         (["--time", "1", *asks], "Slurm's time limit of 1 min")):  # fmt: skip
        out = tmp_path / limit[0].strip("-")
        done = benchbench("run", str(suite(tmp_path, ["hang"], 1, 20)), "--executor", "slurm",
                          *limit, "--out", str(out))  # fmt: skip
        assert done.returncode == 1, done.stderr[-2000:]
        (result,) = stored(out).values()
        assert result["status"] == "timed-out" and words in result["error"], result["error"]
    asked = submission(out, result["machine"]["slurm_job"])  # one job: not an array
    assert {"--time=1", "--partition=debug", "--account=bb", "--qos=normal", "--mem=1G",
            "--cpus-per-task=2", "--comment=benchbench-test"} <= asked  # fmt: skip
    assert not ours()


def test_eval_points_reach_the_driver_s_tracker_while_jobs_train(tmp_path):
    """--log on Slurm: eval points travel back through files in the output folder while the
    runs train (each job waits at a point for the driver's tracker's mark of the one
    before)."""
    path = tmp_path / "live.toml"
    path.write_text(
        'seeds = 2\nbudget = { epochs = 3, eval_every = 1 }\n[[tracks]]\nname = "t"\n'
        'kind = "arch"\ncandidates = ["mlp"]\ntasks = ["blobs"]\n'
    )
    done = benchbench("-p", "bb_live_tracker", "run", str(path), "--executor", "slurm",
                      "--out", str(tmp_path / "out"), "--log", "live")  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    runs = stored(tmp_path / "out")
    assert len(runs) == 2
    for run_id in runs:
        assert len(list(LIVE.glob(f"{run_id}-*.seen"))) == 2
        assert not list(LIVE.glob(f"{run_id}-*.missed"))
        assert (LIVE / f"{run_id}-finished").exists()
    assert not list((tmp_path / "out" / "slurm" / "points").iterdir())  # read, then removed


def test_tuning_on_slurm_needs_postgresql_and_runs_with_it(tmp_path):
    args = ("tune", "--task", "blobs", "--arch", "mlp", "--steps", "20", "--trials", "2",
            "--workers", "2", "--executor", "slurm", "--out", str(tmp_path / "out"))  # fmt: skip
    refused = benchbench(*args)
    assert refused.returncode == 2 and "use --storage postgresql://" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    url = os.environ.get("BENCHBENCH_TEST_POSTGRES")
    if not url:
        pytest.skip("needs a PostgreSQL server: BENCHBENCH_TEST_POSTGRES (.ci/run sets it)")
    import optuna

    tuned = benchbench(*args, "--storage", url, "--seed", str(os.getpid()), "--json")
    assert tuned.returncode == 0, tuned.stderr[-2000:]
    summary = json.loads(tuned.stdout)
    assert (summary["trials"], summary["complete"]) == (2, 2)
    study = optuna.load_study(study_name=summary["study"], storage=url)
    assert all(t.intermediate_values for t in study.trials)  # reported from the jobs
    assert not ours()
