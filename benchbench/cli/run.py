"""``benchbench run`` (a suite) and ``benchbench run-one`` (one configuration)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .options import (
    ExecutorCommand,
    budget_options,
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


@click.command("run", cls=ExecutorCommand)
@click.argument("suite", default="default")
@store_options
@click.option("--seeds", type=int, help="Seeds per candidate, for every track.")
@device_option
@threads_option
@numerics_option
@download_option
@click.option(
    "--workers",
    type=int,
    help="Runs at once, each in its own process (default: 1 locally, which keeps timings "
    "comparable, and one per GPU for --device cuda; as many as the cluster holds elsewhere).",
)
@executor_options
@timeout_option
@log_option
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
def run_command(ctx: click.Context, suite: str, **options: object) -> None:
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

    With --executor NAME the runs are placed by that executor ('benchbench list --kind
    executor': worker processes here by default, a cluster's tasks or jobs with a plugin's),
    each taking the options it declares ('benchbench show NAME'); results come back here and
    are stored as they arrive. A run its executor lost with a node is run again next time.
    """
    from ..api import run

    outcome = run(suite, **take_executor_options(options), **loading(ctx))  # type: ignore[arg-type]
    sys.exit(0 if outcome.ok else 1)  # run() printed the leaderboard and the closing lines


@click.command("run-one")
@click.option("--task", required=True, help="Task name (see 'benchbench list --kind task').")
@click.option("--arch", required=True, help="Architecture name.")
@components_options
@click.option("--seed", type=int, default=0, show_default=True, help="The run's seed.")
@budget_options
@sets_option(
    "A hyperparameter: loop ones by name (lr=0.01), a component's as "
    "COMPONENT.NAME (label-smoothing.alpha=0.2). Repeatable."
)
@device_option
@threads_option
@numerics_option
@download_option
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Also store the result in this folder's results database (where 'benchbench run' "
    "stores and 'benchbench export' reads).",
)
@click.option("--storage", metavar="URL", help="Also store the result in this database.")
@log_option
@click.option("--json", "as_json", is_flag=True, help="Print the whole result as one JSON object.")
@click.pass_context
@fail_cleanly
def run_one_command(
    ctx: click.Context,
    task: str,
    arch: str,
    sets: tuple[str, ...],
    as_json: bool,
    **options: object,
) -> None:
    """Train one configuration and print what it measured.

    With no --epochs/--steps/--seconds the task's own budget applies; given several, whichever
    runs out first ends the run. Exit status 1 when the run did not end ok.
    """
    from ..api import run_one
    from ..spec import json_safe
    from .text import describe_result

    hparams = parse_sets(sets)
    result = run_one(task, arch, hparams=hparams, **options, **loading(ctx))  # type: ignore[arg-type]
    click.echo(json.dumps(json_safe(result.to_dict())) if as_json else describe_result(result))
    sys.exit(0 if result.status == "ok" else 1)
