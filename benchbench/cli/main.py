"""The ``benchbench`` command line: parses, calls the core, prints. Nothing else lives here.

Errors a user can cause end with one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..budget import Budget
from ..errors import BenchbenchError
from ..spec import KIND_NAMES
from .options import (
    DEFAULT_OUT,
    device_option,
    executor_options,
    fail_cleanly,
    make_executor,
    manager,
    parse_sets,
    plugin_config,
    prepare_out,
    show_warning,
    storage_url,
    threads_option,
)
from .plugins import plugin_group
from .results import export_command, import_command, leaderboard_command, report_command

if TYPE_CHECKING:
    from ..plugins.manager import Origin


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-p",
    "plugins",
    multiple=True,
    metavar="MODULE",
    help="Load a plugin module (repeatable); -p no:NAME blocks an installed plugin.",
)
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where tasks read and cache data (default: $BENCHBENCH_DATA or ~/.cache/benchbench).",
)
@click.version_option(package_name="benchbench")
@click.pass_context
def cli(ctx: click.Context, plugins: tuple[str, ...], data_dir: Path | None) -> None:
    """benchbench: which training technique actually helps, on which data, at what cost.

    Plugins come from the 'benchbench' entry-point group; set
    BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD=1 to load only the -p modules you name.
    """
    ctx.obj = {"modules": plugins, "data_dir": data_dir}
    warnings.showwarning = show_warning


@cli.command("list")
@click.option("--kind", type=click.Choice([*KIND_NAMES, "suite"]), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
@fail_cleanly
def list_command(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """Every registered component and suite, with the plugin and distribution it came from;
    'benchbench show NAME' gives one's hyperparameters, defaults and allowed values."""
    from tabulate import tabulate

    from ..plugins.listing import cached_listing

    config = plugin_config(ctx)
    listing = cached_listing(config.modules, config.autoload, lambda: _listing(ctx))
    for plugin, error in listing["errors"]:
        click.echo(f"benchbench: warning: plugin {plugin!r} was not loaded: {error}", err=True)
    rows = [r for r in listing["rows"] if kind is None or r["kind"] == kind]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [[r["kind"], r["name"], r["summary"], r["from"]] for r in rows]
    click.echo(tabulate(table, headers=["kind", "name", "summary", "from"], tablefmt="simple"))


def _listing(ctx: click.Context) -> dict[str, Any]:
    """Every component and suite as rows, and the plugins that failed to load."""
    from ..plugins.manager import get_plugin_manager

    pm = get_plugin_manager(plugin_config(ctx))
    registry = pm.registry

    def row(kind: str, name: str, summary: str, origin: Origin, defaults: dict) -> dict:
        return {
            "kind": kind,
            "name": name,
            "summary": summary,
            "from": origin.describe(),
            "plugin": origin.plugin,
            "distribution": origin.distribution,
            "version": origin.version,
            "defaults": defaults,
        }

    rows = [row(e.kind, e.name, e.cls.summary, e.origin, dict(e.cls.defaults)) for e in registry]
    rows += [
        row("suite", name, _suite_summary(name, registry), origin, {})
        for name, (_, origin) in sorted(registry.suites.items())
    ]
    return {"rows": json.loads(json.dumps(rows, default=str)), "errors": pm.errors}


@cli.command("show")
@click.argument("name")
@click.pass_context
@fail_cleanly
def show_command(ctx: click.Context, name: str) -> None:
    """What NAME is and how to set it: a component's summary and origin, its hyperparameters
    (default, allowed values, search space, meaning); for a task its classes, target and
    budget. 'benchbench show loop' lists the training loop's settings (lr, batch_size, ...)."""
    from ..plugins.catalog import describe

    click.echo(describe(manager(ctx).registry, name))


