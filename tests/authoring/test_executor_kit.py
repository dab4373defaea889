"""The executor kit: the conformance checks of an executor fail on each way of breaking the
contract and pass on the built-in one; a scaffolded executor's own tests pass as written on
the kit's fake cluster; the fake cluster does what it says."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from benchbench.authoring.checks import CheckFailed
from benchbench.authoring.conformance import checks_for
from benchbench.authoring.probes import probe_manager

TESTS = Path(__file__).parents[1]


@pytest.fixture(scope="module")
def executor_checks():
    pm = probe_manager(("bb_executors",))
    return {check.id: check for check in checks_for(pm, "bb_executors")}


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("executor:twice:jobs-come-back", "came back [2, 2, 2, 2] times each (8 in all)"),
        ("executor:doctored:jobs-come-back", "1.0] where it ran and ["),
        ("executor:leaky:stop-ends-jobs", "1 run(s) kept running after stop() returned"),
    ],
)
def test_each_executor_check_fails_on_an_executor_that_breaks_it(executor_checks, check, message):
    with pytest.raises(CheckFailed) as failed:
        executor_checks[check]()
    assert message in str(failed.value)
    assert str(failed.value).startswith(f"executor '{check.split(':')[1]}': ")


def test_the_other_checks_of_those_executors_pass(executor_checks):
    for check in ("twice:contract", "doctored:contract", "leaky:jobs-come-back"):
        executor_checks[f"executor:{check}"]()


def test_the_local_executor_passes_every_check():
    pm = probe_manager()
    checks = [c for c in checks_for(pm, "benchbench") if c.kind == "executor"]
    ours = {c.id for c in checks if c.subject.name == "local"}
    assert ours == {f"executor:local:{c}" for c in ("contract", "jobs-come-back", "stop-ends-jobs")}
    for check in checks:
        if check.subject.name == "local":
            check()


def test_the_fake_cluster_runs_when_asked_loses_and_cancels():
    from benchbench.authoring.fake_cluster import FakeCluster
    from benchbench.executors.base import JobLost

    cluster = FakeCluster()
    first, second, third = (cluster.submit(pow, 2, n) for n in (3, 4, 5))
    cluster.lose(1)
    assert cluster.running == 3 and cluster.ran == 0  # nothing runs until asked
    assert first.done() and cluster.lost == 1
    with pytest.raises(JobLost):
        first.result()
    assert second.result() == 16 and cluster.ran == 1
    assert third.cancel() and not third.cancel() and cluster.cancelled == 1
    assert cluster.running == 0 and cluster.submitted == 3


@pytest.mark.e2e  # pytest in a subprocess on the scaffold; .ci/plugin-kit installs and runs it
def test_a_scaffolded_executor_passes_its_own_tests_on_the_fake_cluster(tmp_path):
    """The package as written: its executor on the kit's fake cluster (submit, lose, cancel),
    loaded as a -p module from its source folder."""
    from benchbench.authoring.scaffold import new_plugin

    folder = new_plugin("kit-exec", kind="executor", to=tmp_path)
    source = (folder / "src/benchbench_kit_exec/__init__.py").read_text()
    assert "class KitExec(Executor):" in source and "registry.add_executor(KitExec)" in source
    env = {**os.environ, "PYTHONPATH": str(folder / "src")}
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests",
               "-k", "not conformance", "--benchbench-plugin", "benchbench_kit_exec"]  # fmt: skip
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "3 passed" in done.stdout
