"""Running what a user asks for: a suite start to end (plan -> claim -> place -> store ->
rank), or one configuration.

The suite's policy lives here, for the command line and the Python API alike: whether it
runs with defaults or with what tuning found (``SUITE-tuned``), which stored runs are run
again (failures with ``retry_failed``, runs lost with a cluster node always), which stored
results are stale (made by other code), the data check before anything trains, writing
the leaderboard files, and what the failures were.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..arguments import checked
from ..errors import Stopped
from ..paths import DEFAULT_OUT, PathLike, file_name, optional_path
from ..phrasing import again, either, flag
from ..plugins.config import check_shippable
from ..plugins.manager import PluginManager
from ..progress import Console
from ..spec import RunResult
from .dispatch import Outcome, restore_spilled

LEADERBOARD_FILES = (("csv", "csv"), ("json", "json"), ("markdown", "md"))
"""The leaderboard files a run writes to OUT/leaderboards/: (format, suffix)."""
SHOWN_FAILURES = 10


@dataclass(repr=False)
class SuiteOutcome:
    """What running a suite did and what it came to: in a notebook, the summary and the
    leaderboard; :meth:`closing_lines` are what :func:`~benchbench.run` printed at the end."""

    suite: str
    """The suite's name."""
    key: str
    """Its key in the results database (the name, or for a suite file its name and hash)."""
    store_url: str
    """The results database, its password masked."""
    planned: int
    """Distinct runs the suite needs (its places, a run shared by two places counted once)."""
    already_stored: int
    """Of those, runs found stored and not run again."""
    dispatched: Outcome
    """What this call ran and stored, by status (:meth:`summary` says it in words)."""
    leaderboard: pd.DataFrame
    """The ranked leaderboard, one row per track, task and candidate (the columns:
    :func:`~benchbench.leaderboard`)."""
    table: str
    """The leaderboard as the command prints it."""
    files: list[Path] = field(default_factory=list)
    """The leaderboard files written: ``OUT/leaderboards/SUITE.{md,csv,json}``."""
    places: int = 0
    """The suite's places (track, task, candidate and seed) that have a stored result: a run
    that fills places in two tracks counts in each."""
    busy: int = 0
    """Of those places, the ones whose run was timed on shared hardware (beside other runs,
    or while other processes kept the machine busy): their times are marked."""
    broken: list[RunResult] = field(default_factory=list)
    """The stored runs of the suite that failed or timed out."""

    @property
    def ok(self) -> bool:
        """Every run of the suite ended without failing or timing out."""
        return not self.broken

    @property
    def runs(self) -> int:
        """The old name of :attr:`places` (kept for one release)."""
        return self.places

    def __repr__(self) -> str:
        state = "ok" if self.ok else f"{len(self.broken)} failed or timed out"
        return (
            f"SuiteOutcome({self.suite}: {self.planned} runs, {self.already_stored} already "
            f"stored; {self.summary()}; {state})"
        )

    def _repr_html_(self) -> str:
        """A notebook's view: the summary, the closing lines and the leaderboard."""
        import html

        lines = "<br>".join(html.escape(line) for line in self.closing_lines())
        return f"<p>{html.escape(repr(self))}</p><p>{lines}</p><pre>{html.escape(self.table)}</pre>"

    def busy_line(self) -> str | None:
        """The warning that some times were taken on shared hardware, or None."""
        if not self.busy:
            return None
        return (
            f"{self.busy} of {self.places} runs were timed on shared hardware (beside other "
            "runs, or while other processes kept the machine busy); their time columns are "
            "marked *"
        )

    def summary(self) -> str:
        """``12 runs stored this time (11 ok, 1 diverged)``: what this call stored."""
        return self.dispatched.summary()

    def closing_lines(self) -> list[str]:
        """The lines ``benchbench run`` ends with on stderr: where the files went, what was
        stored, busy timings, and the failures with what to do about them."""
        from .dispatch import describe, problem

        lines = [
            f"leaderboard written to {self.files[0].parent}/{self.suite}.{{md,csv,json}}",
            f"benchbench: {self.summary()}",
        ]
        if self.busy:
            lines.append(f"benchbench: warning: {self.busy_line()}")
        if self.broken:
            shown = sorted(self.broken, key=describe)
            lines += [f"benchbench: run {problem(r)}" for r in shown[:SHOWN_FAILURES]]
            more = len(shown) - SHOWN_FAILURES
            lines.append(
                f"benchbench: {len(shown)} runs of suite {self.suite} failed or timed out"
                + (f" ({more} more not shown)" if more > 0 else "")
                + f"; {flag('retry_failed')} runs them again"
            )
        return lines


