"""How long the command line takes before (and around) any training.

Times, as a user would see them (each a fresh process, median of ``--repeats``):

1. ``benchbench --version``, ``--help``, ``list --help`` and ``run --help`` (whose executor
   flags come from the cached plugin listing): nothing heavy may be imported;
2. ``benchbench list``: loads every plugin (and so torch);
3. ``benchbench run-one --task mnist1d --arch cnn --steps 1 --json``: the whole time outside
   training of one run (start-up, a cached dataset, the model, the deployment measurements);
   the run's own ``train_seconds`` is subtracted.

Run: ``python bench/startup.py [--repeats 5]``. The MNIST-1D dataset is generated and cached
by a first, untimed run-one.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import time

from smoke import parse


def timed(args: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, text=True, check=True)
    return time.perf_counter() - started, done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    repeats = parse(parser, repeats=1).repeats
    exe = shutil.which("benchbench") or "benchbench"
    run_one = [exe, "run-one", "--task", "mnist1d", "--arch", "cnn", "--steps", "1", "--json"]
    subprocess.run(run_one, capture_output=True, check=True)  # caches the dataset
    for args in (["--version"], ["--help"], ["list", "--help"], ["run", "--help"], ["list"]):
        seconds = statistics.median(timed([exe, *args])[0] for _ in range(repeats))
        print(f"benchbench {' '.join(args):<12} {seconds:6.2f} s")
    walls, outside = [], []
    for _ in range(repeats):
        wall, out = timed(run_one)
        result = json.loads(out)
        walls.append(wall)
        outside.append(wall - result["train_seconds"] - result["eval_seconds"])
    print(
        f"run-one mnist1d/cnn 1 step  {statistics.median(walls):6.2f} s wall, "
        f"{statistics.median(outside):.2f} s outside training and evaluation"
    )


if __name__ == "__main__":
    main()
