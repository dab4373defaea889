"""One ``benchbench tune``, start to end: every candidate of a suite (or one candidate)
tuned with the same protocol, studies stored beside the results, and what ``run --tuned``
will run recorded as it grows."""

from __future__ import annotations

import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import BenchbenchError, Stopped
from ..paths import DEFAULT_OUT, PathLike, optional_path
from ..progress import Console
from .studies import Summary


@dataclass
class TunedCandidate:
    """One candidate's tuning: its label (``track/task/candidate``, or its components), its
    suite place (None for a single candidate) and what tuning found and cost."""

    label: str
    place: tuple[str, str, str] | None
    summary: Summary
    storage_url: str = field(repr=False)

    @property
    def best_params(self) -> dict[str, Any]:
        return self.summary.best_params

    @property
    def best_value(self) -> float | None:
        """The best validation accuracy of the first ``trials`` finished trials."""
        return self.summary.best_value

    def study(self) -> Any:
        """The candidate's Optuna study, loaded from the results database."""
        from .studies import load_study, open_storage

        return load_study(open_storage(self.storage_url), self.summary.study)


@dataclass
class TuningOutcome:
    """What ``tune`` found: one :class:`TunedCandidate` per candidate, in suite order."""

    suite: str | None
    candidates: list[TunedCandidate]

    def rows(self) -> list[dict[str, Any]]:
        """One dict per candidate: its label, best hyperparameters and value, trial counts
        and seconds (what ``benchbench tune --json`` prints)."""
        return [_row(c) for c in self.candidates]

    def frame(self) -> pd.DataFrame:
        """:meth:`rows` as a DataFrame."""
        return pd.DataFrame(self.rows())


def _row(candidate: TunedCandidate) -> dict[str, Any]:
    s = candidate.summary
    return {
        "candidate": candidate.label,
        "best_params": s.best_params,
        "best_value": s.best_value,
        "n_trials": s.stored,
        **{k: v for k, v in s.to_dict().items() if k not in ("best_params", "best_value")},
    }


