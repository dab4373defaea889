"""benchbench's airbench recipe against the ``airbench`` package's own ``train94``, on the same
fake CIFAR-10 tensors on the same device: seconds per epoch and samples per second.

benchbench's side is the ``cifar10-speed`` suite's baseline as it stands (the ``airbench``
network, Lookahead over Muon with Nesterov SGD for the rest, label smoothing, the task's
flips and translations, test-time augmentation, the suite's precision and memory format),
trained by ``execute`` on CIFAR-10-sized files of random pixels (``fake_cifar.py``: speed is
real, accuracy is not); its figures are the run's training clock (evaluation and the
whitening set-up off it). airbench's side is ``airbench.train94`` on the same pixels, timed
around the call (its whitening set-up and the final test-time evaluation included, its
per-epoch evaluation off): it needs a CUDA GPU (its network is built with
``.half().cuda()``) and ``pip install airbench torchvision``; elsewhere the script says so and
measures benchbench's side alone. Goal on a GPU: benchbench within 1.1x of airbench's step
time.

Run: ``python bench/airbench_compare.py [--device cuda --epochs 10 --per-batch 10000]``.
"""

from __future__ import annotations

from benchbench.host import numerics

numerics.select(numerics.current())  # before torch loads: CPU runs check the mode they ran in

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import importlib.util  # noqa: E402
import os  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from fake_cifar import data_folder  # noqa: E402
from smoke import parse  # noqa: E402

from benchbench import Budget  # noqa: E402
from benchbench.execution.execute import execute  # noqa: E402
from benchbench.host.devices import resolve_device  # noqa: E402
from benchbench.planning.suite import load_suite, target  # noqa: E402
from benchbench.plugins import get_plugin_manager  # noqa: E402

SMOKE_WIDTHS = {"airbench.block1": 8, "airbench.block2": 16, "airbench.block3": 16}


def benchbench_side(args: argparse.Namespace, folder: Path, device: str) -> dict[str, float]:
    """The suite's baseline recipe, trained by benchbench for ``args.epochs`` epochs."""
    pm = get_plugin_manager()
    suite = load_suite("cifar10-speed", pm.registry)
    track = suite.tracks[0]
    baseline = next(c for c in track.candidates if c.name == track.baseline)
    recipe = target(track, "cifar10", baseline, pm.registry, device, Budget(epochs=args.epochs))
    fixed = dict(recipe.fixed, batch_size=args.batch_size)
    if device == "cpu":  # bf16 autocast on a CPU measures nothing a GPU user needs
        fixed.update(precision="fp32", channels_last=False)
    if args.smoke:
        fixed.update(SMOKE_WIDTHS, **{"airbench.whiten_sample": 256})
    spec = dataclasses.replace(recipe, fixed=fixed).spec(pm, {}, 0, folder)
    result = execute(spec, pm, folder)
    if result.status != "ok":
        raise SystemExit(f"benchbench's run ended {result.status}: {result.error}")
    return {
        "seconds_per_epoch": result.train_seconds / result.epochs,
        "samples_per_s": result.samples_seen / result.train_seconds,
        "test_accuracy": result.test_accuracy,
    }


def airbench_side(args: argparse.Namespace, folder: Path, device: str) -> dict[str, float] | str:
    """``airbench.train94`` on the same pixels, or why it cannot run here."""
    if not device.startswith("cuda"):
        return "needs a CUDA GPU (airbench builds its network with .half().cuda())"
    if (
        importlib.util.find_spec("airbench") is None
        or importlib.util.find_spec("torchvision") is None
    ):
        return "not installed: pip install airbench torchvision"
    import pickle

    import airbench

    work = Path(tempfile.mkdtemp())
    (work / "cifar10").mkdir()
    source = folder / "cifar-10-batches-py"
    for name, files in (
        ("train", [f"data_batch_{i}" for i in range(1, 6)]),
        ("test", ["test_batch"]),
    ):
        parts = [pickle.loads((source / f).read_bytes(), encoding="bytes") for f in files]
        images = torch.cat([torch.from_numpy(p[b"data"]).view(-1, 3, 32, 32) for p in parts])
        labels = torch.cat([torch.tensor(p[b"labels"]) for p in parts])
        torch.save(
            {"images": images.permute(0, 2, 3, 1).contiguous(), "labels": labels,
             "classes": [str(i) for i in range(10)]},
            work / "cifar10" / f"{name}.pt",
        )  # fmt: skip
    os.chdir(work)
    loader = airbench.CifarLoader(
        "cifar10", train=True, batch_size=args.batch_size, aug={"flip": True, "translate": 2},
        altflip=True,
    )  # fmt: skip
    airbench.train94(train_loader=loader, epochs=1, verbose=False)  # compile and cache warm-up
    torch.cuda.synchronize()
    started = time.perf_counter()
    airbench.train94(train_loader=loader, epochs=args.epochs, verbose=False)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - started
    return {
        "seconds_per_epoch": seconds / args.epochs,
        "samples_per_s": len(loader.images) * args.epochs / seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--epochs", type=float, default=10)
    parser.add_argument("--per-batch", type=int, default=10_000, help="images per CIFAR batch file")
    parser.add_argument("--batch-size", type=int, default=1024)
    args = parse(parser, epochs=1, per_batch=64, batch_size=32)
    device = resolve_device(args.device)
    folder = data_folder(fake=True, per_batch=args.per_batch)
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else "CPU"
    print(f"fake CIFAR-10: {5 * args.per_batch} training images, {args.epochs:g} epochs, "
          f"batch {args.batch_size}, on {name}")  # fmt: skip
    mine = benchbench_side(args, folder, device)
    theirs = airbench_side(args, folder, device)
    print(f"{'':<22}{'s/epoch':>10}{'samples/s':>12}")
    rate = mine["samples_per_s"]
    print(f"{'benchbench recipe':<22}{mine['seconds_per_epoch']:>10.3f}{rate:>12,.0f}")
    if isinstance(theirs, str):
        print(f"{'airbench train94':<22}  {theirs}")
        return
    print(f"{'airbench train94':<22}{theirs['seconds_per_epoch']:>10.3f}"
          f"{theirs['samples_per_s']:>12,.0f}")  # fmt: skip
    ratio = mine["seconds_per_epoch"] / theirs["seconds_per_epoch"]
    print(f"benchbench / airbench step time: {ratio:.2f}x (goal <= 1.10x)")


if __name__ == "__main__":
    main()
