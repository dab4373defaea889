"""Fair hyperparameter tuning with Optuna.

Every candidate of a track gets the same number of trials, each a run scored on the
validation split only (the test split is never read), pruned on its eval points. Its study
lives in the same database as the results (Optuna's own tables beside ``runs``), under a name
derived from what the candidate is: task, components, fixed hyperparameters, the trial budget
and the tuning protocol. A study that already exists is resumed, and several processes
(one machine or many, through PostgreSQL) share it: each runs trials until the study holds
the number asked for. ``benchbench run`` then runs the best configuration of the first
``trials`` finished trials for every seed and scores it on test.

Each trial is a job for an executor — by default a worker process with the same time limit
as ``benchbench run``'s — so a trial that hangs or kills its process costs that trial only
(recorded as a failed trial, which counts as effort spent). The worker reports the trial's
eval points to the study itself (:class:`TrialReporter`), so pruning works wherever it runs.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError
from ..executors import Executor, InProcessExecutor, Job
from ..host.interrupts import StopSignals
from ..planning.targets import Target, TuningConfig
from ..plugins.manager import PluginManager
from ..spec import RunResult, RunSpec
from ..storage.database import reason
from ..tracking.relay import Relay
from .space import suggest
from .studies import (
    Summary,
    finished,
    finished_of,
    load_study,
    make_pruner,
    make_sampler,
    open_storage,
    quiet,
    study_name,
    summarize,
)

__all__ = [
    "Interrupted",
    "Summary",
    "Target",
    "TrialReporter",
    "TuningConfig",
    "finished",
    "load_study",
    "open_storage",
    "study_name",
    "summarize",
    "tune",
]


class Interrupted(Exception):
    """Tuning was asked to stop (Ctrl-C, SIGTERM): the running trial's worker was ended."""


@dataclass
class TrialReporter:
    """Reports a trial's eval points to its study and raises ``TrialPruned`` when the
    pruner says so; picklable, so it runs in the worker process that trains the trial and
    opens the study there (from the storage URL) on its first call."""

    url: str
    study: str
    trial_id: int
    pruner: str
    _trial: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_trial": None}

    def __call__(self, point: dict[str, Any]) -> None:
        import optuna

        if self._trial is None:
            quiet()
            study = optuna.load_study(
                study_name=self.study,
                storage=open_storage(self.url),
                sampler=optuna.samplers.RandomSampler(),
                pruner=make_pruner(TuningConfig(pruner=self.pruner)),
            )
            self._trial = optuna.trial.Trial(study, self.trial_id)
        self._trial.report(point["val_accuracy"], point["step"])
        if self._trial.should_prune():
            raise optuna.TrialPruned()


def tune(
    target: Target,
    config: TuningConfig,
    pm: PluginManager,
    storage: Any,
    data_dir: Path | None = None,
    worker: int = 0,
    progress: Callable[[Summary], None] | None = None,
    executor: Executor | None = None,
    stop: StopSignals | None = None,
    parallel: int = 1,
    relay: Relay | None = None,
) -> Summary:
    """Run trials of ``target`` until its study holds ``config.trials`` finished ones, then
    summarise them. Resumes a stored study; shares it with other processes (give each a different
    ``worker`` so their samplers draw differently).

    Each trial's run is a job for ``executor`` (default: in this process), ``parallel`` at a time
    (the executor needs as many slots): trials are asked of the study, their runs report eval points
    to it from wherever they run (so pruning works), and each result is told as it arrives. No trial
    is asked once finished plus running ones reach the count, so the study never holds more than
    ``trials`` plus what other processes overshoot, and :func:`~benchbench.tuning.studies.summarize`
    judges the first ``trials`` finished. A trial whose run diverges scores 0; one that fails or
    times out is a failed trial that counts as effort spent. When ``stop`` is requested the running
    trials are ended (they do not count, and a resumed tuning redoes them) and :class:`Interrupted`
    is raised. ``relay`` (experiment trackers) follows each trial as a run of the study, with its
    trial state."""
    import optuna

    quiet()
    executor = executor or InProcessExecutor(pm, data_dir)
    name = study_name(target, config, pm, data_dir)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        sampler=make_sampler(config, worker),
        pruner=make_pruner(config),
        load_if_exists=True,
    )
    study.set_user_attr("target", json.loads(json.dumps(asdict(target), default=str)))
    study.set_user_attr("protocol", config.protocol())
    study.set_user_attr("code", dict(target.spec(pm, {}, config.seed, data_dir).code))
    running: dict[int, Any] = {}  # trial id -> trial, for trials whose runs are out
    beat = _Heartbeat(storage)
    try:
        optuna.storages.fail_stale_trials(study)  # those of a process that died
        while True:
            while len(running) < parallel and _room(study, config.trials):
                trial = study.ask()
                running[trial._trial_id] = trial
                storage.record_heartbeat(trial._trial_id)  # stale-able from the start
                job = _trial_job(trial, target, config, pm, storage, name, data_dir)
                if relay is not None:
                    job = _tracked(job, relay, name, trial.number)
                executor.submit(job)
            if not running:
                break
            for job, result in _wait(executor, stop):
                reporter = getattr(job.on_eval, "inner", job.on_eval)
                _tell(study, running.pop(reporter.trial_id), result)
                if relay is not None:
                    relay.finished(_as_result(job.spec, result), key=job.on_eval.run_id)
                if progress is not None:
                    progress(summarize(study, config.trials))
            beat(running)
    except BaseException:
        executor.stop()
        for trial in running.values():  # no run status: a resumed tuning redoes them
            study.tell(trial, state=optuna.trial.TrialState.FAIL, skip_if_finished=True)
        raise
    return summarize(study, config.trials)


