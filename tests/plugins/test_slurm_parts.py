"""The parts of the Slurm executor that need no cluster: what a job asks for (Slurm's time
formats, sbatch pass-through, the default time limit), how a job's log says Slurm ended it,
the file channel that carries eval points back, and the one-line refusals. The executor on
a real cluster: test_slurm.py (end to end)."""

from __future__ import annotations

import pickle
import queue
import subprocess
import sys

import pytest
from benchbench_executors import SlurmOptions
from benchbench_executors.slurm_job import FileChannel
from benchbench_executors.slurm_options import (
    STARTUP_SECONDS,
    sbatch_options,
    slurm_megabytes,
    slurm_minutes,
)

from benchbench import Budget, RunSpec
from benchbench.errors import BenchbenchError


@pytest.mark.parametrize(
    ("text", "minutes"),
    [
        ("90", 90),  # minutes
        ("1:30", 2),  # minutes:seconds, rounded up
        ("0:59", 1),
        ("1:30:00", 90),  # hours:minutes:seconds
        ("2-0", 2880),  # days-hours
        ("1-2:3", 1563),  # days-hours:minutes
        ("1-0:0:1", 1441),  # days-hours:minutes:seconds
    ],
)
def test_slurm_time_formats_in_whole_minutes(text, minutes):
    assert slurm_minutes(text) == minutes


@pytest.mark.parametrize(
    "text", ["", "1h", "1:2:3:4", "0", "-5", "1-", "1:75", "2:99:00", "1-24", "366-0", "1" * 40]
)
def test_a_time_slurm_would_not_take_is_one_line(text):
    with pytest.raises(BenchbenchError, match="Slurm's format|must be positive|up to|days"):
        slurm_minutes(text)


@pytest.mark.parametrize(
    ("text", "megabytes"), [("16G", 16384), ("500M", 500), ("500", 500), ("2T", 2 * 1024**2)]
)
def test_slurm_memory_formats(text, megabytes):
    assert slurm_megabytes(text) == megabytes


@pytest.mark.parametrize("text", ["", "lots", "-1G", "16Q", "1.5G", "99999999999T"])
def test_a_memory_slurm_would_not_take_is_one_line(text):
    with pytest.raises(BenchbenchError, match="--mem|mem="):
        SlurmOptions(mem=text)


def test_a_line_break_in_any_option_that_reaches_the_job_script_is_refused():
    """A line break in a value starts a line of the job script's own: the issue's
    --sbatch $'constraint=a100\\necho pwned' put a shell command into the #SBATCH header, and
    Slurm reads no directive after it."""
    for name in ("partition", "account", "qos", "mem", "time"):
        with pytest.raises(BenchbenchError, match="line break or another control character"):
            SlurmOptions(**{name: "16G\necho pwned > /tmp/pwned"})
    for bad in ["constraint=a100\necho pwned", "comment=a\rb", "mail-user=a\x00b"]:
        with pytest.raises(BenchbenchError, match="line break or another control character"):
            SlurmOptions(sbatch=(bad,))


@pytest.mark.parametrize(
    ("item", "instead"),
    [
        ("time=10", "use time instead"),
        ("--ti=10", "use time instead"),
        ("cpus-per-task=64", "use cpus_per_run instead"),
        ("partition=gpu", "use partition instead"),
        ("mem=1G", "use mem instead"),
        ("array=0-999", "sets for every job"),
        ("--arr=0-9", "sets for every job"),
        ("error=/tmp/x", "sets for every job"),
        ("output=/dev/null", "sets for every job"),
        ("job-name=x", "sets for every job"),
        ("signal=KILL@1", "sets for every job"),
    ],
)
def test_sbatch_may_not_replace_what_benchbench_sets(item, instead):
    """--sbatch time=, array=, error= silently replaced the computed time limit, the array and
    the log its results are read from; sbatch takes an abbreviation (--arr) as the option."""
    with pytest.raises(BenchbenchError, match=f"would replace sbatch --.*{instead}"):
        sbatch_options([item])


def test_sbatch_pass_through_forms():
    assert sbatch_options(["constraint=a100", "--exclusive", "--gres=gpu:2", "mail-type=END"]) == {
        "constraint": "a100",
        "exclusive": True,
        "gres": "gpu:2",
        "mail_type": "END",
    }
    for bad in ["foo bar", "=x", "--", "Constraint=x"]:
        with pytest.raises(BenchbenchError, match="NAME=VALUE or --NAME"):
            sbatch_options([bad])


