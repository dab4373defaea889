"""The Python API: everything the ``benchbench`` command does, as functions with keyword
arguments, the same defaults and the same checks, for notebooks and scripts::

    import benchbench as bb

    outcome = bb.run("quick", out="bb-out")          # benchbench run quick --out bb-out
    table = bb.leaderboard("quick", out="bb-out")    # a DataFrame: the rows of --format json
    result = bb.run_one("digits", "mlp", regularizer="mixup", steps=200)   # a RunResult
    tuning = bb.tune("quick", trials=10, out="bb-out")
    bb.report("quick", out="bb-out", to="report.html")
    runs = bb.results(out="bb-out")                  # every stored run as a DataFrame

A problem the caller can fix (an unknown name, a bad value, a missing database) raises
:class:`~benchbench.BenchbenchError` with the one line the command prints; a problem inside
a run is that run's result. Long calls show a progress bar and notes on stderr unless
``progress=False``. Ctrl-C (or SIGTERM) during :func:`run` or :func:`tune` stops them after
storing what finished and raises :class:`~benchbench.errors.Stopped` (a
``KeyboardInterrupt``); calling again resumes.

Every function that loads plugins takes ``plugins`` (the command's ``-p MODULE``, repeatable;
``no:NAME`` blocks an installed one) and ``data_dir`` (``--data-dir``; default
``$BENCHBENCH_DATA`` or ``~/.cache/benchbench``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .paths import DEFAULT_OUT

if TYPE_CHECKING:
    import pandas as pd

    from .authoring.conformance import CheckOutcome
    from .running.loader_sweep import ProfileOutcome
    from .running.session import SuiteOutcome
    from .spec import RunResult
    from .tuning.session import TuningOutcome

__all__ = [
    "catalog",
    "check_plugin",
    "describe",
    "export",
    "import_results",
    "leaderboard",
    "leaderboard_text",
    "new_plugin",
    "profile",
    "report",
    "results",
    "run",
    "run_one",
    "tune",
]

PathLike = str | Path


def run(
    suite: str = "default",
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    seeds: int | None = None,
    device: str = "auto",
    workers: int | None = None,
    executor: str = "local",
    address: str | None = None,
    timeout: float = 3600.0,
    retry_failed: bool = False,
    tuned: bool = False,
    threads: int | None = None,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> SuiteOutcome:
    """Run a suite: a registered name (``quick``, ``default``) or a TOML/YAML file.

    Runs already in the results database are skipped, so an interrupted suite resumes
    where it stopped, and several processes on one database share the runs. A run that
    fails (missing data, a plugin's exception, a crash) or passes ``timeout`` seconds is
    recorded with its reason and the suite goes on. At the end the leaderboard is ranked
    and written to ``OUT/leaderboards/SUITE.{md,csv,json}``.

    Args:
        suite: the suite's name or file.
        out: folder for the results database and the leaderboard files.
        storage: results database URL instead (``sqlite:///...``, ``postgresql://...``).
        seeds: seeds per candidate for every track, instead of the suite's.
        device: ``auto``, ``cpu`` or ``cuda[:N]``.
        workers: runs at once, each in its own process (default: 1 locally, which keeps
            timings comparable; as many as the cluster holds on Ray).
        executor: ``local`` (worker processes here) or ``ray`` (tasks on a Ray cluster).
        address: with ``executor="ray"``: the cluster's head ``HOST:PORT``.
        timeout: seconds after which a run is stopped and recorded ``timed-out``.
        retry_failed: run again the stored runs that failed or timed out.
        tuned: run the settings :func:`tune` found, as suite ``SUITE-tuned``.
        threads: torch/OpenMP threads per run (default: this process's cores, shared).

    Returns:
        What was run and stored, the ranked leaderboard and the runs that failed.

    Raises:
        BenchbenchError: a bad suite, name, value, device or database (nothing ran).
        Stopped: a signal stopped the suite; what finished is stored.
    """
    from .plugins.manager import load_plugins
    from .progress import Console
    from .running.session import run_suite

    return run_suite(
        suite,
        load_plugins(plugins),
        out=Path(out),
        storage=storage,
        seeds=seeds,
        device=device,
        workers=workers,
        executor=executor,
        address=address,
        timeout=timeout,
        retry_failed=retry_failed,
        tuned=tuned,
        threads=threads,
        data_dir=_path(data_dir),
        console=Console(progress),
    )


def run_one(
    task: str,
    arch: str,
    *,
    regularizer: str = "none",
    ssl: str = "supervised",
    finetune: str = "full",
    seed: int = 0,
    epochs: float | None = None,
    steps: int | None = None,
    seconds: float | None = None,
    eval_every: float = 1.0,
    hparams: Mapping[str, Any] | None = None,
    device: str = "auto",
    threads: int | None = None,
    storage: str | None = None,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
) -> RunResult:
    """Train one configuration in this process and return what it measured.

    With no ``epochs``, ``steps`` or ``seconds`` the task's own budget applies; given
    several, whichever runs out first ends the run. ``hparams`` sets hyperparameters: the
    loop's by name (``{"lr": 0.01}``), a component's as ``COMPONENT.NAME``
    (``{"mixup.alpha": 0.4}``). ``storage`` also stores the result in that database. The
    run uses ``threads`` threads (default: every core this process owns); the process's
    own thread settings are put back afterwards.

    Raises:
        BenchbenchError: an unknown name, a value outside its range, a combination that
            cannot work, missing data. A problem inside the run is its result's
            ``status`` (``failed``, ``diverged``) and ``error``.
    """
    from .budget import budget_of
    from .plugins.manager import load_plugins
    from .running.session import run_one as run_one_

    return run_one_(
        load_plugins(plugins),
        task=task,
        arch=arch,
        regularizer=regularizer,
        ssl=ssl,
        finetune=finetune,
        seed=seed,
        budget=budget_of(epochs, steps, seconds, eval_every),
        hparams=dict(hparams or {}),
        device=device,
        threads=threads,
        storage=storage,
        data_dir=_path(data_dir),
    )


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
    executor: str = "local",
    address: str | None = None,
    timeout: float = 3600.0,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> TuningOutcome:
    """Tune every candidate of ``suite``, or one candidate (``task``, ``arch`` and the other
    components), with Optuna.

    Every candidate gets the same number of trials (``trials``, default: the suite's, 20),
    each a run scored on the validation split, pruned on its eval points. Studies are
    stored with the results and resumed when called again; several processes may tune one
    database at once (give each its own ``worker``). ``parallel`` trials run at once, each
    in a worker process or a Ray task; one that crashes or passes ``timeout`` counts as a
    failed trial. ``hparams`` fixes hyperparameters (in a suite: for every candidate that
    has them). The options override a suite's own ``[tuning]`` settings. :func:`run` with
    ``tuned=True`` then runs the best configurations.

    Returns:
        Each candidate's best hyperparameters, best validation accuracy and cost; its
        Optuna study is ``outcome.candidates[i].study()``.

    Raises:
        BenchbenchError: a bad suite, name or value (nothing was tuned).
        Stopped: a signal stopped tuning; finished trials are stored.
    """
    from .budget import budget_of
    from .plugins.manager import load_plugins
    from .progress import Console
    from .tuning.session import tune_candidates

    return tune_candidates(
        load_plugins(plugins),
        suite=suite,
        task=task,
        arch=arch,
        regularizer=regularizer,
        ssl=ssl,
        finetune=finetune,
        trials=trials,
        budget=budget_of(epochs, steps, seconds, eval_every),
        sampler=sampler,
        pruner=pruner,
        seed=seed,
        fixed=dict(hparams or {}),
        worker=worker,
        parallel=parallel,
        device=device,
        threads=threads,
        executor=executor,
        address=address,
        timeout=timeout,
        out=Path(out),
        storage=storage,
        data_dir=_path(data_dir),
        console=Console(progress),
    )


def leaderboard(
    suite: str | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    sources: Sequence[str] = (),
) -> pd.DataFrame:
    """The ranked leaderboard of stored results: one row per suite, track, task and
    candidate (every suite's when ``suite`` is None), the rows of
    ``benchbench leaderboard --format json``: mean test accuracy with its 95% interval over
    seeds, the change against the track's baseline with its interval, time-to-target,
    throughput, calibration, size, latency, tuning and provenance columns.

    ``sources`` builds it from exported result files or other databases instead.
    """
    from .ranking.rank import build

    with _results(out, storage, sources) as store:
        key = store.find_suite(suite) if suite else None
        return build(store.frame(key), store.tunings(key))


def leaderboard_text(
    suite: str | None = None,
    *,
    format: str = "plain",
    columns: Sequence[str] | None = None,
    wide: bool = False,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    sources: Sequence[str] = (),
) -> str:
    """The leaderboard as ``benchbench leaderboard`` prints it: ``plain`` or ``markdown``
    tables per track and task under the runs' provenance, or ``csv`` or ``json``.
    ``columns`` are the keys of the columns to show (see ``benchbench leaderboard --help``;
    default: the terminal's narrow set, or every column with ``wide``); files always have
    every column."""
    from .ranking import leaderboard as ranking

    shown = ranking.WIDE if wide else ranking.NARROW
    if columns:
        shown = ranking.column_keys(",".join(columns))
    with _results(out, storage, sources) as store:
        key = store.find_suite(suite) if suite else None
        return ranking.text(store, key, format, shown)


def results(
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    suite: str | None = None,
) -> pd.DataFrame:
    """Every stored run as a DataFrame, one row per run id: each field of its
    :class:`~benchbench.RunResult` (spec, metrics, status, error; ``curve``, ``loader``,
    ``machine``, ``code`` and ``provenance`` as Python objects). ``suite`` keeps the runs
    that fill its places."""
    import pandas as pd

    from .spec import RunResult
    from .storage.store import open_results

    store = open_results(Path(out), storage)
    run_ids = None
    if suite:
        frame = store.frame(store.find_suite(suite))
        run_ids = set(frame["run_id"]) if len(frame) else set()
    rows = [r.to_dict() for r in store.results(run_ids)]
    columns = list(RunResult.__dataclass_fields__)
    return pd.DataFrame(rows, columns=columns)


def report(
    suite: str | None = None,
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    to: PathLike | None = None,
    format: str = "html",
    compare: tuple[str, str] | None = None,
    track: str | None = None,
    against: str | None = None,
    plugins: Sequence[str] = (),
) -> list[Path]:
    """Write a comparison report of ``suite`` (the only suite stored, when None) and return
    the files written.

    Per track: ranked tables, a forest plot against the baseline, learning curves,
    accuracy against latency and size, the data-loading split, tuning curves; across tasks:
    mean ranks, Friedman's test with a critical-difference diagram, performance profiles.
    ``compare=(A, B)`` sets two candidates head to head (paired by seed, Holm-adjusted,
    only ``track``'s tasks when given); ``against`` sets the result set beside another (an
    exported file or a database). ``format``: ``html`` (one self-contained file),
    ``markdown`` (PNG figures beside it) or ``both``; ``to`` defaults to
    ``OUT/reports/SUITE.html`` (``.md``).
    """
    from .plugins.manager import load_plugins
    from .reporting import make_report
    from .storage.store import open_results, storage_url

    store = open_results(Path(out), storage)
    key = store.only_suite(suite)
    name = store.suite_names()[key][0]
    tasks = load_plugins(plugins).registry.entries["task"].values()
    targets = {e.name: e.cls.target_accuracy for e in tasks}
    target = Path(to) if to else Path(out) / "reports" / f"{name}.{_suffix(format)}"
    return make_report(
        store,
        key,
        targets,
        target,
        format,
        compare=tuple(compare) if compare else None,  # type: ignore[arg-type]
        track=track,
        against=against,
        storage_url=storage_url(Path(out), storage),
    )


def export(
    to: PathLike,
    *,
    suite: str | None = None,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
) -> dict[str, int]:
    """Write the stored results (``suite``'s places, runs and tunings, or everything) with
    their specs, curves, code identity and provenance to one file (``.jsonl``, or
    ``.jsonl.gz``) that :func:`import_results` merges into another database; the number of
    runs, places, suites and tunings written."""
    from .storage.files import export as export_
    from .storage.store import open_results

    store = open_results(Path(out), storage)
    return export_(store, Path(to), store.find_suite(suite) if suite else None)


def import_results(
    *files: PathLike,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
) -> list[dict[str, int]]:
    """Merge exported result files into the results database, each checked whole first: a
    run already stored (same run id: same spec, same code) is skipped, so importing twice
    adds nothing. Per file, the number of runs and places added and kept."""
    from .storage.files import import_file, read
    from .storage.store import Store, prepare_out, storage_url

    for path in files:
        for _ in read(Path(path)):  # the whole file checked before the database changes
            pass
    where = prepare_out(Path(out)) if storage is None else Path(out)
    store = Store(storage_url(where, storage))
    return [import_file(store, Path(path)) for path in files]


def catalog(kind: str | None = None, *, plugins: Sequence[str] = ()) -> list[dict[str, Any]]:
    """Every registered component and suite (of ``kind``: ``task``, ``arch``,
    ``regularizer``, ``ssl``, ``finetune`` or ``suite``): its kind, name, summary, the plugin
    and distribution it came from (``from``, ``plugin``, ``distribution``, ``version``) and
    its ``defaults``; the rows of ``benchbench list --json`` (``pandas.DataFrame(rows)`` for
    a table). Served from a cache while nothing installed changes, so it imports neither the
    plugins nor torch; a plugin that fails to load is a
    :class:`~benchbench.errors.BenchbenchWarning`."""
    from .errors import unknown_name
    from .plugins.config import PluginConfig, warn_not_loaded
    from .plugins.listing import listing
    from .spec import KIND_NAMES

    if kind is not None and kind not in (*KIND_NAMES, "suite"):
        raise unknown_name("kind", kind, (*KIND_NAMES, "suite"))
    found = listing(PluginConfig.from_env(tuple(plugins)))
    warn_not_loaded(found["errors"])
    return [r for r in found["rows"] if kind is None or r["kind"] == kind]


def describe(name: str, *, plugins: Sequence[str] = ()) -> str:
    """What ``name`` is and how to set it, as ``benchbench show NAME`` prints it: a
    component's summary and origin, its hyperparameters (default, allowed values, search
    space, meaning), a task's classes, target and budget; ``loop``: the training loop's
    settings."""
    from .plugins.catalog import describe as describe_
    from .plugins.manager import load_plugins

    return describe_(load_plugins(plugins).registry, name)


def profile(
    task: str,
    *,
    arch: str = "mlp",
    steps: int = 100,
    repeats: int = 3,
    max_workers: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    out: PathLike = DEFAULT_OUT,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> ProfileOutcome:
    """Sweep the loader settings of ``task``: where its training time goes, and the fastest
    setting. Each setting (device-resident; in memory through a DataLoader; decoded from
    disk with 0..``max_workers`` workers, default the CPU count; pinned memory on a GPU)
    trains ``arch`` for ``steps`` steps, ``repeats`` times in turn after one warm-up run.
    The rows give median rates, their spread, the data-wait share and the verdict; a plot
    goes to ``OUT/profiles/TASK.png``."""
    from .plugins.manager import load_plugins
    from .progress import Console
    from .running.loader_sweep import profile as profile_

    return profile_(
        load_plugins(plugins),
        task,
        arch=arch,
        steps=steps,
        repeats=repeats,
        max_workers=max_workers,
        device=device,
        threads=threads,
        out=Path(out),
        data_dir=_path(data_dir),
        console=Console(progress),
    )


def check_plugin(
    target: str | None = None,
    *,
    module: str | None = None,
    task: str | None = None,
    plugins: Sequence[str] = (),
    progress: bool = True,
) -> list[CheckOutcome]:
    """Run the conformance checks on every component of ``target`` (an installed
    distribution or plugin) or of the plugin ``module`` (not installed): contract,
    hyperparameters, a short run, same seed same numbers, global state left alone, task
    data. Non-task components run on ``task`` instead of a probe task when given."""
    from .authoring.conformance import check_plugin as check_plugin_
    from .progress import Console

    return check_plugin_(target, module, task, plugins, Console(progress))


def new_plugin(name: str, *, kind: str, to: PathLike = ".") -> Path:
    """Write a ready-to-publish package for a component ``name`` of ``kind`` into ``to``:
    pyproject with the entry point, one working component, tests using
    ``benchbench.testing``, a README. The package's folder."""
    from .authoring.scaffold import new_plugin as new_plugin_

    return new_plugin_(name, kind, Path(to))


def _path(value: PathLike | None) -> Path | None:
    return None if value is None else Path(value)


def _suffix(fmt: str) -> str:
    return "md" if fmt == "markdown" else "html"


def _results(out: PathLike, storage: str | None, sources: Sequence[str]) -> Any:
    """The results to read: ``sources`` merged (exported files, databases), else the
    database of ``out`` or ``storage``."""
    import contextlib

    from .storage.files import merged
    from .storage.store import open_results

    if sources:
        return merged(list(sources))
    return contextlib.nullcontext(open_results(Path(out), storage))
