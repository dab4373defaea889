"""What pruning saves when tuning a track: compute spent and best validation accuracy with
and without Optuna's median pruner.

Every candidate of a small regularizers track (one task, one architecture) is tuned twice
with the same number of TPE trials and the same sampler seed, each time into a fresh study:
once with no pruner, once with the median pruner on the curve's eval points (it starts
judging after 5 trials). Reported per candidate and in total: trials pruned, the summed
wall-clock seconds of the trials, and the best validation accuracy found.

Run: ``python bench/tuning_pruning.py [--task mnist1d --arch cnn --trials 16 --epochs 10]``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from smoke import parse
from tabulate import tabulate

from benchbench import Budget
from benchbench.plugins import get_plugin_manager
from benchbench.tuning.study import Target, TuningConfig, open_storage, tune


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default="mnist1d")
    parser.add_argument("--arch", default="cnn")
    parser.add_argument("--candidates", default="none,label-smoothing,mixup")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--epochs", type=float, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parse(parser, task="digits", arch="mlp", candidates="none", trials=2, epochs=0.5)
    pm = get_plugin_manager()
    budget = Budget(epochs=args.epochs, eval_every=1)
    rows, totals = [], {"none": [0.0, 0], "median": [0.0, 0]}
    with tempfile.TemporaryDirectory() as folder:
        found = {}
        for pruner in ("none", "median"):
            storage = open_storage(f"sqlite:///{Path(folder) / f'{pruner}.db'}")
            config = TuningConfig(trials=args.trials, pruner=pruner, seed=args.seed)
            for name in args.candidates.split(","):
                target = Target(args.task, args.arch, regularizer=name, budget=budget)
                summary = tune(target, config, pm, storage)
                found[(name, pruner)] = summary
                totals[pruner][0] += summary.tuning_seconds
                totals[pruner][1] += summary.pruned
                print(
                    f"{name} / pruner {pruner}: best {summary.best_value:.4f}, "
                    f"{summary.pruned} pruned, {summary.tuning_seconds:.1f} s",
                    flush=True,
                )
        for name in args.candidates.split(","):
            plain, pruned = found[(name, "none")], found[(name, "median")]
            rows.append(
                [
                    name,
                    f"{plain.best_value:.4f}",
                    f"{pruned.best_value:.4f}",
                    f"{pruned.pruned}/{args.trials}",
                    f"{plain.tuning_seconds:.1f}",
                    f"{pruned.tuning_seconds:.1f}",
                    f"{1 - pruned.tuning_seconds / plain.tuning_seconds:.0%}",
                ]
            )
    rows.append(
        [
            "all",
            "",
            "",
            f"{totals['median'][1]}",
            f"{totals['none'][0]:.1f}",
            f"{totals['median'][0]:.1f}",
            f"{1 - totals['median'][0] / totals['none'][0]:.0%}",
        ]
    )
    print(f"\n{args.task} / {args.arch}, {args.trials} TPE trials per candidate, {budget}")
    headers = ["candidate", "best val (none)", "best val (median)", "pruned", "s (none)"]
    print(tabulate(rows, headers=[*headers, "s (median)", "saved"], tablefmt="github"))


if __name__ == "__main__":
    main()
