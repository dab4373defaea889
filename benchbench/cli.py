"""The ``benchbench`` command line: parses, calls the core, prints. Nothing else lives here.

Errors a user can cause end with one line on stderr and exit status 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Any

import click

from . import leaderboard
from .budget import Budget
from .errors import BenchbenchError
from .plugins import KINDS, Origin, PluginConfig, PluginManager, get_plugin_manager

DEFAULT_OUT = "benchbench-out"


def _fail_cleanly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn user errors into one line and exit status 2; Ctrl-C into a short note."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from .database import mask_credentials

        try:
            return command(*args, **kwargs)
        except BenchbenchError as exc:
            message = mask_credentials(" ".join(str(exc).split()))
            click.echo(f"benchbench: error: {message}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("benchbench: interrupted; finished runs are stored", err=True)
            sys.exit(130)

    return wrapper


def _manager(ctx: click.Context) -> PluginManager:
    pm = get_plugin_manager(ctx.obj["plugins"])
    _ = pm.registry  # build it now, so broken plugins are reported before any work
    for plugin, error in pm.errors:
        click.echo(f"benchbench: warning: plugin {plugin!r} was not loaded: {error}", err=True)
    return pm


def _prepare_out(out: Path) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".benchbench-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BenchbenchError(
            f"output folder {out} is not writable ({exc.strerror or exc}); "
            "choose another with --out"
        ) from exc
    return out


def _storage_url(out: Path, storage: str | None) -> str:
    from .store import default_url

    return storage or default_url(out)


def _parse_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _parse_sets(values: tuple[str, ...]) -> dict[str, Any]:
    parsed = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise BenchbenchError(f"--set takes NAME=VALUE, got {item!r}")
        parsed[name.strip()] = _parse_value(value.strip())
    return parsed


_device_option = click.option(
    "--device", default="auto", show_default=True, help="auto, cpu or cuda[:N]."
)


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
    ctx.obj = {"plugins": PluginConfig.from_env(plugins), "data_dir": data_dir}


@cli.command("list")
@click.option("--kind", type=click.Choice([*KINDS, "suite"]), help="Only this kind.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array instead of a table.")
@click.pass_context
@_fail_cleanly
def list_command(ctx: click.Context, kind: str | None, as_json: bool) -> None:
    """Every registered component and suite, with the plugin and distribution it came from."""
    from tabulate import tabulate

    registry = _manager(ctx).registry

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
    rows = [r for r in rows if kind is None or r["kind"] == kind]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = [[r["kind"], r["name"], r["summary"], r["from"]] for r in rows]
    click.echo(tabulate(table, headers=["kind", "name", "summary", "from"], tablefmt="simple"))


def _suite_summary(name: str, registry: Any) -> str:
    from .suite import load_suite

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
@_device_option
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Runs at once, each in its own process (1 keeps timings comparable).",
)
@_timeout_option
@click.option(
    "--retry-failed", is_flag=True, help="Run again the stored runs that failed or timed out."
)
@click.pass_context
@_fail_cleanly
def run_command(
    ctx: click.Context,
    suite: str,
    out: Path,
    storage: str | None,
    seeds: int | None,
    device: str,
    workers: int,
    timeout: float,
    retry_failed: bool,
) -> None:
    """Run a suite (a built-in name such as 'quick' or 'default', or a TOML/YAML file).

    Runs already in the results database are skipped, so an interrupted suite resumes where it
    stopped; several 'benchbench run' processes on one database share the runs between them.
    A run that fails (missing data, a plugin's exception, a crash) or passes --timeout is
    recorded with its reason and the suite goes on. Ctrl-C (or SIGTERM) stops: finished runs
    are stored, the workers end; a second Ctrl-C quits at once. At the end the leaderboard is
    printed and written to OUT/leaderboards/. Exit status 1 when a run of the suite failed or
    timed out, 130/143 when stopped.
    """
    from tqdm import tqdm

    from .execute import resolve_device
    from .executors import ProcessPoolExecutor
    from .interrupts import StopSignals
    from .runner import check_data, describe, problem, restore_spilled, run_specs
    from .store import Store
    from .suite import load_suite, plan, tuned_places
    from .tuning import open_storage

    pm = _manager(ctx)
    data_dir = ctx.obj["data_dir"]
    loaded = load_suite(suite, pm.registry)
    device = resolve_device(device)
    plan(loaded, pm.registry, device=device, seeds=seeds, data_dir=data_dir)  # names checked
    url = _storage_url(_prepare_out(out), storage)
    store = Store(url, on_wait=lambda line: click.echo(f"benchbench: {line}", err=True))
    spilled = out / "unsaved-results"
    restored = restore_spilled(store, spilled)
    if restored:
        click.echo(f"stored {restored} results an earlier run could not store", err=True)
    tuned = tuned_places(
        loaded, pm, open_storage(url), device, data_dir, lambda line: click.echo(line, err=True)
    )
    planned = plan(
        loaded,
        pm.registry,
        device=device,
        seeds=seeds,
        tuned=lambda track, task, c: (tuned.get((track.name, task, c.label)) or {}).get(
            "best_params"
        ),
        data_dir=data_dir,
    )
    store.set_tunings(loaded.key, tuned)
    store.set_places(loaded.key, loaded.name, loaded.source, planned)
    specs = {p.spec.run_id: p.spec for p in planned}
    stored = store.stored_ids(specs)
    if retry_failed:
        stored -= {r.run_id for r in store.results(stored) if r.status in ("failed", "timed-out")}
    todo = [spec for run_id, spec in specs.items() if run_id not in stored]
    click.echo(
        f"suite {loaded.name}: {len(specs)} runs, {len(specs) - len(todo)} already stored, "
        f"{len(todo)} to run (results: {store.display_url})",
        err=True,
    )
    unusable = check_data(todo, pm.registry, data_dir)
    for task, reason in sorted({(r.task, r.error) for r in unusable.values()}):
        count = sum(r.task == task for r in unusable.values())
        click.echo(f"benchbench: task {task}: {reason}; its {count} runs fail", err=True)
    executor = ProcessPoolExecutor(ctx.obj["plugins"], data_dir, workers, timeout)
    with (
        StopSignals() as stop,
        executor,
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
            executor,
            stop,
            spilled,
            show,
            lambda line: bar.write(f"benchbench: {line}", file=sys.stderr),
            unusable,
        )
    if outcome.signal is not None:
        click.echo(
            f"benchbench: stopped: {outcome.summary()}; run the same command to resume", err=True
        )
        sys.exit(128 + outcome.signal)
    frame = store.frame(loaded.key)
    board = leaderboard.build(frame, store.tunings(loaded.key))
    folder = _prepare_out(out / "leaderboards")
    for fmt, suffix in (("csv", "csv"), ("json", "json")):
        (folder / f"{loaded.name}.{suffix}").write_text(leaderboard.render(board, fmt))
    origin = leaderboard.provenance(store.results(set(frame.get("run_id", []))))
    markdown = f"# {loaded.name}\n\n{origin}\n\n{leaderboard.render(board, 'markdown')}"
    (folder / f"{loaded.name}.md").write_text(markdown)
    click.echo(markdown)
    click.echo(f"leaderboard written to {folder}/{loaded.name}.{{md,csv,json}}", err=True)
    click.echo(f"benchbench: {outcome.summary()}", err=True)
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
@click.option("--sampler", type=click.Choice(["tpe", "random"]), default="tpe", show_default=True)
@click.option(
    "--pruner",
    type=click.Choice(["median", "hyperband", "none"]),
    default="median",
    show_default=True,
)
@click.option("--seed", type=int, default=0, show_default=True, help="Sampler and trial seed.")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Fix a hyperparameter.")
@click.option(
    "--worker",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="This process's index when several tune on one storage (seeds its sampler apart).",
)
@_device_option
@_timeout_option
@click.option("--out", type=click.Path(path_type=Path), default=DEFAULT_OUT, show_default=True)
@click.option("--storage", metavar="URL", help="Results and studies database URL.")
@click.option("--json", "as_json", is_flag=True, help="Print the best configuration(s) as JSON.")
@click.pass_context
@_fail_cleanly
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
    sampler: str,
    pruner: str,
    seed: int,
    sets: tuple[str, ...],
    worker: int,
    device: str,
    timeout: float,
    out: Path,
    storage: str | None,
    as_json: bool,
) -> None:
    """Tune every candidate of SUITE, or one candidate (--task, --arch, ...), with Optuna.

    Every candidate gets the same number of trials, scored on the validation split; studies
    are stored with the results and resumed when run again, and several processes may tune
    one storage at once. Each trial runs in a worker process: one that crashes or passes
    --timeout is a failed trial (it counts as effort spent). Ctrl-C stops; the running
    trial is redone when tuning resumes. 'benchbench run SUITE' then uses the best
    configurations.
    """
    from dataclasses import replace

    from tqdm import tqdm

    from .execute import resolve_device
    from .executors import ProcessPoolExecutor
    from .interrupts import StopSignals
    from .store import Store
    from .suite import load_suite, target
    from .tuning import Interrupted, Target, TuningConfig, open_storage, tune

    if bool(suite) == bool(task or arch):
        raise BenchbenchError("name a SUITE, or one candidate with --task and --arch")
    if not suite and not (task and arch):
        raise BenchbenchError("tuning one candidate needs both --task and --arch")
    pm = _manager(ctx)
    device = resolve_device(device)
    loaded = load_suite(suite, pm.registry) if suite else None
    jobs = []
    if loaded is not None:
        for track in loaded.tracks:
            config = track.tuning or TuningConfig()
            if trials:
                config = replace(config, trials=trials)
            for name in track.tasks:
                for candidate in track.candidates:
                    label = f"{track.name}/{name}/{candidate.label}"
                    jobs.append(
                        (label, target(track, name, candidate, pm.registry, device), config)
                    )
    else:
        budget = _budget(epochs, steps, seconds, eval_every)
        config = TuningConfig(trials or 20, sampler, pruner, seed, budget)
        one = Target(task, arch, regularizer, ssl, finetune, _parse_sets(sets), budget, device)
        jobs.append((f"{task}/{arch}/{regularizer}/{ssl}/{finetune}", one, config))
    for _, one, config in jobs:  # every name checked before anything is created
        one.spec(pm, {}, config.seed, ctx.obj["data_dir"])
    url = _storage_url(_prepare_out(out), storage)
    Store(url)  # checks the URL and creates the results tables beside the studies
    studies = open_storage(url)
    results = []
    total = sum(config.trials for _, _, config in jobs)
    data_dir = ctx.obj["data_dir"]
    executor = ProcessPoolExecutor(ctx.obj["plugins"], data_dir, 1, timeout)
    with (
        StopSignals("stopping: ending the running trial") as stop,
        executor,
        tqdm(total=total, unit="trial", file=sys.stderr, dynamic_ncols=True) as bar,
    ):
        for label, one, config in jobs:
            start = bar.n

            def show(summary: Any, label: str = label, start: int = start) -> None:
                bar.n = start + summary.trials
                best = "-" if summary.best_value is None else f"{summary.best_value:.4f}"
                bar.set_postfix_str(f"{label}: best val {best}, {summary.pruned} pruned")

            try:
                summary = tune(one, config, pm, studies, data_dir, worker, show, executor, stop)
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
@_device_option
@click.option("--storage", metavar="URL", help="Also store the result in this database.")
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as one JSON object.")
@click.pass_context
@_fail_cleanly
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
    storage: str | None,
    as_json: bool,
) -> None:
    """Train one configuration and print what it measured.

    With no --epochs/--steps/--seconds the task's own budget applies; given several, whichever
    runs out first ends the run. Exit status 1 when the run did not end ok.
    """
    from .execute import execute, resolve_spec
    from .runner import check_data

    pm = _manager(ctx)
    budget = _budget(epochs, steps, seconds, eval_every)
    store = None
    if storage:
        from .store import Store

        store = Store(storage)  # before training: a bad URL must not cost the run
    spec = resolve_spec(
        pm.registry,
        task=task,
        arch=arch,
        regularizer=regularizer,
        ssl=ssl,
        finetune=finetune,
        hparams=_parse_sets(sets),
        seed=seed,
        budget=budget,
        device=device,
        data_dir=ctx.obj["data_dir"],
    )
    unusable = check_data([spec], pm.registry, ctx.obj["data_dir"])
    if unusable:
        raise BenchbenchError(unusable[spec.run_id].error or "the task's data cannot be loaded")
    result = execute(spec, pm, ctx.obj["data_dir"])
    if store is not None:
        store.save(result)
    if as_json:
        from .store import json_safe

        click.echo(json.dumps(json_safe(result.to_dict())))
    else:
        _print_result(result)
    sys.exit(0 if result.status == "ok" else 1)


def _print_result(result: Any) -> None:
    click.echo(
        f"run {result.run_id}: {result.status}" + (f" ({result.error})" if result.error else "")
    )
    if result.status != "ok" and not result.curve:
        return
    ttt = (
        "never"
        if result.time_to_target_s is None
        else (f"{result.time_to_target_s:.2f} s ({result.time_to_target_steps} steps)")
    )
    loader = result.loader
    lines = [
        (
            "test accuracy",
            f"{result.test_accuracy:.4f}" if result.test_accuracy is not None else "-",
        ),
        ("best val accuracy", f"{result.best_val_accuracy:.4f}"),
        ("time to target", ttt),
        ("train / eval seconds", f"{result.train_seconds:.2f} / {result.eval_seconds:.2f}"),
        (
            "steps / epochs / samples",
            f"{result.steps} / {result.epochs:.2f} / {result.samples_seen}",
        ),
        ("samples/s", f"{result.samples_per_s:,.0f}" if result.samples_per_s else "-"),
        ("parameters", f"{result.params:,}"),
        (
            "data path",
            f"{loader['data_path']}, {loader['workers']} workers"
            + (", pinned" if loader["pin_memory"] else ""),
        ),
        (
            "loader / compute alone",
            " / ".join(
                "-" if v is None else f"{v:,.0f} samples/s"
                for v in (loader["loader_samples_per_s"], loader["compute_samples_per_s"])
            ),
        ),
        ("data wait", f"{loader['data_wait_fraction']:.1%}: {loader['recommendation']}"),
    ]
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"  {key:<{width}}  {value}")


@cli.command("profile")
@click.argument("task")
@click.option("--arch", default="mlp", show_default=True, help="The model trained in each setting.")
@click.option(
    "--steps",
    type=click.IntRange(min=5),
    default=100,
    show_default=True,
    help="Training steps per setting.",
)
@click.option(
    "--max-workers",
    type=click.IntRange(min=0),
    default=None,
    help="Most DataLoader workers tried (default: the CPU count).",
)
@_device_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="The plot goes to OUT/profiles/TASK.png.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the rows and summary as JSON.")
@click.pass_context
@_fail_cleanly
def profile_command(
    ctx: click.Context,
    task: str,
    arch: str,
    steps: int,
    max_workers: int | None,
    device: str,
    out: Path,
    as_json: bool,
) -> None:
    """Sweep loader settings for TASK: where its training time goes, and the fastest setting.

    Each setting (device-resident; in memory through a DataLoader; decoded from disk with
    0..N workers; pinned memory on a GPU) trains ARCH for a few steps. The table gives training
    and loader-alone samples/s, the data-wait share and the verdict; a plot is written too.
    """
    import os
    from dataclasses import asdict

    from tabulate import tabulate

    from .execute import execute, resolve_device, resolve_spec
    from .profiling import loader_settings, plot_sweep, summarize, sweep_row
    from .tasks import Split

    pm = _manager(ctx)
    device = resolve_device(device)
    task_cls = pm.registry.get("task", task)
    on_disk = not isinstance(task_cls().load(ctx.obj["data_dir"] or _data_dir()).train, Split)
    workers = (os.cpu_count() or 1) if max_workers is None else max_workers
    budget = Budget(steps=steps, eval_every=1e9)
    rows = []
    for setting in loader_settings(on_disk, workers, device.startswith("cuda")):
        spec = resolve_spec(
            pm.registry, task=task, arch=arch, hparams=setting, budget=budget, device=device
        )
        rows.append(sweep_row(setting, execute(spec, pm, ctx.obj["data_dir"])))
    summary = summarize(rows)
    folder = _prepare_out(out / "profiles")
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
            rate(r.loader_samples_per_s),
            f"{r.data_wait_fraction:.0%}",
            r.verdict,
            f"{r.prepare_seconds:.2f}",
        ]
        for r in rows
    ]
    headers = ["setting", "train samples/s", "loader alone", "data wait", "verdict", "prepare s"]
    click.echo(tabulate(table, headers=headers, tablefmt="simple"))
    click.echo(f"\n{summary}")
    click.echo(f"plot written to {folder / f'{task}.png'}", err=True)


def _data_dir() -> Path:
    from .tasks import default_data_dir

    return default_data_dir()


@cli.command("leaderboard")
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    default=DEFAULT_OUT,
    show_default=True,
    help="Folder holding benchbench.db.",
)
@click.option("--storage", metavar="URL", help="Results database URL (instead of --out).")
@click.option("--suite", help="Only this suite.")
@click.option(
    "--format", "fmt", type=click.Choice(leaderboard.FORMATS), default="markdown", show_default=True
)
@click.pass_context
@_fail_cleanly
def leaderboard_command(
    ctx: click.Context, out: Path, storage: str | None, suite: str | None, fmt: str
) -> None:
    """Print the ranked leaderboard of stored results: mean test accuracy ± 95% interval over
    seeds, change against each track's baseline, time-to-target, data-wait share, parameters."""
    from .store import Store

    if storage is None and not (out / "benchbench.db").exists():
        raise BenchbenchError(
            f"no results database in {out}; run 'benchbench run' first or pass --storage"
        )
    store = Store(_storage_url(out, storage), writable=False)
    key = store.find_suite(suite) if suite else None
    board = leaderboard.build(store.frame(key), store.tunings(key))
    click.echo(leaderboard.render(board, fmt), nl=False)


def main() -> None:
    """Console-script entry point."""
    cli()
