"""The two data paths, measured: device-resident batches against a standard DataLoader.

1. On ``digits`` and ``mnist1d`` (in-memory tasks), the same model and steps with
   ``data_path=device`` (the whole split on the device, one index gather per batch) and
   ``data_path=memory`` (a ``DataLoader`` over a ``TensorDataset``, the usual PyTorch way):
   training samples/s of each and their ratio.
2. On ``digits-png`` (decoded from PNG files per sample), the per-run profile's verdict and
   recommendation at the default setting, then the speed-up from following it.

Each configuration is trained ``--repeats`` times through
:func:`benchbench.execution.execute.execute`; the median is reported.
Run: ``python bench/data_paths.py``.
"""

from __future__ import annotations

import argparse
import statistics

from smoke import parse

from benchbench import Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import get_plugin_manager


def measure(pm, task: str, arch: str, steps: int, repeats: int, **hparams) -> dict:
    """Median training samples/s (and the last run's loader profile) of one configuration."""
    spec = resolve_spec(
        pm.registry,
        task=task,
        arch=arch,
        hparams=hparams,
        budget=Budget(steps=steps, eval_every=1e9),
        device="cpu",
    )
    results = [execute(spec, pm) for _ in range(repeats)]
    for result in results:
        if result.status != "ok":
            raise SystemExit(f"{task}/{arch} {hparams}: {result.status} {result.error}")
    return {
        "samples_per_s": statistics.median(r.samples_per_s for r in results),
        "loader": results[-1].loader,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    args = parse(parser, steps=5, repeats=1)
    pm = get_plugin_manager()

    print(f"device-resident vs DataLoader: {args.steps} steps, median of {args.repeats}")
    print(f"{'task / arch':<16}{'device':>12}{'DataLoader':>12}{'ratio':>8}")
    for task in ("digits", "mnist1d"):
        for arch in ("mlp", "cnn"):
            device = measure(pm, task, arch, args.steps, args.repeats, data_path="device")
            loader = measure(pm, task, arch, args.steps, args.repeats, data_path="memory")
            ratio = device["samples_per_s"] / loader["samples_per_s"]
            print(
                f"{task + ' / ' + arch:<16}{device['samples_per_s']:>12,.0f}"
                f"{loader['samples_per_s']:>12,.0f}{ratio:>8.2f}"
            )

    print("\ndigits-png / mlp: the profile's advice, followed")
    default = measure(pm, "digits-png", "mlp", args.steps, args.repeats)
    profile = default["loader"]
    print(
        f"  default ({profile['data_path']}, {profile['workers']} workers): "
        f"{default['samples_per_s']:,.0f} samples/s, {profile['verdict']}"
    )
    print(f"  recommendation: {profile['recommendation']}")
    for setting in (
        {"data_path": "disk", "workers": 1},
        {"data_path": "disk", "workers": 2},
        {"data_path": "memory"},
        {"data_path": "device"},
    ):
        followed = measure(pm, "digits-png", "mlp", args.steps, args.repeats, **setting)
        speedup = followed["samples_per_s"] / default["samples_per_s"]
        print(
            f"  {setting}: {followed['samples_per_s']:,.0f} samples/s, "
            f"{followed['loader']['verdict']}, speed-up {speedup:.2f}x"
        )


if __name__ == "__main__":
    main()
