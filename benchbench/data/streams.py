"""Batch streams: how examples reach the training loop.

Two paths. The device-resident stream keeps a whole split on the device; each epoch is one
seeded ``randperm`` and each batch one index gather, so no per-sample Python runs and nothing
is copied while training: the fast path for every dataset that fits. The loader stream is a
standard ``torch.utils.data.DataLoader`` (worker processes, pinned memory, prefetch) for data
read and decoded from disk per sample, or for in-memory data served that way for comparison.

Which path a run takes is its ``data_path`` setting: ``device``, ``memory`` (decoded once into
host memory, then a DataLoader), ``disk`` (the task's dataset, decoded per sample) or ``auto``
(``device`` for in-memory tasks, ``disk`` for tasks that read from disk).
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler, TensorDataset

from ..tasks import Split

DATA_PATHS = ("auto", "device", "memory", "disk")

Decode = Callable[[Tensor], Tensor]
"""Stored inputs to model inputs, one batch on its device (8-bit pixels standardised:
:meth:`benchbench.Splits.decode`)."""

_WORKER_START = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
"""DataLoader workers are forked where the OS allows: a run executes in a spawned process,
whose default would be to spawn its workers too, re-importing torch in each (seconds)."""


class DeviceStream:
    """Endless shuffled batches of ``(x, y)`` from tensors already on the device.

    The last incomplete batch of an epoch is dropped (every step sees ``batch_size``
    examples), unless the split is smaller than one batch, in which case a batch is the whole
    split. Order depends only on ``generator``, so a seed fixes it. ``decode`` turns each
    gathered batch of stored inputs into model inputs (8-bit pixels stay 8-bit on the device).
    """

    def __init__(
        self,
        x: Tensor,
        y: Tensor,
        batch_size: int,
        generator: torch.Generator,
        decode: Decode | None = None,
    ) -> None:
        if len(x) != len(y) or len(x) == 0:
            raise ValueError(
                f"need equal, non-zero numbers of inputs and labels; got {len(x)}, {len(y)}"
            )
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.x, self.y = x, y
        self.decode = decode
        self.batch_size = min(batch_size, len(x))
        self.generator = generator
        self.steps_per_epoch = len(x) // self.batch_size

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        n, b = len(self.x), self.batch_size
        while True:
            order = torch.randperm(n, generator=self.generator, device=self.generator.device)
            for i in range(self.steps_per_epoch):
                index = order[i * b : (i + 1) * b]
                x = self.x[index]
                yield x if self.decode is None else self.decode(x), self.y[index]

    def close(self) -> None:
        """Nothing to release."""


class LoaderStream:
    """Endless shuffled batches through a ``DataLoader``, moved to ``device``.

    Workers persist across epochs; with pinned memory the copy to the device is asynchronous.
    The shuffle order depends only on ``generator`` (a CPU generator), whatever the workers.
    ``decode`` turns each batch into model inputs once it is on the device.
    """

    def __init__(
        self,
        dataset: Dataset,
        batch_size: int,
        generator: torch.Generator,
        device: torch.device,
        workers: int = 0,
        pin_memory: bool = False,
        prefetch_factor: int = 2,
        decode: Decode | None = None,
    ) -> None:
        if workers < 0:
            raise ValueError(f"workers must be >= 0, got {workers}")
        self.batch_size = min(batch_size, len(dataset))
        self.device, self.workers, self.prefetch_factor = device, workers, prefetch_factor
        self.pin_memory, self.decode = pin_memory, decode
        self.loader = DataLoader(
            dataset,
            batch_size=self.batch_size,
            # the order has a generator of its own: the DataLoader also draws worker seeds
            # from ``generator``, a different number of times with persistent workers
            sampler=RandomSampler(dataset, generator=generator),
            drop_last=True,
            num_workers=workers,
            pin_memory=pin_memory,
            generator=torch.Generator().manual_seed(int(generator.initial_seed()) + 1),
            prefetch_factor=prefetch_factor if workers else None,
            persistent_workers=workers > 0,
            multiprocessing_context=_WORKER_START if workers else None,
        )
        self.steps_per_epoch = len(self.loader)

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        while True:
            for x, y in self.loader:
                x = x.to(self.device, non_blocking=self.pin_memory)
                yield (
                    x if self.decode is None else self.decode(x),
                    y.to(self.device, non_blocking=self.pin_memory),
                )

    def close(self) -> None:
        """Stop the worker processes."""
        self.loader = None


def materialize(data: Split | Dataset, workers: int = 0) -> Split:
    """Decode a whole dataset once into in-memory tensors (a ``Split`` passes through)."""
    if isinstance(data, Split):
        return data
    loader = DataLoader(
        data,
        batch_size=512,
        shuffle=False,
        num_workers=workers,
        multiprocessing_context=_WORKER_START if workers else None,
    )
    xs, ys = zip(*loader, strict=True)
    return Split(torch.cat(xs), torch.cat(ys))


@dataclass
class StreamChoice:
    """The stream a run trains from, the path it took, and the one-time preparation cost."""

    stream: DeviceStream | LoaderStream
    path: str
    workers: int
    pin_memory: bool
    prepare_seconds: float


def make_stream(
    data: Split | Dataset,
    *,
    path: str,
    batch_size: int,
    seed: int,
    device: torch.device,
    workers: int = 0,
    pin_memory: bool | None = None,
    prefetch_factor: int = 2,
    decode: Decode | None = None,
) -> StreamChoice:
    """The training stream for ``data`` on the requested path (see the module docstring).

    ``seed`` fixes the shuffle order. ``pin_memory=None`` pins when the device is a GPU.
    Decoding a disk dataset once for the ``memory`` and ``device`` paths is timed as
    ``prepare_seconds`` (off the training clock). ``decode`` applies to in-memory inputs
    (a disk dataset's examples are model inputs already).
    """
    if path not in DATA_PATHS:
        raise ValueError(f"data_path must be one of {', '.join(DATA_PATHS)}; got {path!r}")
    on_disk = not isinstance(data, Split)
    decode = None if on_disk else decode
    if path == "auto":
        path = "disk" if on_disk else "device"
    if path == "disk" and not on_disk:
        raise ValueError(
            "data_path 'disk' needs a task that reads from disk; this task's data "
            "is in memory already (use 'memory' for the DataLoader path)"
        )
    pin = device.type == "cuda" if pin_memory is None else bool(pin_memory)
    started = time.perf_counter()
    if path != "disk":
        data = materialize(data, workers)
    prepare_seconds = time.perf_counter() - started
    if path == "device":
        generator = torch.Generator(device=device).manual_seed(seed)
        stream = DeviceStream(data.x.to(device), data.y.to(device), batch_size, generator, decode)
        return StreamChoice(stream, path, 0, False, prepare_seconds)
    dataset = TensorDataset(data.x, data.y) if path == "memory" else data
    generator = torch.Generator().manual_seed(seed)  # a DataLoader shuffles on the CPU
    stream = LoaderStream(
        dataset, batch_size, generator, device, workers, pin, prefetch_factor, decode
    )
    return StreamChoice(stream, path, workers, pin, prepare_seconds)


def batches(x: Tensor, batch_size: int) -> Iterator[Tensor]:
    """Consecutive slices of ``x`` for evaluation (no shuffling, nothing dropped)."""
    for start in range(0, len(x), batch_size):
        yield x[start : start + batch_size]
