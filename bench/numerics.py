"""What the ``portable`` numerics mode costs against ``native``, and what it buys.

For each network of the default suite's architecture track (on ``digits`` and ``mnist1d``,
each at the task's own budget, seed 0), trains one run per mode and thread count, each in a
fresh process (``benchbench run-one --json``), and prints per network: training seconds
per mode, the slowdown of portable, and whether the test accuracy and validation curve are
the same bits with 1 thread as with 2 (portable promises the same bits across machines; the
thread count is recorded in every result and ``verify`` reruns with it).

Run: ``python bench/numerics.py [--archs mlp,cnn] [--tasks digits] [--threads 1,2]``
on a quiet machine (timings of processes that share cores mean nothing).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess

from smoke import parse

ARCHS = ["mlp", "cnn", "lenet", "vgg-small", "resnet-small", "gru"]
TASKS = ["digits", "mnist1d"]


def one(task: str, arch: str, mode: str, threads: int, steps: int | None = None) -> dict:
    command = [
        "benchbench",
        "run-one",
        "--task",
        task,
        "--arch",
        arch,
        "--device",
        "cpu",
        "--numerics",
        mode,
        "--threads",
        str(threads),
        "--json",
        *(["--steps", str(steps)] if steps else []),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    result = json.loads(done.stdout)
    curve = json.dumps([p["val_accuracy"] for p in result["curve"]])
    return {
        "train_seconds": result["train_seconds"],
        "test_accuracy": result["test_accuracy"],
        "curve": hashlib.sha256(curve.encode()).hexdigest()[:8],
        "aten": result["machine"]["numerics"]["aten_capability"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--archs", default=",".join(ARCHS))
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--steps", type=int, help="Each run's steps (default: the task's budget).")
    args = parse(parser, archs="mlp", tasks="digits", threads="1", steps=5)
    thread_counts = [int(t) for t in args.threads.split(",")]
    print(
        "| task | arch | threads | native s | portable s | portable/native "
        "| native acc | portable acc | portable same bits across threads |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    ratios = []
    for task in args.tasks.split(","):
        for arch in args.archs.split(","):
            runs = {
                (mode, t): one(task, arch, mode, t, args.steps)
                for t in thread_counts
                for mode in ("native", "portable")
            }
            portable = {
                (r["test_accuracy"], r["curve"]) for (m, _), r in runs.items() if m == "portable"
            }
            for t in thread_counts:
                native, port = runs["native", t], runs["portable", t]
                ratio = port["train_seconds"] / native["train_seconds"]
                ratios.append(ratio)
                print(
                    f"| {task} | {arch} | {t} | {native['train_seconds']:.2f} "
                    f"| {port['train_seconds']:.2f} | {ratio:.2f} "
                    f"| {native['test_accuracy']:.4f} | {port['test_accuracy']:.4f} "
                    f"| {'yes' if len(portable) == 1 else 'no'} |",
                    flush=True,
                )
    ratios.sort()
    print(
        f"\nportable/native training time: median {ratios[len(ratios) // 2]:.2f}, "
        f"range {ratios[0]:.2f}-{ratios[-1]:.2f} over {len(ratios)} runs"
    )


if __name__ == "__main__":
    main()
