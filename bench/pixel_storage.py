"""What keeping images 8-bit costs and saves: the same runs with the task's images stored as
uint8 and standardised per batch on the device (what the built-in image tasks do), and with
the same inputs standardised up front as float32, beside a hand-written PyTorch loop on the
uint8 data (the harness's overhead on that device).

For each mode: training seconds (fastest | median of the repeats), samples per second, the
share of training time spent waiting for data, the peak device memory of the run, and the
bytes the data itself takes. The two benchbench modes give the same numbers bit for bit
(tests/training/test_loop.py checks it); only time and memory may differ.

Run: ``python bench/pixel_storage.py [--task cifar10 --arch resnet-small --device cuda]``.
``--fake`` writes CIFAR-10-sized files of random pixels in the real format to a temporary
data folder when the real ones are not at hand (accuracy is then meaningless; speed is not).
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

from benchbench.host import numerics

numerics.select(numerics.current())  # before torch loads: CPU runs check the mode they ran in

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from fake_cifar import data_folder  # noqa: E402
from smoke import parse  # noqa: E402

from benchbench import Budget, Split, Splits  # noqa: E402
from benchbench.execution import execute as execute_module  # noqa: E402
from benchbench.execution.execute import execute  # noqa: E402
from benchbench.planning.resolve import build_components, resolve_spec  # noqa: E402
from benchbench.plugins import get_plugin_manager  # noqa: E402


def standardised_up_front(loaded):
    """A ``_load_splits`` that returns float32 inputs decoded once (the old way)."""
    cache = {}

    def load(*args):
        if args not in cache:
            s = loaded(*args)
            f = s.decode
            parts = (Split(f(p.x), p.y) for p in (s.train, s.val, s.test))
            unlabeled = None if s.unlabeled is None else f(s.unlabeled)
            cache[args] = Splits(*parts, unlabeled=unlabeled)
        return cache[args]

    return load


def plain_loop(model, splits, steps, batch_size, lr, device, seed) -> float:
    """A hand-written loop on the same uint8 data on the device, decoded per batch; seconds."""
    x, y = splits.train.x.to(device), splits.train.y.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))
    )
    generator = torch.Generator(device=device).manual_seed(seed)
    per_epoch = len(x) // batch_size
    model.train()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    started = time.perf_counter()
    step = 0
    while step < steps:
        order = torch.randperm(len(x), generator=generator, device=device)
        for i in range(per_epoch):
            if step == steps:
                break
            index = order[i * batch_size : (i + 1) * batch_size]
            loss = F.cross_entropy(model(splits.decode(x[index])), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            step += 1
    sync()
    return time.perf_counter() - started


def _peak_reset(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device) -> float | None:
    return torch.cuda.max_memory_allocated() / 1e6 if device.type == "cuda" else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="cifar10")
    parser.add_argument("--arch", default="resnet-small")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=512)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--fake", action="store_true", help="CIFAR-10-sized random files")
    parser.add_argument(
        "--fake-images", type=int, default=10_000, help="With --fake: images per batch file."
    )
    args = parse(parser, task="digits", arch="mlp", steps=3, batch_size=16, repeats=1)

    data_dir = data_folder(args.fake, args.fake_images)
    device = torch.device(args.device)
    pm = get_plugin_manager()
    spec = resolve_spec(
        pm.registry,
        task=args.task,
        arch=args.arch,
        budget=Budget(steps=args.steps),
        hparams={"batch_size": args.batch_size},
        device=args.device,
        data_dir=data_dir,
    )
    hp = spec.loop_hparams()
    splits = execute_module._load_splits(
        type(build_components(pm.registry, spec).task), "{}", data_dir
    )
    stored = sum(t.numel() * t.element_size() for t in (splits.train.x, splits.val.x))
    loaded = execute_module._load_splits
    as_float = standardised_up_front(loaded)
    execute(spec, pm, data_dir)  # warm-up: data cache, cuDNN autotuning, allocator
    times: dict[str, list[float]] = {"plain": [], "pixels": [], "float32": []}
    rate: dict[str, list[float]] = {k: [] for k in times}
    wait: dict[str, list[float]] = {k: [] for k in times}
    peak: dict[str, float | None] = {}
    for _ in range(args.repeats):
        for mode in ("pixels", "float32"):
            execute_module._load_splits = as_float if mode == "float32" else loaded
            _peak_reset(device)
            result = execute(spec, pm, data_dir)
            execute_module._load_splits = loaded
            assert result.status == "ok", result.error
            times[mode].append(result.train_seconds)
            rate[mode].append(result.samples_per_s)
            wait[mode].append(result.loader["data_wait_fraction"])
            peak[mode] = _peak(device)
        torch.manual_seed(spec.seed)
        model = build_components(pm.registry, spec).arch.build(
            splits.train.x.shape[1:], 10 if args.task == "cifar10" else 100
        )
        _peak_reset(device)
        seconds = plain_loop(
            model.to(device), splits, result.steps, int(hp["batch_size"]), hp["lr"], device, 0
        )
        times["plain"].append(seconds)
        rate["plain"].append(result.steps * int(hp["batch_size"]) / seconds)
        peak["plain"] = _peak(device)

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"{args.task} / {args.arch} on {name}: {args.steps} steps of batch {args.batch_size}, "
        f"{args.repeats} repeats; data as uint8: {stored / 1e6:.0f} MB "
        f"(train + val; float32: {4 * stored / 1e6:.0f} MB)"
    )
    print(f"  {'mode':<34}{'train s (min | median)':>24}{'samples/s':>12}{'wait':>7}{'peak MB':>9}")
    labels = {
        "plain": "hand-written loop, uint8 on device",
        "pixels": "benchbench, uint8 + per-batch",
        "float32": "benchbench, float32 up front",
    }
    for mode, label in labels.items():
        fast, mid = min(times[mode]), statistics.median(times[mode])
        waited = f"{statistics.median(wait[mode]):.0%}" if wait[mode] else "-"
        memory = f"{peak[mode]:.0f}" if peak[mode] is not None else "-"
        print(
            f"  {label:<34}{fast:11.3f} | {mid:8.3f}{statistics.median(rate[mode]):12.0f}"
            f"{waited:>7}{memory:>9}"
        )
    base = statistics.median(times["plain"])
    for mode in ("pixels", "float32"):
        ratio = statistics.median(times[mode]) / base
        print(f"  median ratio {labels[mode]} / hand-written: {ratio:.3f}")


if __name__ == "__main__":
    main()