def _room(study: Any, trials: int) -> bool:
    """Whether another trial may start: finished and running ones (of every process sharing
    the study) are fewer than ``trials``."""
    import optuna

    in_study = study.get_trials(deepcopy=False)  # read once: on PostgreSQL, every 0.5 s
    running = sum(t.state == optuna.trial.TrialState.RUNNING for t in in_study)
    return len(finished_of(in_study)) + running < trials


def _trial_job(
    trial: Any,
    target: Target,
    config: TuningConfig,
    pm: PluginManager,
    storage: Any,
    name: str,
    data_dir: Path | None,
) -> Job:
    """The job of one asked trial: its configuration's run on the validation split, with a
    reporter that tells the study its eval points from wherever it runs."""
    hparams = suggest(trial, target, pm)
    trial.set_user_attr("hparams", hparams)
    spec = target.spec(pm, hparams, config.seed, data_dir)
    reporter = TrialReporter(storage.url, name, trial._trial_id, config.pruner)
    return Job(spec, reporter, score_test=False)


def _tracked(job: Job, relay: Relay, study: str, number: int) -> Job:
    """``job`` followed by the trackers: a run of ``study`` tagged with its trial number,
    keyed by both (two trials may draw the same configuration)."""
    from ..tracking import TrackedRun

    run = TrackedRun.of(job.spec, study=study, trial=number)
    key = f"{job.spec.run_id}-trial{number}"
    relay.started(dataclasses.replace(run, run_id=key))
    return dataclasses.replace(job, on_eval=relay.forward(key, job.on_eval))


def _as_result(spec: RunSpec, outcome: Any) -> RunResult:
    """What a tracker is told of a trial's end: its run's result, or (pruned, or its
    reporter failed) a result saying so in ``error``."""
    import optuna

    if isinstance(outcome, RunResult):
        return outcome
    if isinstance(outcome, optuna.TrialPruned):
        return RunResult.for_spec(spec, "failed", error="pruned", error_component="tuning")
    return RunResult.for_spec(spec, "failed", error=reason(outcome))


def _wait(executor: Executor, stop: StopSignals | None) -> list[Any]:
    """What finished within half a second; :class:`Interrupted` when asked to stop."""
    if stop is not None and stop.requested:
        raise Interrupted()
    return executor.wait(timeout=0.5)


def _tell(study: Any, trial: Any, result: Any) -> None:
    """Tell the study how the trial's run ended: its final validation accuracy; 0 for a
    diverged run; pruned when its reporter said so; failed (with the run's status, so it
    counts as effort spent) when the run failed or timed out."""
    import optuna

    state = optuna.trial.TrialState
    if isinstance(result, optuna.TrialPruned):
        study.tell(trial, state=state.PRUNED)
        return
    if isinstance(result, BaseException):  # the reporter could not reach the study
        study.tell(trial, state=state.FAIL)
        raise BenchbenchError(f"tuning storage: {reason(result)}")
    trial.set_user_attr("train_seconds", result.train_seconds)
    trial.set_user_attr("status", result.status)
    if result.status == "diverged":
        study.tell(trial, 0.0)  # a configuration that diverges is as bad as it gets
    elif result.status != "ok" or result.final_val_accuracy is None:
        trial.set_user_attr("error", result.error)
        study.tell(trial, state=state.FAIL)
    else:
        study.tell(trial, float(result.final_val_accuracy))


class _Heartbeat:
    """Records the running trials' heartbeats in the storage every half interval, so a
    tuning process that dies leaves trials the next one fails as stale and redoes."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.every = (storage.get_heartbeat_interval() or 0) / 2
        self.last = 0.0

    def __call__(self, running: dict[int, Any]) -> None:
        if not self.every or time.monotonic() - self.last < self.every:
            return
        for trial_id in running:
            self.storage.record_heartbeat(trial_id)
        self.last = time.monotonic()
