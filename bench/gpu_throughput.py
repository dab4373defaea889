"""Training throughput on the device at hand: benchbench's loop against a hand-written
PyTorch loop on the same network, data, precision and memory format, for each of the loop
settings that change how a run computes (fp32, bf16, bf16 + channels-last, and that compiled),
and device-resident augmented batches against a per-sample DataLoader.

Everything trains the registry's ``resnet-small`` (or ``--arch``) on CIFAR-10-shaped data
held on the device as uint8 and decoded per batch (``--fake`` writes CIFAR-10-sized files of
random pixels when the real ones are not at hand: speed is real, accuracy is not), with the
task's flips and pad-and-crop applied batched on the device, AdamW and a cosine schedule.

1-2. **Per setting**: samples/s of the hand-written loop and of benchbench's training clock
   (``execute`` with regularizer ``augment``), their ratio (goal >= 0.97), benchbench's
   speed-up over its fp32, achieved TFLOP/s and model FLOPs utilisation against
   ``--peak-tflops`` (training FLOPs counted by ``torch.utils.flop_counter`` on one step,
   forward and backward). A compiled run compiles in its first step, on the clock (as
   AlgoPerf counts it); its rate here leaves that step out and its compile seconds are shown.
   **Operators per step**: the ATen operators one training step dispatches (each a kernel
   launch on a GPU), benchbench's loop against the hand-written one, counted over 8 steps:
   a GPU step that waits on the host's launches slows by about this share.
3. **Input pipeline**: augmented batches per second reaching the device from (a) the
   device-resident split with the batched augmentation and (b) a ``DataLoader`` of per-sample
   transforms (torchvision's ``RandomCrop(32, padding=4)``, ``RandomHorizontalFlip``,
   ``ToTensor``, ``Normalize`` where torchvision is installed; the same ops written per sample
   in torch otherwise) with ``--workers`` processes and pinned memory; the ratio (goal >= 10x
   on a GPU).

Run: ``python bench/gpu_throughput.py --fake [--device cuda --steps 200 --batch-size 512]``;
on the CPU the defaults are small (``--steps 20 --batch-size 64``).
"""

from __future__ import annotations

from benchbench.host import numerics

numerics.select(numerics.current())  # before torch loads: CPU runs check the mode they ran in

import argparse  # noqa: E402
import math  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from fake_cifar import data_folder  # noqa: E402
from smoke import parse  # noqa: E402
from torch.utils._python_dispatch import TorchDispatchMode  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402
from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from benchbench import Budget  # noqa: E402
from benchbench.execution import execute as execute_module  # noqa: E402
from benchbench.execution.execute import execute  # noqa: E402
from benchbench.planning.resolve import build_components, resolve_spec  # noqa: E402
from benchbench.plugins import get_plugin_manager  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


class HandLoop:
    """A hand-written training loop: uint8 split on the device, a seeded randperm per epoch,
    decode, the task's augmentation, cross-entropy, AdamW, cosine learning rate."""

    def __init__(self, model, splits, task, batch_size, lr, device, precision, channels_last):
        self.model = model.to(device)
        if channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        self.x = splits.train.x.to(device)
        self.y = splits.train.y.to(device)
        self.decode, self.task = splits.decode, task
        self.batch_size, self.lr, self.device = batch_size, lr, device
        self.precision, self.channels_last = precision, channels_last
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr, weight_decay=0.0)
        self.generator = torch.Generator(device=device).manual_seed(0)

    def _batch(self, index):
        x = self.task.augment(self.decode(self.x[index]), 1.0, self.generator)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x, self.y[index]

    def _step(self, x, y):
        dtype = torch.bfloat16 if self.precision == "bf16" else None
        with torch.autocast(self.device.type, dtype=dtype, enabled=dtype is not None):
            loss = F.cross_entropy(self.model(x), y)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss

    def train(self, steps: int) -> float:
        """Seconds for ``steps`` steps (synchronised at both ends)."""
        per_epoch = len(self.x) // self.batch_size
        self.model.train()
        _sync(self.device)
        started = time.perf_counter()
        done = 0
        while done < steps:
            order = torch.randperm(len(self.x), generator=self.generator, device=self.device)
            for i in range(per_epoch):
                if done == steps:
                    break
                for group in self.optimizer.param_groups:
                    group["lr"] = self.lr * 0.5 * (1 + math.cos(math.pi * done / steps))
                x, y = self._batch(order[i * self.batch_size : (i + 1) * self.batch_size])
                self._step(x, y)
                done += 1
        _sync(self.device)
        return time.perf_counter() - started

    def flops_per_step(self) -> float:
        """Training FLOPs of one step (forward and backward), counted by torch."""
        x, y = self._batch(torch.arange(self.batch_size, device=self.device))
        counter = FlopCounterMode(display=False)
        with counter:
            self._step(x, y)
        return float(counter.get_total_flops())