@checked()
def run(
    suite: str = "default",
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    seeds: int | None = None,
    device: str = "auto",
    workers: int | None = None,
    executor: str = "local",
    executor_options: Mapping[str, Any] | Any = None,
    gpus_per_run: float = 1.0,
    timeout: float = 3600.0,
    retry_failed: bool = False,
    tuned: bool = False,
    threads: int | None = None,
    numerics: str = "portable",
    download: bool = False,
    log: Sequence[str] = (),
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

    :param suite: the suite's name or file.
    :param out: folder for the results database and the leaderboard files.
    :param storage: results database URL instead (``sqlite:///...``, ``postgresql://...``).
    :param seeds: seeds per candidate for every track, instead of the suite's.
    :param device: ``auto``, ``cpu`` or ``cuda[:N]``.
    :param workers: runs at once, each in its own process (default: 1 locally, which keeps
        timings comparable, and one per GPU, each on its own, for ``device="cuda"``; as many
        as the cluster holds with an executor that places runs elsewhere).
    :param executor: where runs are placed: ``local`` (worker processes here) or an
        installed executor (``catalog("executor")``: ``ray`` for tasks on a Ray cluster,
        ``slurm`` for Slurm jobs through submitit, a plugin's).
    :param executor_options: the options the executor declares, by name
        (``{"address": "HEAD:6379"}`` for Ray, ``{"partition": "gpu", "time": "2:00:00"}``
        for Slurm; ``describe(NAME)`` lists them), or the executor's own options dataclass.
    :param gpus_per_run: the share of a GPU each CUDA run gets (``0.5``: two runs per GPU,
        flagged busy since they time each other).
    :param timeout: seconds after which a run is stopped and recorded ``timed-out``.
    :param retry_failed: run again the stored runs that failed or timed out.
    :param tuned: run the settings :func:`~benchbench.tune` found, as suite ``SUITE-tuned``.
    :param threads: torch/OpenMP threads per run (default: this process's cores, shared).
    :param numerics: ``portable`` (CPU kernels pinned: the same bits on every x86 machine) or
        ``native`` (this CPU's widest vector instructions); see
        :mod:`benchbench.host.numerics`.
    :param download: fetch the missing data of the suite's tasks first
        (:func:`~benchbench.fetch_data`); without, a task's missing-data line says how.
    :param log: experiment trackers to log to, ``NAME[:TARGET]`` each (``tensorboard:DIR``,
        ``mlflow:URI``...; see :mod:`benchbench.tracking`), beside the suite file's ``log``:
        every run live as it trains, the leaderboard files at the end.

    :returns: What was run and stored, the ranked leaderboard and the runs that failed.

    :raises ~benchbench.BenchbenchError: a bad suite, name, value, device or database (nothing ran).
    :raises ~benchbench.errors.Stopped: a signal stopped the suite; what finished is stored.
    """
    from ..executors.base import LOST, Placement
    from ..executors.choose import open_executor
    from ..host.numerics import select
    from ..identity import stale_line
    from ..planning.declared import check_declared, declare
    from ..planning.suite import load_suite, plan
    from ..plugins.manager import load_plugins
    from ..ranking import leaderboard
    from ..storage.store import Store, prepare_out, storage_url
    from ..tracking import Session, open_relay
    from ..tuning.suite import check_tuned_code, tuned_line, tuned_settings, tuned_variant

    select(numerics)  # before the workers start: they load torch with its settings
    declared = declare(suite)  # before the plugins load: they register these tasks too
    pm, console = load_plugins(plugins), Console(progress)
    check_shippable(pm.config.modules)  # the runs train in worker processes
    check_declared(declared, pm, suite)
    out, data_dir = Path(out), optional_path(data_dir)
    loaded = load_suite(suite, pm.registry)
    if download:
        from ..planning.data_check import prepare_data

        tasks = {task for track in loaded.tracks for task in track.tasks}
        prepare_data(tasks, pm.registry, data_dir, True, console.enabled)
    placement = Placement(pm.config, data_dir, out, workers, timeout, threads, gpus_per_run)
    placer, device, _ = open_executor(pm.registry, executor, placement, device, executor_options)
    plan(loaded, pm.registry, device=device, seeds=seeds, data_dir=data_dir)  # names checked
    store = Store(storage_url(prepare_out(out), storage), on_wait=_noted(console))
    restored = restore_spilled(store, out / "unsaved-results")
    if restored:
        console.note(f"stored {restored} results an earlier run could not store")
    variant = tuned_variant(loaded)
    settings: dict[Any, dict[str, Any]] = {}
    if tuned:
        settings = tuned_settings(loaded, store.tunings(variant.key))
        console.note(tuned_line(variant.name, loaded.name, settings))
        loaded = variant
    else:
        if not store.tunings(variant.key).empty:
            console.note(
                f"suite {loaded.name} runs with defaults; it has been tuned: "
                + either(
                    f"'benchbench run {loaded.name} --tuned'",
                    f"bb.run({loaded.name!r}, tuned=True)",
                )
                + f" runs the tuned settings (leaderboard {variant.name})"
            )
        store.set_tunings(loaded.key, {})  # an untuned suite shows no tuning
    planned = plan(
        loaded,
        pm.registry,
        device=device,
        seeds=seeds,
        tuned=_tuned_params(settings),
        data_dir=data_dir,
    )
    if tuned:
        check_tuned_code(loaded.name, settings, planned)
    store.set_places(loaded.key, loaded.name, loaded.source, planned)
    specs = {p.spec.run_id: p.spec for p in planned}
    stored = store.stored_ids(specs)
    statuses = ("failed", "timed-out") if retry_failed else ("failed",)
    redo = {  # stored, and run again: every failure with retry_failed, else lost runs
        r.run_id
        for r in store.results(stored, statuses)
        if retry_failed or r.error_component == LOST
    }
    if redo and not retry_failed:
        console.note(f"benchbench: {len(redo)} runs lost with their cluster node run again")
    stored -= redo
    todo = [spec for run_id, spec in specs.items() if run_id not in stored]
    console.note(
        f"suite {loaded.name}: {len(specs)} runs, {len(specs) - len(todo)} already stored, "
        f"{len(todo)} to run (results: {store.display_url})"
    )
    stale = store.made_by_other_code(todo)
    if stale:
        console.note(
            f"benchbench: {len(stale)} stored results of these runs were made by other code "
            f"and are not reused: {stale_line((r.code, s.code) for r, s in stale)}"
        )
    relay = open_relay(
        [*loaded.log, *log],
        pm.registry.trackers,
        Session("suite", loaded.name, {"suite": loaded.name, "device": device}),
        placer.channel,
    )
    labels = {
        p.spec.run_id: {"suite": p.suite, "track": p.track, "candidate": p.candidate}
        for p in planned
    }
    try:
        unusable = _check_data(todo, pm, data_dir, console)
        dispatched = _dispatch(todo, store, placer, out, unusable, redo, console, relay, labels)
        if dispatched.signal is not None:
            raise Stopped(
                dispatched.signal,
                f"{dispatched.summary()}; {again('run')} to resume",
            )
        ranked = leaderboard.Ranked.read(store, loaded.key)
        folder = prepare_out(out / "leaderboards")
        files = []
        for fmt, suffix in LEADERBOARD_FILES:
            path = folder / f"{file_name(loaded.name)}.{suffix}"
            path.write_text(ranked.text(fmt, leaderboard.WIDE, loaded.name))
            files.append(path)
        if relay is not None:
            relay.files(
                [*files, *_report_for_trackers(loaded.key, loaded.name, out, storage, console)]
            )
    finally:
        if relay is not None:
            relay.close()
    places = store.place_statuses(loaded.key)
    broken = places["broken"]
    outcome = SuiteOutcome(
        suite=loaded.name,
        key=loaded.key,
        store_url=store.display_url,
        planned=len(specs),
        already_stored=len(specs) - len(todo),
        dispatched=dispatched,
        leaderboard=ranked.board,
        table=ranked.text("plain", leaderboard.NARROW, loaded.name),
        files=files,
        places=places["places"],
        busy=places["busy"],
        broken=store.results(broken) if broken else [],
    )
    _show_end(outcome, console)
    return outcome


def _show_end(outcome: SuiteOutcome, console: Console) -> None:
    """What a suite ends with, in Python as on the command line: the leaderboard (stdout)
    and the closing lines (stderr) unless silenced; the busy timings as a
    :class:`~benchbench.errors.BenchbenchWarning` always."""
    import sys
    import warnings

    from ..errors import BenchbenchWarning

    if console.enabled:
        print(outcome.table, file=sys.stdout, flush=True)
    busy = outcome.busy_line()
    for line in outcome.closing_lines():
        if busy is not None and line.endswith(busy):
            warnings.warn(busy, BenchbenchWarning, stacklevel=4)  # the caller's line
        else:
            console.note(line)


def _report_for_trackers(
    key: str, name: str, out: Path, storage: str | None, console: Console
) -> list[Path]:
    """The suite's HTML report, for the trackers to attach (none, with a note, when it
    cannot be made: the results are stored either way)."""
    from ..reporting import report

    try:
        to = out / "reports" / f"{file_name(name)}.html"
        return report(key, out=out, storage=storage, to=to)
    except Exception as exc:  # noqa: BLE001 - a report is a courtesy to the trackers here
        console.note(f"benchbench: the report for the trackers could not be made: {exc}")
        return []


def _tuned_params(settings: dict[Any, dict[str, Any]]) -> Callable[..., Any]:
    """The hyperparameters tuning found for a (track, task, candidate), or None."""

    def best(track: Any, task: str, candidate: Any) -> Any:
        return settings.get((track.name, task, candidate.label), {}).get("best_params")

    return best


def _noted(console: Console) -> Callable[[str], None]:
    """A callback that shows a line as a ``benchbench:`` note."""
    return lambda line: console.note(f"benchbench: {line}")


def _check_data(
    todo: list[Any], pm: PluginManager, data_dir: Path | None, console: Console
) -> dict[str, RunResult]:
    """Each task's data loaded once before anything trains; the runs of a task whose data
    cannot be loaded fail at once, named with their task in one line."""
    from ..planning.data_check import check_data

    unusable = check_data(todo, pm.registry, data_dir)
    for task, reason in sorted({(r.task, r.error) for r in unusable.values()}):
        count = sum(r.task == task for r in unusable.values())
        console.note(f"benchbench: task {task}: {reason}; its {count} runs fail")
    return unusable


def _dispatch(
    todo: list[Any],
    store: Any,
    placer: Any,
    out: Path,
    unusable: dict[str, RunResult],
    redo: set[str],
    console: Console,
    relay: Any = None,
    labels: dict[str, dict[str, Any]] | None = None,
) -> Outcome:
    """The runs handed to the executor under the stop signals, with a progress bar."""
    from ..host.interrupts import StopSignals
    from ..tracking import reading
    from .dispatch import describe, problem, run_specs

    with StopSignals() as stop, placer, reading(relay), console.bar(len(todo), "run") as bar:

        def show(result: RunResult) -> None:
            bar.update()
            if result.status == "ok":
                bar.set_postfix_str(f"{describe(result)}: test {result.test_accuracy:.3f}")
            elif result.run_id not in unusable:  # those were named with their task above
                console.note(f"benchbench: run {problem(result)}")

        return run_specs(
            todo,
            store,
            placer,
            stop,
            out / "unsaved-results",
            show,
            _noted(console),
            unusable,
            redo,
            relay,
            labels,
        )
