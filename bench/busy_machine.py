"""Timings beside a busy neighbour, and what the result says about it.

Trains mlp on digits (``run-one``, 10 epochs, a fresh process each) with every core's worth
of threads and with one thread, alone and beside one process that keeps a core busy, and
prints samples/s, the batch-1 latency, how many cores the run saw other processes use, and
its ``busy`` flag. Median of ``--repeats`` per cell.

Run: ``python bench/busy_machine.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys

from smoke import parse

SPIN = "while True: pass"


def run(threads: int, epochs: float = 10) -> dict:
    exe = shutil.which("benchbench") or "benchbench"
    args = [exe, "run-one", "--task", "digits", "--arch", "mlp", "--epochs", str(epochs)]
    done = subprocess.run(
        [*args, "--threads", str(threads), "--json"], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=float, default=10)
    args = parse(parser, repeats=1, epochs=0.2)
    repeats = args.repeats
    cores = len(os.sched_getaffinity(0))
    print(f"{'neighbour':<10} {'threads':>7} {'samples/s':>10} {'b1 ms':>7} {'others':>7}  busy")
    for neighbour in (False, True):
        spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if neighbour else None
        try:
            for threads in sorted({cores, 1}, reverse=True):
                results = [run(threads, args.epochs) for _ in range(repeats)]
                rate = statistics.median(r["samples_per_s"] for r in results)
                latency = statistics.median(r["latency_batch1_ms"] for r in results)
                others = statistics.median(r["machine"]["other_cores_busy"] for r in results)
                flags = ",".join(str(r["machine"]["busy"]) for r in results)
                print(
                    f"{'busy' if neighbour else 'none':<10} {threads:>7} {rate:>10,.0f} "
                    f"{latency:>7.2f} {others:>7.2f}  {flags}"
                )
        finally:
            if spinner is not None:
                spinner.kill()


if __name__ == "__main__":
    main()