def _suite_summary(name: str, registry: Any) -> str:
    from ..running.suite import load_suite

    try:
        description = load_suite(name, registry).description
    except BenchbenchError as exc:
        return f"unreadable: {exc}"
    return " ".join(description.split()).split(". ")[0].rstrip(".")


_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=3600,
    show_default=True,
    help="Seconds after which a run (a trial) is stopped and recorded as timed-out.",
)


@cli.command("run")
@click.argument("suite", default="default")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder for the results database and the leaderboards.",
)
@click.option(
    "--storage", metavar="URL", help="Results database URL (default: sqlite:///OUT/benchbench.db)."
)
@click.option("--seeds", type=click.IntRange(min=1), help="Seeds per candidate, for every track.")
@device_option
@threads_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    help="Runs at once, each in its own process (default: 1 locally, which keeps timings "
    "comparable; as many as the cluster holds on Ray).",
)
@executor_options
@_timeout_option
@click.option(
    "--retry-failed", is_flag=True, help="Run again the stored runs that failed or timed out."
)
@click.option(
    "--tuned",
    is_flag=True,
    help="Run the settings 'benchbench tune SUITE' found: suite SUITE-tuned, its own leaderboard.",
)
@click.pass_context
@fail_cleanly
def run_command(
    ctx: click.Context,
    suite: str,
    out: Path,
    storage: str | None,
    seeds: int | None,
    device: str,
    workers: int | None,
    executor: str,
    address: str | None,
    timeout: float,
    retry_failed: bool,
    tuned: bool,
    threads: int | None,
) -> None:
    """Run a suite (a built-in name such as 'quick' or 'default', or a TOML/YAML file).

    Runs already in the results database are skipped, so an interrupted suite resumes where it
    stopped; several 'benchbench run' processes on one database share the runs between them.
    A run that fails (missing data, a plugin's exception, a crash) or passes --timeout is
    recorded with its reason and the suite goes on. Ctrl-C (or SIGTERM) stops: finished runs
    are stored, the workers end; a second Ctrl-C quits at once. At the end the leaderboard is
    printed and written to OUT/leaderboards/. Exit status 1 when a run of the suite failed or
    timed out, 130/143 when stopped.

    Every run uses the defaults unless --tuned: then each place runs with the best settings
    'benchbench tune SUITE' found, as suite SUITE-tuned with leaderboards of its own.

    With --executor ray every run is a task on a Ray cluster (one GPU each for CUDA runs,
    --threads CPUs otherwise); results come back here and are stored as they arrive. A run
    whose node dies is retried once; one lost twice is recorded and run again next time.
    """
    from tqdm import tqdm

    from ..running.dispatch import check_data, describe, problem, restore_spilled, run_specs
    from ..running.executors import LOST
    from ..running.identity import stale_line
    from ..running.interrupts import StopSignals
    from ..running.suite import load_suite, plan, tuned_settings, tuned_variant
    from ..storage.store import Store
    from ..tuning.suite import check_tuned_code, tuned_line

    pm = manager(ctx)
    data_dir = ctx.obj["data_dir"]
    loaded = load_suite(suite, pm.registry)
    placer, device = make_executor(ctx, executor, address, device, workers, timeout, threads)
    plan(loaded, pm.registry, device=device, seeds=seeds, data_dir=data_dir)  # names checked
    url = storage_url(prepare_out(out), storage)
    store = Store(url, on_wait=lambda line: click.echo(f"benchbench: {line}", err=True))
    spilled = out / "unsaved-results"
    restored = restore_spilled(store, spilled)
    if restored:
        click.echo(f"stored {restored} results an earlier run could not store", err=True)
    variant = tuned_variant(loaded)
    settings = {}
    if tuned:
        settings = tuned_settings(loaded, store.tunings(variant.key))
        click.echo(tuned_line(variant.name, loaded.name, settings), err=True)
        loaded = variant
    else:
        if not store.tunings(variant.key).empty:
            click.echo(
                f"suite {loaded.name} runs with defaults; it has been tuned: 'benchbench run "
                f"{loaded.name} --tuned' runs the tuned settings (leaderboard {variant.name})",
                err=True,
            )
        store.set_tunings(loaded.key, {})  # an untuned suite shows no tuning
    planned = plan(
        loaded,
        pm.registry,
        device=device,
        seeds=seeds,
        tuned=lambda track, task, c: settings.get((track.name, task, c.label), {}).get(
            "best_params"
        ),
        data_dir=data_dir,
    )
    if tuned:
        check_tuned_code(loaded.name, settings, planned)
    store.set_places(loaded.key, loaded.name, loaded.source, planned)
    specs = {p.spec.run_id: p.spec for p in planned}
    stored = store.stored_ids(specs)
    statuses = ("failed", "timed-out") if retry_failed else ("failed",)
    redo = {  # stored, and run again: every failure with --retry-failed, else lost runs
        r.run_id
        for r in store.results(stored, statuses)
        if retry_failed or r.error_component == LOST
    }
    if redo and not retry_failed:
        click.echo(f"benchbench: {len(redo)} runs lost with their cluster node run again", err=True)
    stored -= redo
    todo = [spec for run_id, spec in specs.items() if run_id not in stored]
    click.echo(
        f"suite {loaded.name}: {len(specs)} runs, {len(specs) - len(todo)} already stored, "
        f"{len(todo)} to run (results: {store.display_url})",
        err=True,
    )
    stale = store.made_by_other_code(todo)
    if stale:
        click.echo(
            f"benchbench: {len(stale)} stored results of these runs were made by other code "
            f"and are not reused: {stale_line((r.code, s.code) for r, s in stale)}",
            err=True,
        )
    unusable = check_data(todo, pm.registry, data_dir)
    for task, reason in sorted({(r.task, r.error) for r in unusable.values()}):
        count = sum(r.task == task for r in unusable.values())
        click.echo(f"benchbench: task {task}: {reason}; its {count} runs fail", err=True)
    with (
        StopSignals() as stop,
        placer,
        tqdm(total=len(todo), unit="run", file=sys.stderr, dynamic_ncols=True) as bar,
    ):

        def show(result: Any) -> None:
            bar.update()
            if result.status == "ok":
                bar.set_postfix_str(f"{describe(result)}: test {result.test_accuracy:.3f}")
            elif result.run_id not in unusable:  # those were named with their task above
                bar.write(f"benchbench: run {problem(result)}", file=sys.stderr)

        outcome = run_specs(
            todo,
            store,
            placer,
            stop,
            spilled,
            show,
            lambda line: bar.write(f"benchbench: {line}", file=sys.stderr),
            unusable,
            redo,
        )
    if outcome.signal is not None:
        click.echo(
            f"benchbench: stopped: {outcome.summary()}; run the same command to resume", err=True
        )
        sys.exit(128 + outcome.signal)
    from ..ranking import leaderboard

    frame = store.frame(loaded.key)
    folder = prepare_out(out / "leaderboards")
    for fmt, suffix in (("csv", "csv"), ("json", "json"), ("markdown", "md")):
        text = leaderboard.text(store, loaded.key, fmt, leaderboard.WIDE, loaded.name)
        (folder / f"{loaded.name}.{suffix}").write_text(text)
    click.echo(leaderboard.text(store, loaded.key, "plain", leaderboard.NARROW, loaded.name))
    click.echo(f"leaderboard written to {folder}/{loaded.name}.{{md,csv,json}}", err=True)
    click.echo(f"benchbench: {outcome.summary()}", err=True)
    busy = int((frame["busy"] == True).sum()) if "busy" in frame else 0  # noqa: E712
    if busy:
        click.echo(
            f"benchbench: warning: {busy} of {len(frame)} runs were timed on shared hardware "
            "(beside other runs, or while other processes kept the machine busy); their time "
            "columns are marked *",
            err=True,
        )
    broken = (
        set(frame[frame["status"].isin(["failed", "timed-out"])]["run_id"]) if len(frame) else ()
    )
    if broken:
        results = sorted(store.results(broken), key=describe)
        for result in results[:10]:
            click.echo(f"benchbench: run {problem(result)}", err=True)
        more = f" ({len(results) - 10} more not shown)" if len(results) > 10 else ""
        click.echo(
            f"benchbench: {len(results)} runs of suite {loaded.name} failed or timed out{more}; "
            "--retry-failed runs them again",
            err=True,
        )
        sys.exit(1)


