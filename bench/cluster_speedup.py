"""The ``quick`` suite's wall time with 1 and 2 local workers, through Ray and through Slurm,
and the speed-up.

Each setting is one ``benchbench run quick`` command into a fresh results database (so every
run trains), timed from start to exit: planning, worker start-up, training, storing and the
leaderboard, as a user waits for it. The settings alternate over ``--repeats`` rounds and the
table gives the median, and the seconds spent inside the runs themselves (training and
evaluation, summed over the 12 runs): the rest of the wall time is start-up, planning and
storing, which a suite this small is mostly made of. The data is generated once beforehand,
outside the timings.

- ``local, 1 worker``: the default (each run has the machine alone; comparable timings);
- ``local, N workers``: ``--workers N``, the cores shared between the workers;
- ``ray``: ``--executor ray`` with no address: a Ray instance started by the command on this
  machine (its start-up is in the time), one CPU per run; with ``--address`` the cluster there;
- with ``--slurm`` (on a Slurm login node, e.g. the one-node cluster ``.ci/slurm`` starts):
  ``--executor slurm --workers 1`` and ``--executor slurm`` (one job array; as many at once
  as Slurm gives), one CPU per job; the Slurm overhead per run is the first one's wall time
  less ``local, 1 worker``'s, over the runs.

Run: ``python bench/cluster_speedup.py [--repeats 3] [--workers 2] [--address HOST:PORT]
[--slurm] [--no-ray]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from smoke import parse
from tabulate import tabulate

from benchbench.storage.store import Store, default_url


def timed(args: list[str], data: Path, seeds: int | None = None) -> tuple[float, float]:
    """Seconds one ``benchbench run quick`` command takes into a fresh output folder, and the
    seconds spent inside its runs (training and evaluation, summed over the runs)."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "benchbench", "--data-dir", str(data), "run", "quick"]
        started = time.perf_counter()
        fewer = ["--seeds", str(seeds)] if seeds else []
        subprocess.run([*command, "--out", out, *fewer, *args], check=True, capture_output=True)
        wall = time.perf_counter() - started
        frame = Store(default_url(Path(out)), writable=False).frame()
        return wall, float((frame["train_seconds"] + frame["eval_seconds"]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--address", help="A running Ray cluster (default: a local instance).")
    parser.add_argument("--slurm", action="store_true", help="Time the Slurm executor too.")
    parser.add_argument("--no-ray", action="store_true", help="Leave Ray out.")
    parser.add_argument("--seeds", type=int, help="Seeds per candidate (default: the suite's 2).")
    options = parse(parser, repeats=1, no_ray=True, slurm=False, seeds=1)
    ray = ["--executor", "ray"] + (["--address", options.address] if options.address else [])
    settings = {
        "local, 1 worker": ["--workers", "1"],
        f"local, {options.workers} workers": ["--workers", str(options.workers)],
    }
    if not options.no_ray:
        name = "ray" + (f" at {options.address}" if options.address else " (local instance)")
        settings[name] = ray
    if options.slurm:
        settings["slurm, 1 job at a time"] = ["--executor", "slurm", "--workers", "1"]
        settings["slurm, one array"] = ["--executor", "slurm"]
    with tempfile.TemporaryDirectory() as data:
        # generates the data, warms the file cache
        timed(["--workers", "1"], Path(data), options.seeds)
        times: dict[str, list[float]] = {name: [] for name in settings}
        inside: dict[str, list[float]] = {name: [] for name in settings}
        for _ in range(options.repeats):
            for name, args in settings.items():
                wall, runs = timed(args, Path(data), options.seeds)
                times[name].append(wall)
                inside[name].append(runs)
    base = statistics.median(times["local, 1 worker"])
    rows = [
        [
            name,
            statistics.median(t),
            min(t),
            max(t),
            statistics.median(inside[name]),
            base / statistics.median(t),
        ]
        for name, t in times.items()
    ]
    print(f"quick suite (12 runs), {os.cpu_count()} cores, median of {options.repeats}:")
    headers = ["setting", "wall s", "min s", "max s", "inside runs s", "speed-up"]
    print(tabulate(rows, headers=headers, floatfmt=".2f"))
    if options.slurm:
        runs = 12
        extra = statistics.median(times["slurm, 1 job at a time"]) - base
        print(f"Slurm overhead per run (1 job at a time vs 1 local worker): {extra / runs:.2f} s")


if __name__ == "__main__":
    main()
