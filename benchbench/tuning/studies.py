"""Optuna studies beside the results: the storage on the results database, each
candidate's study by a name derived from what it is, the protocol's sampler and pruner, and
what a study found (:class:`Summary`: the best of its first ``trials`` finished trials)."""

from __future__ import annotations

import hashlib
import json
import statistics
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError
from ..planning.targets import Target, TuningConfig
from ..plugins.manager import PluginManager
from ..storage.database import display, parse_url, reason

_OPEN_ATTEMPTS = 4


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


def open_storage(url: str) -> Any:
    """Optuna storage on the results database URL. SQLite waits up to 60 s for a lock
    instead of failing at once, so several processes of one machine can share it;
    heartbeats let a resumed tuning fail the trials of a process that died."""
    import optuna

    is_sqlite = parse_url(url).drivername.startswith("sqlite")
    engine_kwargs = {"connect_args": {"timeout": 60}} if is_sqlite else {"pool_pre_ping": True}
    quiet()
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


def quiet() -> None:
    """Optuna's INFO line per trial, its warning with a traceback per failed trial (the
    trial's run says why it failed, and ``tune`` counts them), and its warnings that
    heartbeats are experimental (they are, and they are what lets a resumed tuning fail a
    dead process's trials) and meant for ``optimize``
    (:func:`~benchbench.tuning.study.tune` records them itself)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    # trials are asked and told here and run elsewhere; their heartbeats are recorded here
    warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used")


def make_sampler(config: TuningConfig, worker: int) -> Any:
    import optuna

    seed = config.seed + 1_000_003 * worker
    if config.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.TPESampler(seed=seed)


def make_pruner(config: TuningConfig) -> Any:
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
    return finished_of(study.get_trials(deepcopy=False))


def finished_of(trials: list[Any]) -> list[Any]:
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
    """The Optuna study's name in the results database."""
    trials: int
    """Finished trials counted (the first ``trials`` of the protocol)."""
    complete: int
    """Of those, trials that ran their whole budget."""
    pruned: int
    """Trials the pruner stopped early."""
    failed: int
    """Trials that crashed, diverged or timed out (effort spent all the same)."""
    best_value: float | None
    """The best validation accuracy (None: no trial completed)."""
    best_params: dict[str, Any]
    """The hyperparameters of that trial."""
    tuning_seconds: float
    """Training seconds the counted trials took."""
    val_spread: float | None
    """Standard deviation of the complete trials' validation accuracies: how much the
    hyperparameters matter."""
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