def _budget_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--epochs, --steps, --seconds and --eval-every: a run's (or one trial's) budget."""
    options = [
        click.option("--epochs", type=click.FloatRange(min=0, min_open=True), help="In epochs."),
        click.option("--steps", type=click.IntRange(min=1), help="In optimizer steps."),
        click.option(
            "--seconds", type=click.FloatRange(min=0, min_open=True), help="In training seconds."
        ),
        click.option(
            "--eval-every",
            type=click.FloatRange(min=0, min_open=True),
            default=1.0,
            show_default=True,
            help="Epochs between validation eval points.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _budget(
    epochs: float | None, steps: int | None, seconds: float | None, eval_every: float
) -> Budget | None:
    """The budget the options name, or None for the task's own."""
    if not (epochs or steps or seconds):
        return None
    return Budget(epochs=epochs, steps=steps, seconds=seconds, eval_every=eval_every)


@cli.command("tune")
@click.argument("suite", required=False)
@click.option("--task", help="Tune one candidate: its task (with --arch).")
@click.option("--arch", help="Its architecture.")
@click.option("--regularizer", default="none", show_default=True)
@click.option("--ssl", default="supervised", show_default=True)
@click.option("--finetune", default="full", show_default=True)
@click.option(
    "--trials", type=click.IntRange(min=1), help="Trials per candidate (default: the suite's, 20)."
)
@_budget_options
@click.option(
    "--sampler",
    type=click.Choice(["tpe", "random"]),
    help="Optuna sampler (default: the suite's, tpe).",
)
@click.option(
    "--pruner",
    type=click.Choice(["median", "hyperband", "none"]),
    help="Pruner (default: the suite's, median).",
)
@click.option("--seed", type=int, help="Sampler and trial seed (default: the suite's, 0).")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="Fix a hyperparameter (in a suite: for every candidate that has it).",
)
@click.option(
    "--worker",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This process's index when several tune on one storage (seeds its sampler apart).",
)
@click.option(
    "--parallel",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Trials at once (each in its own process, or Ray task).",
)
@device_option
@threads_option
@executor_options
@_timeout_option
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True)
@click.option("--storage", metavar="URL", help="Results and studies database URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the best configuration(s) as JSON.")
@click.pass_context
@fail_cleanly
def tune_command(
    ctx: click.Context,
    suite: str | None,
    task: str | None,
    arch: str | None,
    regularizer: str,
    ssl: str,
    finetune: str,
    trials: int | None,
    epochs: float | None,
    steps: int | None,
    seconds: float | None,
    eval_every: float,
    sampler: str | None,
    pruner: str | None,
    seed: int | None,
    sets: tuple[str, ...],
    worker: int,
    parallel: int,
    device: str,
    threads: int | None,
    executor: str,
    address: str | None,
    timeout: float,
    out: Path,
    storage: str | None,
    as_json: bool,
) -> None:
    """Tune every candidate of SUITE, or one candidate (--task, --arch, ...), with Optuna.

    Every candidate gets the same number of trials, scored on the validation split; studies
    are stored with the results and resumed when run again, and several processes may tune
    one storage at once. Each trial runs in a worker process (--parallel at once), or as a
    Ray task with --executor ray: one that crashes or passes --timeout is a failed trial (it
    counts as effort spent). Ctrl-C stops; the running trials are redone when tuning
    resumes. Every option applies to a SUITE too, over the
    suite's own tuning settings. 'benchbench run SUITE --tuned' then runs the best
    configurations (as suite SUITE-tuned; plain 'run SUITE' keeps the defaults).
    """
    from tqdm import tqdm

    from ..running.interrupts import StopSignals
    from ..running.suite import load_suite, tuned_variant
    from ..storage.database import parse_url
    from ..storage.store import Store
    from ..tuning.study import Interrupted, Target, open_storage, tune
    from ..tuning.suite import protocol_of, suite_tuning_jobs, tuning_config

    if bool(suite) == bool(task or arch):
        raise BenchbenchError("name a SUITE, or one candidate with --task and --arch")
    if not suite and not (task and arch):
        raise BenchbenchError("tuning one candidate needs both --task and --arch")
    pm = manager(ctx)
    placer, device = make_executor(ctx, executor, address, device, parallel, timeout, threads)
    data_dir = ctx.obj["data_dir"]
    budget = _budget(epochs, steps, seconds, eval_every)
    chosen = {"trials": trials, "sampler": sampler, "pruner": pruner, "seed": seed}
    loaded = load_suite(suite, pm.registry) if suite else None
    if loaded is not None:
        jobs = suite_tuning_jobs(loaded, pm, device, budget, chosen, parse_sets(sets), data_dir)
    else:
        config = tuning_config(None, budget, chosen)
        one = Target(task, arch, regularizer, ssl, finetune, parse_sets(sets), budget, device)
        one.spec(pm, {}, config.seed, data_dir)  # names and values checked before anything
        jobs = [(f"{task}/{arch}/{regularizer}/{ssl}/{finetune}", None, one, config)]
    url = storage_url(prepare_out(out), storage)
    store = Store(url)  # checks the URL and creates the results tables beside the studies
    studies = open_storage(url)
    remote = executor == "ray" and (address or os.environ.get("RAY_ADDRESS"))
    if remote and parse_url(url).drivername.startswith("sqlite"):
        click.echo(
            "benchbench: warning: trials on other machines report to the study in this "
            f"machine's SQLite file ({store.display_url}) and fail where they cannot reach "
            "it; use --storage postgresql://... for a cluster",
            err=True,
        )
    places: dict[tuple[str, str, str], dict[str, Any]] = {}
    results = []
    total = sum(config.trials for _, _, _, config in jobs)
    with (
        StopSignals("stopping: ending the running trials") as stop,
        placer,
        tqdm(total=total, unit="trial", file=sys.stderr, dynamic_ncols=True) as bar,
    ):
        for label, place, one, config in jobs:
            start = bar.n

            def show(summary: Any, label: str = label, start: int = start) -> None:
                bar.n = start + summary.trials
                best = "-" if summary.best_value is None else f"{summary.best_value:.4f}"
                bar.set_postfix_str(f"{label}: best val {best}, {summary.pruned} pruned")

            try:
                summary = tune(
                    one, config, pm, studies, data_dir, worker, show, placer, stop, parallel
                )
            except Interrupted:
                bar.close()
                click.echo(
                    f"benchbench: stopped: {len(results)} of {len(jobs)} candidates tuned; "
                    "finished trials are stored, run the same command to resume",
                    err=True,
                )
                sys.exit(stop.exit_code)
            bar.n = start + config.trials
            bar.refresh()
            results.append((label, summary))
            if loaded is not None:  # what 'run SUITE --tuned' will run, recorded as it grows
                places[place] = {
                    **summary.to_dict(),
                    "best_params": {**summary.best_params, **one.fixed},  # --set ones too
                    "protocol": protocol_of(config),
                    "code": one.spec(pm, {}, config.seed, data_dir).code,
                }
                store.set_tunings(tuned_variant(loaded).key, places)
    if as_json:
        rows = [
            {
                "candidate": label,
                "best_params": s.best_params,
                "best_value": s.best_value,
                "n_trials": s.stored,
                **{k: v for k, v in s.to_dict().items() if k not in ("best_params", "best_value")},
            }
            for label, s in results
        ]
        click.echo(json.dumps(rows[0] if not suite else rows, default=str))
        return
    for label, s in results:
        best = "-" if s.best_value is None else f"{s.best_value:.4f}"
        click.echo(
            f"{label}: best val accuracy {best} over {s.trials} trials "
            f"({s.pruned} pruned, {s.failed} failed, {s.tuning_seconds:.0f} s); "
            + " ".join(f"{k}={v}" for k, v in s.best_params.items())
        )