def test_options_are_checked_where_given(registry):
    """The core checks the declared options (one sentence for the command and the API);
    SlurmOptions checks Slurm's own formats; the options dataclass is accepted as is."""
    from benchbench.executors.options import choose_options

    slurm, executors = registry.executor("slurm"), registry.executors
    given = {"partition": "gpu", "sbatch": ["--exclusive"], "cpus_per_run": "4"}
    values = choose_options("slurm", slurm.options, given, executors)
    assert values == {
        "partition": "gpu",
        "account": None,
        "qos": None,
        "time": None,
        "cpus_per_run": 4,
        "mem": None,
        "sbatch": ("--exclusive",),
    }
    assert SlurmOptions(**values).sbatch == ("--exclusive",)
    nothing = choose_options("slurm", slurm.options, {}, executors)  # every default
    assert nothing["sbatch"] == () and SlurmOptions(**nothing) == SlurmOptions()
    assert (
        choose_options("slurm", slurm.options, SlurmOptions(qos="high"), executors)["qos"] == "high"
    )
    refusals = [
        (
            {"partitions": "gpu"},
            "executor slurm has no option partitions; did you mean partition?",
        ),
        ({"cpus_per_run": 0}, "cpus_per_run must be at least 1, got 0"),
        ({"cpus_per_run": "four"}, "cpus_per_run must be a whole number, got 'four'"),
        ({"address": "h:1"}, "address is an option of the ray executor: add executor='ray'"),
    ]
    for options, sentence in refusals:
        with pytest.raises(BenchbenchError) as refused:
            choose_options("slurm", slurm.options, options, executors)
        assert str(refused.value) == sentence
    with pytest.raises(BenchbenchError, match="Slurm's format"):
        SlurmOptions(time="soon")


def test_the_default_time_limit_comes_from_the_timeout_and_a_time_budget():
    from benchbench_executors.slurm_submit import SIGNAL_SECONDS, run_minutes

    def spec(**budget):
        return RunSpec(task="digits", arch="mlp", budget=Budget(**budget))

    margin = STARTUP_SECONDS + SIGNAL_SECONDS  # 150 s: the job's start, submitit's warning
    assert run_minutes(spec(epochs=5), 3600) == (3600 + margin + 59) // 60 == 63
    assert run_minutes(spec(seconds=60), 3600) == (2 * 60 + 300 + margin + 59) // 60 == 10
    assert run_minutes(spec(seconds=6000), 600) == (600 + margin + 59) // 60 == 13
    assert run_minutes(spec(steps=10), None) == 63  # no timeout: an hour


def test_how_slurm_ended_a_job_is_read_from_its_log():
    from benchbench_executors.slurm_state import end_in_log

    line = "slurmstepd: error: *** JOB 12 ON vm CANCELLED AT 2026-12-01T03:00:00 {} ***"
    assert end_in_log(line.format("DUE TO TIME LIMIT")) == "TIMEOUT"
    assert end_in_log(line.format("DUE TO PREEMPTION")) == "PREEMPTED"
    assert end_in_log(line.format("DUE TO NODE FAILURE")) == "NODE_FAIL"
    assert end_in_log(line.format("")) == "CANCELLED"
    assert end_in_log("Detected 1 oom_kill event in StepId=12.0") == "OUT_OF_MEMORY"
    assert end_in_log("Traceback (most recent call last): ...") is None


def test_the_file_channel_carries_points_from_jobs_in_order_and_the_driver_s_after(tmp_path):
    driver = FileChannel(tmp_path / "points")
    with pytest.raises(queue.Empty):
        driver.get_nowait()
    job = pickle.loads(pickle.dumps(driver))  # as submitit carries it to a node
    for step in range(3):
        job.put(("point", "run-a", {"step": step}))
    driver.put(("finished", "run-a"))  # the driver's own: after what jobs wrote before
    # another job, in another process: a file of its own
    code = (
        "import pickle, sys; c = pickle.loads(sys.stdin.buffer.read()); "
        "c.put(('point', 'run-b', {'step': 0}))"
    )
    subprocess.run([sys.executable, "-c", code], input=pickle.dumps(driver), check=True)
    got = [driver.get(timeout=1) for _ in range(5)]
    assert [g for g in got if g[1] == "run-a"] == [
        ("point", "run-a", {"step": 0}),
        ("point", "run-a", {"step": 1}),
        ("point", "run-a", {"step": 2}),
        ("finished", "run-a"),
    ]
    assert ("point", "run-b", {"step": 0}) in got[:4]
    with pytest.raises(queue.Empty):
        driver.get(timeout=0.3)
    assert len(list((tmp_path / "points").glob("*.points"))) == 2
    job.discard()  # a job's copy removes nothing
    assert (tmp_path / "points").is_dir()
    driver.discard()  # no longer read: its files go
    assert not (tmp_path / "points").exists()


def test_a_record_still_being_written_waits_for_its_end(tmp_path):
    driver = FileChannel(tmp_path)
    pickle.loads(pickle.dumps(driver)).put(("point", "r", {"step": 1}))
    (path,) = tmp_path.glob("*.points")
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # the writer is mid-record
    with pytest.raises(queue.Empty):
        driver.get_nowait()
    path.write_bytes(whole)
    assert driver.get_nowait() == ("point", "r", {"step": 1})


def test_slurm_options_without_the_slurm_executor_and_sqlite_tuning_are_one_line(tmp_path):
    command = [sys.executable, "-m", "benchbench", "run", "quick", "--partition", "gpu"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "benchbench: error: --partition is an option of the slurm executor: add --executor slurm"
    )
    import benchbench as bb

    with pytest.raises(BenchbenchError) as refused:
        bb.tune("quick", executor="slurm", out=tmp_path, progress=False)
    assert "SQLite on a shared file system is unsafe" in str(refused.value)
    assert "use --storage postgresql://" in str(refused.value)
    assert not list(tmp_path.glob("slurm"))  # refused before anything was submitted