class OperatorCount(TorchDispatchMode):
    """Counts the ATen operators dispatched while it is active."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.count += 1
        return func(*args, **(kwargs or {}))


def operators_per_step(train, short: int = 4, long: int = 12) -> float:
    """ATen operators per training step of ``train(steps)``: two runs counted, the
    difference over the extra steps (what every run does once drops out)."""
    counts = []
    for steps in (short, long):
        with OperatorCount() as counter:
            train(steps)
        counts.append(counter.count)
    return (counts[1] - counts[0]) / (long - short)


class PerSampleImages(Dataset):
    """CIFAR images served one at a time with per-sample transforms, as a torchvision
    training script does: pad-and-crop, flip, to float, normalise."""

    def __init__(self, images, labels, mean, std) -> None:
        self.images, self.labels = images, labels  # uint8 (N, 3, 32, 32) on the CPU
        try:
            from torchvision import transforms

            self.transform = transforms.Compose(
                [
                    transforms.RandomCrop(32, padding=4),
                    transforms.RandomHorizontalFlip(),
                    transforms.ToTensor(),
                    transforms.Normalize(mean, std),
                ]
            )
            self.as_pil = True
            self.kind = "torchvision transforms"
        except ImportError:  # the same ops per sample, in torch
            self.mean = torch.tensor(mean).view(3, 1, 1)
            self.std = torch.tensor(std).view(3, 1, 1)
            self.as_pil = False
            self.kind = "per-sample torch ops (torchvision not installed)"

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i):
        image = self.images[i]
        if self.as_pil:
            from PIL import Image

            return self.transform(Image.fromarray(image.permute(1, 2, 0).numpy())), self.labels[i]
        padded = F.pad(image, (4, 4, 4, 4))
        top, left = torch.randint(0, 9, (2,)).tolist()
        crop = padded[:, top : top + 32, left : left + 32]
        if torch.rand(()) < 0.5:
            crop = crop.flip(-1)
        return (crop.float() / 255 - self.mean) / self.std, self.labels[i]


def input_rates(splits, task, batch_size, device, workers, seconds=3.0):
    """Augmented batches per second reaching ``device``: device-resident vs DataLoader."""
    x, y = splits.train.x.to(device), splits.train.y.to(device)
    generator = torch.Generator(device=device).manual_seed(0)

    def resident():
        index = torch.randint(0, len(x), (batch_size,), generator=generator, device=device)
        return task.augment(splits.decode(x[index]), 1.0, generator), y[index]

    def timed(draw):
        for _ in range(3):
            draw()
        _sync(device)
        started, n = time.perf_counter(), 0
        while time.perf_counter() - started < seconds:
            batch = draw()
            n += 1
        batch[0].sum().item()
        _sync(device)
        return n * batch_size / (time.perf_counter() - started)

    mean, std = splits.pixels.mean, splits.pixels.std
    dataset = PerSampleImages(splits.train.x, splits.train.y, mean, std)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
        persistent_workers=workers > 0,
        prefetch_factor=4 if workers else None,
    )

    def endless():
        while True:
            yield from loader

    stream = endless()

    def from_loader():
        xb, yb = next(stream)
        return xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)

    return timed(resident), timed(from_loader), dataset.kind


def main() -> None:
    cuda = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet-small")
    parser.add_argument("--device", default="cuda" if cuda else "cpu")
    parser.add_argument("--steps", type=int, default=200 if cuda else 20)
    parser.add_argument("--batch-size", type=int, default=512 if cuda else 64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=8 if cuda else 2)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="bf16 dense peak")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--fake", action="store_true", help="CIFAR-10-sized random files")
    parser.add_argument(
        "--fake-images", type=int, default=10_000, help="With --fake: images per batch file."
    )
    args = parse(
        parser,
        arch="cnn",
        steps=2,
        batch_size=8,
        repeats=1,
        workers=0,
        no_compile=True,
        fake=True,
        fake_images=64,
    )

    data_dir = data_folder(args.fake, args.fake_images)
    device = torch.device(args.device)
    pm = get_plugin_manager()

    def planned(steps=None, **settings):
        """The benchbench run of this benchmark, with loop ``settings`` beside the batch."""
        return resolve_spec(
            pm.registry,
            task="cifar10",
            arch=args.arch,
            regularizer="augment",
            budget=Budget(steps=steps or args.steps),
            hparams={"batch_size": args.batch_size, **settings},
            device=args.device,
            data_dir=data_dir,
        )

    spec = planned()
    hp = spec.loop_hparams()
    parts = build_components(pm.registry, spec)
    task = parts.task
    splits = execute_module._load_splits(type(task), "{}", data_dir)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"cifar10-shaped / {args.arch} on {name} (torch {torch.__version__}, "
        f"{torch.get_num_threads()} CPU threads): {args.steps} steps of batch "
        f"{args.batch_size}, {args.repeats} repeats, medians"
    )

    def hand(precision="fp32", channels_last=False):
        torch.manual_seed(0)
        model = build_components(pm.registry, spec).arch.build(task.input_shape, 10)
        return HandLoop(
            model, splits, task, args.batch_size, hp["lr"], device, precision, channels_last
        )

    settings = [("fp32", False, False), ("bf16", False, False), ("bf16", True, False)]
    if not args.no_compile:
        settings.append(("bf16", True, True))
    print(
        "1-2. benchbench's loop and a hand-written one, per setting "
        "(augmentation on the device; samples/s)"
    )
    print(
        f"   {'setting':<30}{'hand-written':>13}{'benchbench':>12}{'ratio':>7}"
        f"{'vs fp32':>9}{'TFLOP/s':>9}{'MFU':>8}{'compile s':>11}"
    )
    base = None
    for precision, channels_last, compiled in settings:
        ours_spec = planned(
            precision=precision,
            channels_last=channels_last,
            compile="default" if compiled else "none",
        )
        loop = hand(precision, channels_last)
        flops = loop.flops_per_step()
        compile_s = None
        if compiled:  # the model; the optimizer stays eager (its lr changes every step)
            loop.model = torch.compile(loop.model)
        loop.train(3)  # warm-up (and, compiled, compilation)
        ours, theirs = [], []
        execute(ours_spec, pm, data_dir) if not compiled else None  # warm-up: cuDNN, cuBLAS
        for _ in range(1 if compiled else args.repeats):  # each compiled run compiles again
            result = execute(ours_spec, pm, data_dir)
            assert result.status == "ok", result.error
            compile_s = result.machine.get("compile_seconds")
            # the rate once compiled: the first (compiling) step's time taken out
            seconds = result.train_seconds - (compile_s or 0.0)
            ours.append(result.samples_seen / seconds)
            if compiled:  # benchbench's run reset dynamo: the hand-written model compiles again
                loop.train(3)
            theirs.append(args.steps * args.batch_size / loop.train(args.steps))
        mine, hands = statistics.median(ours), statistics.median(theirs)
        base = base or mine
        tflops = flops * mine / args.batch_size / 1e12
        label = precision + (" + channels-last" if channels_last else "")
        label += " + compiled" if compiled else ""
        compiled_text = f"{compile_s:11.1f}" if compile_s is not None else f"{'-':>11}"
        print(
            f"   {label:<30}{hands:13.0f}{mine:12.0f}{mine / hands:7.3f}{mine / base:9.2f}"
            f"{tflops:9.2f}{tflops / args.peak_tflops:8.2%}{compiled_text}"
        )

    warm = hand("bf16")
    warm.train(2)  # AdamW makes its state in the first step: counted steps are all alike
    ops_hand = operators_per_step(warm.train)

    def ours_for(steps):
        assert execute(planned(steps, precision="bf16"), pm, data_dir).status == "ok"

    ops_ours = operators_per_step(ours_for)
    print(
        f"   operators per bf16 step: hand-written {ops_hand:.0f}, benchbench {ops_ours:.0f} "
        f"({ops_ours / ops_hand - 1:+.1%})"
    )

    # 3. input pipeline
    resident, loaded, kind = input_rates(splits, task, args.batch_size, device, args.workers)
    print(f"3. augmented batches reaching the device ({args.workers} loader workers)")
    print(f"   device-resident, batched augmentation {resident:12.0f} samples/s")
    print(f"   DataLoader, {kind}: {loaded:10.0f} samples/s")
    print(f"   ratio {resident / loaded:.1f}x")


if __name__ == "__main__":
    main()