@cli.command("run-one")
@click.option("--task", required=True, help="Task name (see 'benchbench list --kind task').")
@click.option("--arch", required=True, help="Architecture name.")
@click.option("--regularizer", default="none", show_default=True)
@click.option("--ssl", default="supervised", show_default=True)
@click.option("--finetune", default="full", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@_budget_options
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NAME=VALUE",
    help="A hyperparameter: loop ones by name (lr=0.01), a component's as "
    "COMPONENT.NAME (label-smoothing.alpha=0.2). Repeatable.",
)
@device_option
@threads_option
@click.option("--storage", metavar="URL", help="Also store the result in this database.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as one JSON object.")
@click.pass_context
@fail_cleanly
def run_one_command(
    ctx: click.Context,
    task: str,
    arch: str,
    regularizer: str,
    ssl: str,
    finetune: str,
    seed: int,
    epochs: float | None,
    steps: int | None,
    seconds: float | None,
    eval_every: float,
    sets: tuple[str, ...],
    device: str,
    threads: int | None,
    storage: str | None,
    as_json: bool,
) -> None:
    """Train one configuration and print what it measured.

    With no --epochs/--steps/--seconds the task's own budget applies; given several, whichever
    runs out first ends the run. Exit status 1 when the run did not end ok.
    """
    from ..running.dispatch import check_data
    from ..running.execute import execute, resolve_device, resolve_spec
    from ..running.machine import pin_threads, thread_share
    from .text import describe_result

    pm = manager(ctx)
    budget = _budget(epochs, steps, seconds, eval_every)
    store = None
    if storage:
        from ..storage.store import Store

        store = Store(storage)  # before training: a bad URL must not cost the run
    spec = resolve_spec(
        pm.registry,
        task=task,
        arch=arch,
        regularizer=regularizer,
        ssl=ssl,
        finetune=finetune,
        hparams=parse_sets(sets),
        seed=seed,
        budget=budget,
        device=resolve_device(device),
        data_dir=ctx.obj["data_dir"],
    )
    unusable = check_data([spec], pm.registry, ctx.obj["data_dir"])
    if unusable:
        raise BenchbenchError(unusable[spec.run_id].error or "the task's data cannot be loaded")
    pin_threads(thread_share(1, threads))
    result = execute(spec, pm, ctx.obj["data_dir"])
    if store is not None:
        store.save(result)
    if as_json:
        from ..spec import json_safe

        click.echo(json.dumps(json_safe(result.to_dict())))
    else:
        click.echo(describe_result(result))
    sys.exit(0 if result.status == "ok" else 1)


