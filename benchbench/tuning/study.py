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
import hashlib
import json
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..errors import BenchbenchError
from ..plugins.manager import PluginManager
from ..running.executors import Executor, InProcessExecutor, Job
from ..running.interrupts import StopSignals
from ..running.resolve import build_components, resolve_spec
from ..spec import RunResult, RunSpec
from ..storage.database import display, parse_url, reason
from ..tracking.relay import Relay
from ..training.settings import loop_search_space

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
_KEYS = {"trials", "sampler", "pruner", "seed", "budget"}
_OPEN_ATTEMPTS = 4


@dataclass(frozen=True)
class TuningConfig:
    """The protocol: trials per candidate, sampler (seeded), pruner, and one trial's budget
    (the track's or the task's when ``None``). ``seed`` seeds the sampler and every trial's
    training run."""

    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    budget: Budget | None = None

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ValueError(f"tuning trials must be a positive integer, got {self.trials!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"tuning sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"tuning pruner must be one of {PRUNERS}, got {self.pruner!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"tuning seed must be an integer, got {self.seed!r}")
        if self.budget is not None and not isinstance(self.budget, Budget):
            raise ValueError(
                f"tuning budget must be a table such as {{ steps = 100 }}, got {self.budget!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningConfig:
        """From a suite file's ``[tuning]`` table."""
        unknown = set(data) - _KEYS
        if unknown:
            listing = sorted(map(str, unknown))
            raise ValueError(f"unknown tuning key(s) {listing}; use {sorted(_KEYS)}")
        values = dict(data)
        if isinstance(values.get("budget"), Mapping):
            values["budget"] = Budget.from_dict(values["budget"])
        return cls(**values)

    def protocol(self) -> dict[str, Any]:
        """What makes two tunings comparable (the trial count is not: more trials resume)."""
        return {"sampler": self.sampler, "pruner": self.pruner, "seed": self.seed}


@dataclass(frozen=True)
class Target:
    """One candidate to tune: its components, its fixed hyperparameters, the trial budget."""

    task: str
    arch: str
    regularizer: str = "none"
    ssl: str = "supervised"
    finetune: str = "full"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    budget: Budget | None = None
    device: str = "cpu"

    def spec(
        self,
        pm: PluginManager,
        hparams: Mapping[str, Any],
        seed: int,
        data_dir: Path | None = None,
    ) -> RunSpec:
        return resolve_spec(
            pm.registry,
            task=self.task,
            arch=self.arch,
            regularizer=self.regularizer,
            ssl=self.ssl,
            finetune=self.finetune,
            hparams={**hparams, **self.fixed},
            seed=seed,
            budget=self.budget,
            device=self.device,
            data_dir=data_dir,
        )


def study_name(
    target: Target, config: TuningConfig, pm: PluginManager, data_dir: Path | None = None
) -> str:
    """A stable study name for a candidate under a protocol: a hash of the resolved spec
    (every default included, so a changed default starts a new study; the data's
    fingerprint and the code identity too, so an upgraded component is tuned again),
    without its seed and device, plus the protocol."""
    spec = target.spec(pm, {}, config.seed, data_dir).to_dict()
    identity = {k: v for k, v in spec.items() if k not in ("seed", "device")}
    text = json.dumps({"spec": identity, **config.protocol()}, sort_keys=True, default=str)
    return "benchbench-" + hashlib.sha256(text.encode()).hexdigest()[:16]


def suggest(trial: Any, target: Target, pm: PluginManager) -> dict[str, Any]:
    """One configuration: the loop's search space and every component's at once, named
    ``<component>.<name>`` as in specs; the candidate's fixed hyperparameters win."""
    parts = build_components(pm.registry, target.spec(pm, {}, 0))
    hparams = dict(loop_search_space(trial))
    members = getattr(parts.regularizer, "members", [parts.regularizer])
    for component in (parts.arch, *members, parts.ssl, parts.finetune):
        space = component.search_space(Namespaced(trial, component.name))
        unknown = sorted(set(space) - set(component.defaults))
        if unknown:
            raise BenchbenchError(
                f"{component.kind} {component.name!r}: search_space returns {unknown}, which "
                f"are not among its hyperparameters ({', '.join(sorted(component.defaults))})"
            )
        for key, value in space.items():
            hparams[f"{component.name}.{key}"] = value
    return {k: v for k, v in hparams.items() if k not in target.fixed}


class Namespaced:
    """A trial as one component sees it: a suggestion's name gets the component's name in
    front (``width`` becomes ``mlp.width``) unless it already has it, so two components that
    suggest the same bare name never clash in one study."""

    def __init__(self, trial: Any, component: str) -> None:
        self._trial, self._prefix = trial, f"{component}."

    def _name(self, name: str) -> str:
        return name if name.startswith(self._prefix) else self._prefix + name

    def suggest_float(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_float(self._name(name), *args, **kwargs)

    def suggest_int(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_int(self._name(name), *args, **kwargs)

    def suggest_categorical(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self._trial.suggest_categorical(self._name(name), *args, **kwargs)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._trial, attr)


def open_storage(url: str) -> Any:
    """Optuna storage on the results database URL. SQLite waits up to 60 s for a lock
    instead of failing at once, so several processes of one machine can share it;
    heartbeats let a resumed tuning fail the trials of a process that died."""
    import optuna

    is_sqlite = parse_url(url).drivername.startswith("sqlite")
    engine_kwargs = {"connect_args": {"timeout": 60}} if is_sqlite else {"pool_pre_ping": True}
    _quiet()
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=30, grace_period=120
            )
        except Exception as exc:  # SQLAlchemy, driver and Optuna errors alike
            if attempt + 1 == _OPEN_ATTEMPTS:
                raise BenchbenchError(
                    f"cannot open tuning storage {display(url)}: {reason(exc)}"
                ) from exc
            time.sleep(0.5 * (attempt + 1))  # two processes creating the tables at once
    raise AssertionError("unreachable")


def _quiet() -> None:
    """Optuna's INFO line per trial, its warning with a traceback per failed trial (the
    trial's run says why it failed, and ``tune`` counts them), and its warnings that
    heartbeats are experimental (they are, and they are what lets a resumed tuning fail a
    dead process's trials) and meant for ``optimize`` (:func:`tune` records them itself)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # trials are asked and told here and run elsewhere; their heartbeats are recorded here
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


def _sampler(config: TuningConfig, worker: int) -> Any:
    import optuna

    seed = config.seed + 1_000_003 * worker
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def _pruner(config: TuningConfig) -> Any:
    import optuna

    if config.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0)
    if config.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def load_study(storage: Any, name: str) -> Any | None:
    """The study called ``name``, or ``None`` if it does not exist yet."""
    import optuna

    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None


def finished(study: Any) -> list[Any]:
    """The study's finished trials, in trial-number order: complete, pruned, or failed by its
    run (a crash is effort spent on that configuration). A trial failed by an interruption
    or a dead worker has no run status and does not count: a resumed tuning redoes it."""
    return _finished_of(study.get_trials(deepcopy=False))


def _finished_of(trials: list[Any]) -> list[Any]:
    """:func:`finished` of trials already read from the study."""
    import optuna

    state = optuna.trial.TrialState
    return sorted(
        (
            t
            for t in trials
            if t.state in (state.COMPLETE, state.PRUNED)
            or (t.state == state.FAIL and "status" in t.user_attrs)
        ),
        key=lambda t: t.number,
    )


@dataclass
class Summary:
    """What tuning one candidate found and cost, from the first ``trials`` finished trials."""

    study: str
    trials: int
    complete: int
    pruned: int
    failed: int
    best_value: float | None
    best_params: dict[str, Any]
    tuning_seconds: float
    val_spread: float | None
    stored: int
    """Trials of every state in the study (more than ``trials`` while others run)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(study: Any, trials: int | None = None) -> Summary:
    """Best configuration and cost over the first ``trials`` finished trials (all when
    ``None``), so every candidate is judged on the same number even if parallel workers
    overshot. ``val_spread`` is the standard deviation of final validation accuracy over
    complete trials: how much the choice of hyperparameters matters (tuneability)."""
    import optuna

    state = optuna.trial.TrialState
    first = finished(study)[:trials] if trials else finished(study)
    complete = [t for t in first if t.state == state.COMPLETE and t.value is not None]
    best = max(complete, key=lambda t: (t.value, -t.number), default=None)
    values = [t.value for t in complete]
    seconds = sum(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in first
        if t.datetime_start and t.datetime_complete
    )
    return Summary(
        study=study.study_name,
        trials=len(first),
        complete=len(complete),
        pruned=sum(t.state == state.PRUNED for t in first),
        failed=sum(t.state == state.FAIL for t in first),
        best_value=best.value if best else None,
        best_params=dict(best.user_attrs.get("hparams", best.params)) if best else {},
        tuning_seconds=seconds,
        val_spread=statistics.pstdev(values) if len(values) >= 2 else None,
        stored=len(study.get_trials(deepcopy=False)),
    )


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
            _quiet()
            study = optuna.load_study(
                study_name=self.study,
                storage=open_storage(self.url),
                sampler=optuna.samplers.RandomSampler(),
                pruner=_pruner(TuningConfig(pruner=self.pruner)),
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
    summarise them. Resumes a stored study; shares it with other processes (give each a
    different ``worker`` so their samplers draw differently).

    Each trial's run is a job for ``executor`` (default: in this process), ``parallel`` at
    a time (the executor needs as many slots): trials are asked of the study, their runs
    report eval points to it from wherever they run (so pruning works), and each result is
    told as it arrives. No trial is asked once finished plus running ones reach the count,
    so the study never holds more than ``trials`` plus what other processes overshoot, and
    :func:`summarize` judges the first ``trials`` finished. A trial whose run diverges
    scores 0; one that fails or times out is a failed trial that counts as effort spent.
    When ``stop`` is requested the running trials are ended (they do not count, and a
    resumed tuning redoes them) and :class:`Interrupted` is raised. ``relay`` (experiment
    trackers) follows each trial as a run of the study, with its trial state."""
    import optuna

    _quiet()
    executor = executor or InProcessExecutor(pm, data_dir)
    name = study_name(target, config, pm, data_dir)
    study = optuna.create_study(
        study_name=name,
        storage=storage,
        direction="maximize",
        sampler=_sampler(config, worker),
        pruner=_pruner(config),
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
    return len(_finished_of(in_study)) + running < trials


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
