"""The conformance checks of an executor, run against it as users would run it (its default
options, this machine's CPU): each raises :class:`~.checks.CheckFailed` with one sentence,
or :class:`~.checks.CheckSkipped` when the executor cannot start here (a cluster's commands
or package missing).

``contract``
    it opens with its default options and resolves the CPU device; its summary is no other
    executor's.
``jobs-come-back``
    four probe runs submitted at once each come back from ``wait`` exactly once, as the
    result of its own run (or as lost: ``failed`` with ``error_component`` ``cluster``),
    ``busy`` counts them down to 0, and an ``ok`` result has the numbers of the same run
    trained in this process.
``stop-ends-jobs``
    two runs that never end, once they beat (their heartbeat files, in a folder the workers
    share with this process), are stopped by ``stop()``: ``busy`` is 0 and no heartbeat
    moves any more.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..errors import BenchbenchError
from ..executors.base import LOST, Executor, Job, Placement
from ..executors.choose import open_executor
from ..plugins.manager import PluginManager
from ..spec import RunResult, RunSpec
from .checks import CheckFailed, CheckSkipped, accuracies
from .probes import ProbeHang, ProbeNet, ProbeTabular

JOBS = 4
"""Probe runs the come-back check submits at once."""
JOB_STEPS = 60
"""Steps of an executor's probe run: enough to learn the tabular probe task well above
chance (0.65 to 0.92 test accuracy over seeds 0-5 on this machine), in well under a second."""
WAIT_SECONDS = 240.0
"""How long the probe runs may take to come back (each trains in well under a second; the
rest is starting workers)."""
BEAT_SECONDS = 120.0
"""How long the never-ending runs may take to start beating before the stop check skips."""
QUIET_SECONDS = 1.0
"""How long heartbeats must stand still after ``stop()``: they move every 50 ms, so twenty
beats missed."""


@dataclass
class ExecutorSubject:
    """One executor under check: the plugin manager with the probes, and its name."""

    pm: PluginManager
    name: str

    @property
    def cls(self) -> type[Executor]:
        return self.pm.registry.executor(self.name)

    def open(self, out: Path, timeout: float) -> Executor:
        """The executor with its default options, placing probe runs (one thread each, two
        at once) with the files it keeps under ``out``; skipped when it cannot start here."""
        placement = Placement(self.pm.config, None, out, 2, timeout, 1)
        try:
            executor, device, _ = open_executor(self.pm.registry, self.name, placement, "cpu")
        except BenchbenchError as exc:
            raise CheckSkipped(f"it cannot start here: {exc}") from None
        if device != "cpu":
            raise CheckFailed(f"asked for the CPU, it resolved the device to {device!r}")
        return executor


def probe_spec(pm: PluginManager, seed: int, regularizer: str = "none", **hparams: Any) -> RunSpec:
    """A probe run for an executor: the tabular probe task and network, :data:`JOB_STEPS`
    steps (or, with ``probe-hang``, steps without end), in the numerics mode this process
    honours (its workers then use the same)."""
    from ..host import numerics
    from ..planning.resolve import resolve_spec

    numerics.select(numerics.honoured())
    steps = JOB_STEPS if regularizer == "none" else 10**9
    return resolve_spec(
        pm.registry,
        task=ProbeTabular.name,
        arch=ProbeNet.name,
        regularizer=regularizer,
        seed=seed,
        budget=Budget(steps=steps, eval_every=0.5),
        hparams={f"{regularizer}.{k}": v for k, v in hparams.items()},
    )


def check_executor_contract(subject: ExecutorSubject) -> None:
    summary = subject.cls.summary.strip()
    for name, cls in subject.pm.registry.executors.items():
        if name != subject.name and cls.summary.strip() == summary:
            raise CheckFailed(f"its summary is word for word that of executor {name!r}")
    with tempfile.TemporaryDirectory(prefix="benchbench-check-") as out:
        executor = subject.open(Path(out), 60.0)
        try:
            if executor.slots < 1:
                raise CheckFailed(f"it holds {executor.slots} slots; it must hold at least one")
        finally:
            executor.stop()


def check_jobs_come_back(subject: ExecutorSubject) -> None:
    from ..execution.execute import execute
    from ..host.cpus import pinned_threads

    jobs = [Job(probe_spec(subject.pm, seed)) for seed in range(JOBS)]
    with tempfile.TemporaryDirectory(prefix="benchbench-check-") as out:
        executor = subject.open(Path(out), WAIT_SECONDS)
        back: list[tuple[Job, Any]] = []
        try:
            for job in jobs:
                executor.submit(job)
            if executor.busy != JOBS:
                raise CheckFailed(f"after {JOBS} jobs were submitted, busy says {executor.busy}")
            deadline = time.monotonic() + WAIT_SECONDS
            while executor.busy and time.monotonic() < deadline:
                back += executor.wait(1.0)
            if executor.busy:
                raise CheckFailed(
                    f"{executor.busy} of {JOBS} probe runs did not come back within "
                    f"{WAIT_SECONDS:.0f} s (each trains in under a second)"
                )
            back += executor.wait(0.5)  # nothing more may come
        finally:
            executor.stop()
    counts = [sum(job is j for j, _ in back) for job in jobs]
    if counts != [1] * JOBS or len(back) != JOBS:
        raise CheckFailed(
            f"the {JOBS} jobs came back {counts} times each ({len(back)} in all); every job "
            "must come back from wait() exactly once"
        )
    with pinned_threads(1):
        for job, result in back:
            _same_run(job, result, lambda spec: execute(spec, subject.pm))


def _same_run(job: Job, result: Any, here: Callable[[RunSpec], RunResult]) -> None:
    """``result`` is what ``job`` ran to: its own run's result, with the numbers of the same
    run trained here when it ended ok; or lost."""
    if not isinstance(result, RunResult):
        raise CheckFailed(f"a job came back as {type(result).__name__}, not a RunResult")
    if result.run_id != job.spec.run_id:
        raise CheckFailed(f"a job came back with another run's result ({result.run_id})")
    if result.status == "failed" and result.error_component == LOST:
        return
    if result.status != "ok":
        raise CheckFailed(f"a probe run ended {result.status}: {result.error}")
    local = here(job.spec)
    placed, trained = accuracies(result), accuracies(local)
    if placed != trained:
        raise CheckFailed(
            f"seed {job.spec.seed} gave {placed} where it ran and {trained} here: the runs "
            "must train as specified (same spec, same numerics mode, its threads)"
        )


def check_stop_ends_jobs(subject: ExecutorSubject) -> None:
    with tempfile.TemporaryDirectory(prefix="benchbench-check-") as out:
        beats = Path(out) / "beats"
        beats.mkdir()
        executor = subject.open(Path(out), 3600.0)
        try:
            for seed in range(2):
                spec = probe_spec(subject.pm, seed, ProbeHang.name, beats=str(beats))
                executor.submit(Job(spec))
            deadline = time.monotonic() + BEAT_SECONDS
            while not list(beats.iterdir()) and time.monotonic() < deadline:
                time.sleep(0.2)
                executor.wait(0.0)  # some executors submit what was queued when waited on
            started = bool(list(beats.iterdir()))
        finally:
            executor.stop()
        if executor.busy:
            raise CheckFailed(f"after stop(), busy still counts {executor.busy} jobs")
        if not started:
            raise CheckSkipped(
                f"its jobs did not start within {BEAT_SECONDS:.0f} s here; nothing was stopped"
            )
        time.sleep(QUIET_SECONDS / 2)  # a step that was writing when stop() came
        before = _beats(beats)
        time.sleep(QUIET_SECONDS)
        moved = sorted(name for name, beat in _beats(beats).items() if before.get(name) != beat)
        if moved:
            raise CheckFailed(
                f"{len(moved)} run(s) kept running after stop() returned ({', '.join(moved)} "
                "still beating): stop() must end every running job"
            )


def _beats(folder: Path) -> dict[str, str]:
    found = {}
    for path in folder.iterdir():
        try:
            found[path.name] = path.read_text()
        except OSError:
            continue
    return found


EXECUTOR_CHECKS: dict[str, Callable[[ExecutorSubject], None]] = {
    "contract": check_executor_contract,
    "jobs-come-back": check_jobs_come_back,
    "stop-ends-jobs": check_stop_ends_jobs,
}
"""The checks of an executor, in the order they run."""
