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

from ..arguments import checked, choice
from ..errors import BenchbenchError, Stopped
from ..paths import DEFAULT_OUT, PathLike, optional_path
from ..phrasing import again, option
from ..planning.targets import PRUNERS, SAMPLERS
from ..progress import Console
from .studies import Summary


@dataclass
class TunedCandidate:
    """One candidate's tuning: its label (``track/task/candidate``, or its components), its
    suite place (None for a single candidate) and what tuning found and cost."""

    label: str
    """``track/task/candidate`` in a suite, else ``task/arch/regularizer/ssl/finetune``
    (``/optimizer`` after them unless it is adamw)."""
    place: tuple[str, str, str] | None
    """Its suite place (track, task, candidate); None for a single candidate."""
    summary: Summary
    """What tuning found and cost: best value and hyperparameters, trial counts, seconds."""
    storage_url: str = field(repr=False)
    """The database its Optuna study is stored in."""

    @property
    def best_params(self) -> dict[str, Any]:
        """The hyperparameters of the best trial."""
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
    """What ``tune`` found: one :class:`TunedCandidate` per candidate, in suite order; in a
    notebook, a table of them (:meth:`frame`)."""

    suite: str | None
    """The suite tuned; None for a single candidate."""
    candidates: list[TunedCandidate]
    """Each candidate's tuning, in suite order."""

    def __repr__(self) -> str:
        best = [
            f"{c.label} {c.best_value:.4f}" for c in self.candidates if c.best_value is not None
        ]
        shown = "; ".join(best[:3]) + (f"; {len(best) - 3} more" if len(best) > 3 else "")
        what = self.suite or "one candidate"
        return f"TuningOutcome({what}: {len(self.candidates)} tuned, best val {shown or '-'})"

    def _repr_html_(self) -> str:
        """A notebook's view: one row per candidate."""
        return self.frame().to_html(index=False)

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


@checked(renamed={"parallel": "workers"}, sampler=choice(SAMPLERS), pruner=choice(PRUNERS))
def tune(
    suite: str | None = None,
    *,
    task: str | None = None,
    arch: str | None = None,
    regularizer: str = "none",
    ssl: str = "supervised",
    finetune: str = "full",
    optimizer: str = "adamw",
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
    workers: int = 1,
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
    database at once (give each its own ``worker``). ``workers`` trials run at once (its
    old name ``parallel`` is still taken, with a ``FutureWarning``), each
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
        Optuna study is ``outcome.candidates[i].study()``.

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
    from ..plugins.config import check_shippable
    from ..plugins.manager import load_plugins
    from ..storage.store import Store, prepare_out, storage_url
    from .studies import open_storage
    from .study import Interrupted
    from .study import tune as tune_candidate
    from .suite import protocol_of, suite_tuning_jobs, tuned_variant, tuning_config

    if bool(suite) == bool(task or arch):  # before the plugins load: one line at once
        raise BenchbenchError(
            f"name a suite, or one candidate with {option('task')} and {option('arch')}"
        )
    if not suite and not (task and arch):
        raise BenchbenchError(
            f"tuning one candidate needs both {option('task')} and {option('arch')}"
        )
    select(numerics)  # before the workers start: they load torch with its settings
    declared = declare(suite)  # before the plugins load: they register these tasks too
    pm, console = load_plugins(plugins), Console(progress)
    check_shippable(pm.config.modules)  # the trials train in worker processes
    check_declared(declared, pm, str(suite))
    out, data_dir = Path(out), optional_path(data_dir)
    budget, fixed = budget_of(epochs, steps, seconds, eval_every), dict(hparams or {})
    url = storage_url(out, storage)
    placement = Placement(pm.config, data_dir, out, workers, timeout, threads, gpus_per_run)
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
        one = Target(task, arch, regularizer, ssl, finetune, optimizer, fixed, budget, device)
        one.spec(pm, {}, config.seed, data_dir)  # names and values checked before anything
        jobs = [(one.key(), None, one, config)]
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
                        workers,
                        relay,
                    )
                except Interrupted:
                    raise Stopped(
                        stop.signum or signal.SIGINT,
                        f"{len(done)} of {len(jobs)} candidates tuned; finished trials are "
                        f"stored; {again('tune')} to resume",
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
