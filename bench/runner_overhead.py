"""What claiming and storing add to each run of a suite.

``benchbench run`` claims every run in the results database before training it (so several
processes share a suite), stores its result the moment it ends and releases the claim in the
same transaction. This times, per run, on an SQLite file in a temporary folder:

1. ``execute`` alone (tiny runs: digits / mlp, 1 step, so the database's share shows);
2. ``execute`` + ``Store.save`` (what a runner without claims would do);
3. :func:`benchbench.running.dispatch.run_specs` (claim, check, execute, save + release, heartbeat).

Each in this process (no worker pool), alternating, median of ``--repeats``.

Run: ``python bench/runner_overhead.py [--runs 40 --repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from smoke import parse

from benchbench import Budget
from benchbench.execution.execute import execute
from benchbench.executors import InProcessExecutor
from benchbench.host.interrupts import StopSignals
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import get_plugin_manager
from benchbench.running.dispatch import run_specs
from benchbench.storage.store import Store, default_url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=5)
    args = parse(parser, runs=2, repeats=1)
    pm = get_plugin_manager()

    def specs(offset: int) -> list:
        return [
            resolve_spec(
                pm.registry,
                task="digits",
                arch="mlp",
                seed=offset + i,
                budget=Budget(steps=1),
            )
            for i in range(args.runs)
        ]

    execute(specs(0)[0], pm)  # warm-up: data cache, first-call costs
    timings: dict[str, list[float]] = {"execute": [], "execute + save": [], "run_specs": []}
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as folder:
            store = Store(default_url(Path(folder)))
            batch = specs(1000 * repeat)
            started = time.perf_counter()
            for spec in batch:
                execute(spec, pm)
            timings["execute"].append(time.perf_counter() - started)
            started = time.perf_counter()
            for spec in batch:
                store.save(execute(spec, pm))
            timings["execute + save"].append(time.perf_counter() - started)
            batch = specs(1000 * repeat + 500)
            started = time.perf_counter()
            run_specs(batch, store, InProcessExecutor(pm), StopSignals(), Path(folder))
            timings["run_specs"].append(time.perf_counter() - started)
    base = statistics.median(timings["execute"]) / args.runs * 1000
    print(f"{args.runs} runs of digits / mlp, 1 step each; median of {args.repeats}, per run:")
    for label, values in timings.items():
        per_run = statistics.median(values) / args.runs * 1000
        print(f"  {label:<16}{per_run:8.1f} ms   (+{per_run - base:5.1f} ms)")


if __name__ == "__main__":
    main()