@cli.command("profile")
@click.argument("task")
@click.option("--arch", default="mlp", show_default=True, help="The model trained in each setting.")
@click.option(
    "--steps",
    type=click.IntRange(min=5),
    default=100,
    show_default=True,
    help="Training steps per setting and repeat.",
)
@click.option(
    "--repeats",
    type=click.IntRange(min=1),
    default=3,
    show_default=True,
    help="Runs per setting, interleaved; the table gives their median and spread.",
)
@click.option(
    "--max-workers",
    type=click.IntRange(min=0),
    default=None,
    help="Most DataLoader workers tried (default: the CPU count).",
)
@device_option
@threads_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="The plot goes to OUT/profiles/TASK.png.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows and summary as JSON.")
@click.pass_context
@fail_cleanly
def profile_command(
    ctx: click.Context,
    task: str,
    arch: str,
    steps: int,
    repeats: int,
    max_workers: int | None,
    device: str,
    threads: int | None,
    out: Path,
    as_json: bool,
) -> None:
    """Sweep loader settings for TASK: where its training time goes, and the fastest setting.

    Each setting (device-resident; in memory through a DataLoader; decoded from disk with
    0..N workers; pinned memory on a GPU) trains ARCH for a few steps, after one warm-up run,
    --repeats times in turn. The table gives the median training and loader-alone samples/s,
    the spread of the training rate over the repeats, the data-wait share and the verdict; a
    plot is written too.
    """
    import os
    from dataclasses import asdict

    from tabulate import tabulate
    from tqdm import tqdm

    from ..running.execute import execute, resolve_device, resolve_spec
    from ..running.machine import pin_threads, thread_share
    from ..tasks import Split
    from ..training.profiling import loader_settings, plot_sweep, summarize, sweep_row

    pm = manager(ctx)
    device = resolve_device(device)
    task_cls = pm.registry.get("task", task)
    on_disk = not isinstance(task_cls().load(ctx.obj["data_dir"] or _data_dir()).train, Split)
    workers = (os.cpu_count() or 1) if max_workers is None else max_workers
    budget = Budget(steps=steps, eval_every=1e9)
    settings = loader_settings(on_disk, workers, device.startswith("cuda"))
    specs = [
        resolve_spec(pm.registry, task=task, arch=arch, hparams=s, budget=budget, device=device)
        for s in settings
    ]
    folder = prepare_out(out / "profiles")  # before the sweep, not after it
    pin_threads(thread_share(1, threads))
    execute(specs[0], pm, ctx.obj["data_dir"])  # warm-up: first-call costs are nobody's rate
    runs: list[list[Any]] = [[] for _ in specs]
    with tqdm(total=repeats * len(specs), unit="run", file=sys.stderr, leave=False) as bar:
        for _ in range(repeats):  # in turn, so a slow spell of the machine hits every setting
            for i, spec in enumerate(specs):
                runs[i].append(execute(spec, pm, ctx.obj["data_dir"]))
                bar.update()
    rows = [sweep_row(s, results) for s, results in zip(settings, runs, strict=True)]
    summary = summarize(rows)
    plot_sweep(rows, f"{task} / {arch} on {device}", folder / f"{task}.png")
    if as_json:
        click.echo(
            json.dumps(
                {
                    "task": task,
                    "arch": arch,
                    "device": device,
                    "rows": [asdict(r) for r in rows],
                    "summary": summary,
                },
                indent=2,
            )
        )
        return

    def rate(value: float | None) -> str:
        return "-" if value is None else f"{value:,.0f}"

    table = [
        [
            r.setting,
            rate(r.train_samples_per_s),
            "-" if r.train_spread is None else f"{r.train_spread:.0%}",
            rate(r.loader_samples_per_s),
            f"{r.data_wait_fraction:.0%}",
            r.verdict,
            f"{r.prepare_seconds:.2f}",
        ]
        for r in rows
    ]
    headers = [
        "setting",
        "train samples/s",
        "spread",
        "loader alone",
        "data wait",
        "verdict",
        "prepare s",
    ]
    click.echo(tabulate(table, headers=headers, tablefmt="simple"))
    click.echo(f"\n{summary}")
    click.echo(f"plot written to {folder / f'{task}.png'}", err=True)


def _data_dir() -> Path:
    from ..tasks import default_data_dir

    return default_data_dir()


for _command in (
    leaderboard_command,
    report_command,
    export_command,
    import_command,
    plugin_group,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli()
