"""Fair hyperparameter tuning with Optuna.

Every candidate of a track gets the same number of trials, each a run scored on the
validation split only (the test split is never read), pruned on its eval points. Its study
lives in the same database as the results (Optuna's own tables beside ``runs``), under a name
derived from what the candidate is: task, components, fixed hyperparameters, the trial budget
and the tuning protocol. A study that already exists is resumed, and several processes
(one machine or many, through PostgreSQL) share it: each runs trials until the study holds
the number asked for. ``benchbench run`` then runs the best configuration of the first
``trials`` finished trials for every seed and scores it on test.
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .budget import Budget
from .errors import BenchbenchError
from .execute import build_components, execute, resolve_spec
from .plugins import PluginManager
from .spec import RunSpec
from .train import loop_search_space

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
        if not isinstance(self.trials, int) or self.trials < 1:
            raise ValueError(f"tuning trials must be a positive integer, got {self.trials!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"tuning sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"tuning pruner must be one of {PRUNERS}, got {self.pruner!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningConfig:
        """From a suite file's ``[tuning]`` table."""
        unknown = set(data) - _KEYS
        if unknown:
            raise ValueError(f"unknown tuning key(s) {sorted(unknown)}; use {sorted(_KEYS)}")
        values = dict(data)
        if values.get("budget") is not None:
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

    def spec(self, pm: PluginManager, hparams: Mapping[str, Any], seed: int) -> RunSpec:
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
        )


def study_name(target: Target, config: TuningConfig, pm: PluginManager) -> str:
    """A stable study name for a candidate under a protocol: a hash of the resolved spec
    (every default included, so a changed default starts a new study), without its seed
    and device, plus the protocol."""
    spec = target.spec(pm, {}, config.seed).to_dict()
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
        for key, value in component.search_space(trial).items():
            hparams[f"{component.name}.{key}"] = value
    return {k: v for k, v in hparams.items() if k not in target.fixed}


def open_storage(url: str) -> Any:
    """Optuna storage on the results database URL. SQLite waits up to 60 s for a lock
    instead of failing at once, so several processes of one machine can share it;
    heartbeats let a resumed tuning fail the trials of a process that died."""
    import optuna

    engine_kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    _quiet()
    for attempt in range(_OPEN_ATTEMPTS):
        try:
            return optuna.storages.RDBStorage(
                url, engine_kwargs=engine_kwargs, heartbeat_interval=30, grace_period=120
            )
        except Exception as exc:  # SQLAlchemy, driver and Optuna errors alike
            if attempt + 1 == _OPEN_ATTEMPTS:
                reason = " ".join(str(exc).split())[:300]
                raise BenchbenchError(f"cannot open tuning storage: {reason}") from exc
            time.sleep(0.5 * (attempt + 1))  # two processes creating the tables at once
    raise AssertionError("unreachable")


def _quiet() -> None:
    """Optuna's INFO line per trial and its warnings that heartbeats are experimental (they
    are, and they are what lets a resumed tuning fail a dead process's trials)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


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
    import optuna

    state = optuna.trial.TrialState
    return sorted(
        (
            t
            for t in study.get_trials(deepcopy=False)
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


def tune(
    target: Target,
    config: TuningConfig,
    pm: PluginManager,
    storage: Any,
    data_dir: Path | None = None,
    worker: int = 0,
    progress: Callable[[Summary], None] | None = None,
) -> Summary:
    """Run trials of ``target`` until its study holds ``config.trials`` finished ones, then
    summarise them. Resumes a stored study; shares it with other processes (give each a
    different ``worker`` so their samplers draw differently)."""
    import optuna

    _quiet()
    name = study_name(target, config, pm)
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

    def objective(trial: Any) -> float:
        hparams = suggest(trial, target, pm)
        trial.set_user_attr("hparams", hparams)
        spec = target.spec(pm, hparams, config.seed)

        def report(point: dict[str, Any]) -> None:
            trial.report(point["val_accuracy"], point["step"])
            if trial.should_prune():
                raise optuna.TrialPruned()

        result = execute(spec, pm, data_dir, on_eval=report, score_test=False)
        trial.set_user_attr("train_seconds", result.train_seconds)
        trial.set_user_attr("status", result.status)
        if result.status == "diverged":
            return 0.0  # a configuration that diverges is as bad as it gets, not an error
        if result.status != "ok" or result.final_val_accuracy is None:
            raise RuntimeError(f"trial run {result.status}: {result.error}")
        return float(result.final_val_accuracy)

    while True:
        optuna.storages.fail_stale_trials(study)  # those of a process that died
        in_study = study.get_trials(deepcopy=False)
        running = sum(t.state == optuna.trial.TrialState.RUNNING for t in in_study)
        if len(finished(study)) + running >= config.trials:
            break
        study.optimize(objective, n_trials=1, catch=(RuntimeError,))
        if progress is not None:
            progress(summarize(study, config.trials))
    return summarize(study, config.trials)


def tuned_hparams(
    target: Target, config: TuningConfig, pm: PluginManager, storage: Any
) -> Summary | None:
    """The tuning summary of ``target`` if a study with finished trials exists, else None."""
    study = load_study(storage, study_name(target, config, pm))
    if study is None or not finished(study):
        return None
    summary = summarize(study, config.trials)
    return (
        summary if summary.best_value is not None and not math.isnan(summary.best_value) else None
    )