def tune(
    suite: str | None = None,
    *,
    task: str | None = None,
    arch: str | None = None,
    regularizer: str = "none",
    ssl: str = "supervised",
    finetune: str = "full",
    trials: int | None = None,
    epochs: float | None = None,
    steps: int | None = None,
    seconds: float | None = None,
    eval_every: float = 1.0,
    sampler: str | None = None,
    pruner: str | None = None,
    seed: int | None = None,
    hparams: Mapping[str, Any] | None = None,
    worker: int = 0,
    parallel: int = 1,
    device: str = "auto",
    threads: int | None = None,
    numerics: str = "portable",
    download: bool = False,
    executor: str = "local",
    executor_options: Mapping[str, Any] | Any = None,
    gpus_per_run: float = 1.0,
    timeout: float = 3600.0,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    plugins: Sequence[str] = (),
    log: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> TuningOutcome:
    """Tune every candidate of ``suite``, or one candidate (``task``, ``arch`` and the other
    components), with Optuna.

    Every candidate gets the same number of trials (``trials``, default: the suite's, 20),
    each a run scored on the validation split, pruned on its eval points. Studies are
    stored with the results and resumed when called again; several processes may tune one
    database at once (give each its own ``worker``). ``parallel`` trials run at once, each
    in a worker process, or where ``executor`` places them (with ``executor_options`` and
    ``gpus_per_run`` as for :func:`~benchbench.run`); one that crashes or passes ``timeout``
    counts as a failed trial. Trials report to the study from where they run, so trials on
    other machines need a ``storage`` they can reach (PostgreSQL); an executor refuses, or
    warns about, one they cannot. ``hparams`` fixes hyperparameters (in
    a suite: for every candidate that has them). The options override a suite's own
    ``[tuning]`` settings. ``numerics`` and ``download``: as for :func:`~benchbench.run`.
    ``log`` names experiment trackers (``NAME[:TARGET]``, :mod:`benchbench.tracking`):
    each trial a run nested under the tuning, with its trial number and state.
    :func:`~benchbench.run` with ``tuned=True`` then runs the best configurations.

    :returns: Each candidate's best hyperparameters, best validation accuracy and cost; its
    :returns: Optuna study is ``outcome.candidates[i].study()``.

    :raises ~benchbench.BenchbenchError: a bad suite, name or value (nothing was tuned).
    :raises ~benchbench.errors.Stopped: a signal stopped tuning; finished trials are stored.
    """
    from ..budget import budget_of
    from ..executors.base import Placement
    from ..executors.choose import open_executor
    from ..host.interrupts import StopSignals
    from ..host.numerics import select
    from ..planning.data_check import prepare_data
    from ..planning.declared import check_declared, declare
    from ..planning.suite import load_suite
    from ..planning.targets import Target
    from ..plugins.manager import load_plugins
    from ..storage.store import Store, prepare_out, storage_url
    from .studies import open_storage
    from .study import Interrupted
    from .study import tune as tune_candidate
    from .suite import protocol_of, suite_tuning_jobs, tuned_variant, tuning_config

    if bool(suite) == bool(task or arch):  # before the plugins load: one line at once
        raise BenchbenchError("name a SUITE, or one candidate with --task and --arch")
    if not suite and not (task and arch):
        raise BenchbenchError("tuning one candidate needs both --task and --arch")
    select(numerics)  # before the workers start: they load torch with its settings
    declared = declare(suite)  # before the plugins load: they register these tasks too
    pm, console = load_plugins(plugins), Console(progress)
    check_declared(declared, pm, str(suite))
    out, data_dir = Path(out), optional_path(data_dir)
    budget, fixed = budget_of(epochs, steps, seconds, eval_every), dict(hparams or {})
    url = storage_url(out, storage)
    placement = Placement(pm.config, data_dir, out, parallel, timeout, threads, gpus_per_run)
    placer, device, storage_note = open_executor(
        pm.registry, executor, placement, device, executor_options, storage_url=url
    )
    chosen = {"trials": trials, "sampler": sampler, "pruner": pruner, "seed": seed}
    loaded = load_suite(suite, pm.registry) if suite else None
    tasks = {t for track in loaded.tracks for t in track.tasks} if loaded else {str(task)}
    # before specs (their ids hold the data's fingerprint); else a note: its trials would fail
    for name, hint in prepare_data(tasks, pm.registry, data_dir, download, console.enabled).items():
        console.note(f"benchbench: task {name}: its data is missing; {hint}")
    if loaded is not None:
        jobs = suite_tuning_jobs(loaded, pm, device, budget, chosen, fixed, data_dir)
    else:
        config = tuning_config(None, budget, chosen)
        one = Target(task, arch, regularizer, ssl, finetune, fixed, budget, device)
        one.spec(pm, {}, config.seed, data_dir)  # names and values checked before anything
        jobs = [(f"{task}/{arch}/{regularizer}/{ssl}/{finetune}", None, one, config)]
    prepare_out(out)
    store = Store(url)  # checks the URL and creates the results tables beside the studies
    studies = open_storage(url)
    if storage_note:
        console.note(f"benchbench: warning: {storage_note}")
    from ..tracking import Session, open_relay, reading

    relay = open_relay(
        [*(loaded.log if loaded else ()), *log],
        pm.registry.trackers,
        Session("tune", loaded.name if loaded else jobs[0][0]),
        placer.channel,
    )
    places: dict[tuple[str, str, str], dict[str, Any]] = {}
    done: list[TunedCandidate] = []
    total = sum(config.trials for _, _, _, config in jobs)
    try:
        with (
            StopSignals("stopping: ending the running trials") as stop,
            placer,
            reading(relay),  # before the executor ends the channel's process or cluster
            console.bar(total, "trial") as bar,
        ):
            for label, place, one, config in jobs:
                start = bar.n

                def show(summary: Summary, label: str = label, start: int = start) -> None:
                    bar.n = start + summary.trials
                    best = "-" if summary.best_value is None else f"{summary.best_value:.4f}"
                    bar.set_postfix_str(f"{label}: best val {best}, {summary.pruned} pruned")

                try:
                    summary = tune_candidate(
                        one,
                        config,
                        pm,
                        studies,
                        data_dir,
                        worker,
                        show,
                        placer,
                        stop,
                        parallel,
                        relay,
                    )
                except Interrupted:
                    raise Stopped(
                        stop.signum or signal.SIGINT,
                        f"{len(done)} of {len(jobs)} candidates tuned; finished trials are "
                        "stored, run the same command to resume",
                    ) from None
                bar.n = start + config.trials
                bar.refresh()
                done.append(TunedCandidate(label, place, summary, url))
                if loaded is not None and place is not None:  # what 'run --tuned' will run
                    places[place] = {
                        **summary.to_dict(),
                        # the fixed ones too
                        "best_params": {**summary.best_params, **one.fixed},
                        "protocol": protocol_of(config),
                        "code": one.spec(pm, {}, config.seed, data_dir).code,
                    }
                    store.set_tunings(tuned_variant(loaded).key, places)
    finally:
        if relay is not None:
            relay.close()
    return TuningOutcome(loaded.name if loaded else None, done)
