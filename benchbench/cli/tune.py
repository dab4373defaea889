"""``benchbench tune``: every candidate of a suite, or one candidate, tuned with Optuna."""

from __future__ import annotations

import json

import click

from .options import (
    ExecutorCommand,
    budget_options,
    choices,
    components_options,
    device_option,
    download_option,
    executor_options,
    fail_cleanly,
    loading,
    log_option,
    numerics_option,
    parse_sets,
    sets_option,
    store_options,
    take_executor_options,
    threads_option,
    timeout_option,
)


@click.command("tune", cls=ExecutorCommand)
@click.argument("suite", required=False)
@click.option("--task", help="Tune one candidate: its task (with --arch).")
@click.option("--arch", help="Its architecture.")
@components_options
@click.option("--trials", type=int, help="Trials per candidate (default: the suite's, 20).")
@budget_options
@click.option(
    "--sampler",
    metavar=choices(["tpe", "random"]),
    help="Optuna sampler (default: the suite's, tpe).",
)
@click.option(
    "--pruner",
    metavar=choices(["median", "hyperband", "none"]),
    help="Pruner (default: the suite's, median).",
)
@click.option("--seed", type=int, help="Sampler and trial seed (default: the suite's, 0).")
@sets_option("Fix a hyperparameter (in a suite: for every candidate that has it).")
@click.option(
    "--worker",
    type=int,
    default=0,
    show_default=True,
    help="This process's index when several tune on one storage (seeds its sampler apart).",
)
@click.option(
    "--workers",
    "--parallel",
    "workers",
    type=int,
    default=1,
    show_default=True,
    help="Trials at once (each in its own process, or its executor's task or job); "
    "--parallel is its old name.",
)
@device_option
@threads_option
@numerics_option
@download_option
@executor_options
@log_option
@timeout_option
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the best configuration(s) as JSON.")
@click.pass_context
@fail_cleanly
def tune_command(
    ctx: click.Context, suite: str | None, sets: tuple[str, ...], as_json: bool, **options: object
) -> None:
    """Tune every candidate of SUITE, or one candidate (--task, --arch, ...), with Optuna.

    Every candidate gets the same number of trials, scored on the validation split; studies
    are stored with the results and resumed when run again, and several processes may tune
    one storage at once. Each trial runs in a worker process (--workers at once), or where
    --executor places it (trials on other machines need a study they can reach: --storage
    postgresql://...): one that crashes or passes --timeout is a failed trial (it counts as
    effort spent). Ctrl-C stops; the running trials are redone when tuning
    resumes. Every option applies to a SUITE too, over the suite's own tuning settings.
    'benchbench run SUITE --tuned' then runs the best configurations (as suite SUITE-tuned;
    plain 'run SUITE' keeps the defaults).
    """
    from ..api import tune

    hparams = parse_sets(sets)
    outcome = tune(suite, hparams=hparams, **take_executor_options(options), **loading(ctx))  # type: ignore[arg-type]
    if as_json:
        rows = outcome.rows()
        click.echo(json.dumps(rows if suite else rows[0], default=str))
        return
    for candidate in outcome.candidates:
        s = candidate.summary
        best = "-" if s.best_value is None else f"{s.best_value:.4f}"
        click.echo(
            f"{candidate.label}: best val accuracy {best} over {s.trials} trials "
            f"({s.pruned} pruned, {s.failed} failed, {s.tuning_seconds:.0f} s); "
            + " ".join(f"{k}={v}" for k, v in s.best_params.items())
        )
