"""``benchbench profile TASK``: where a task's training time goes, loader settings swept."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from ..paths import DEFAULT_OUT
from .options import device_option, fail_cleanly, loading, numerics_option, threads_option


@click.command("profile")
@click.argument("task")
@click.option("--arch", default="mlp", show_default=True, help="The model trained in each setting.")
@click.option(
    "--steps",
    type=int,
    default=100,
    show_default=True,
    help="Training steps per setting and repeat.",
)
@click.option(
    "--repeats",
    type=int,
    default=3,
    show_default=True,
    help="Runs per setting, interleaved; the table gives their median and spread.",
)
@click.option(
    "--loader-workers",
    "--max-workers",
    "loader_workers",
    type=int,
    default=None,
    help="Most DataLoader workers tried (default: the CPU count; --max-workers is its old name).",
)
@device_option
@threads_option
@numerics_option
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
def profile_command(ctx: click.Context, task: str, as_json: bool, **options: object) -> None:
    """Sweep loader settings for TASK: where its training time goes, and the fastest setting.

    Each setting (device-resident; in memory through a DataLoader; decoded from disk with
    0..N workers; pinned memory on a GPU) trains ARCH for a few steps, after one warm-up run,
    --repeats times in turn. The table gives the median training and loader-alone samples/s,
    the spread of the training rate over the repeats, the data-wait share and the verdict; a
    plot is written too.
    """
    from tabulate import tabulate

    from ..api import profile

    outcome = profile(task, **options, **loading(ctx))  # type: ignore[arg-type]
    if as_json:
        shown = {
            "task": outcome.task,
            "arch": outcome.arch,
            "device": outcome.device,
            "rows": [asdict(r) for r in outcome.rows],
            "summary": outcome.summary,
        }
        click.echo(json.dumps(shown, indent=2))
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
        for r in outcome.rows
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
    click.echo(f"\n{outcome.summary}")
    click.echo(f"plot written to {outcome.plot}", err=True)
