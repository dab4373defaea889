"""Where a run's training time went: waiting for data, or computing.

The loop times every ``next(batch)`` (data wait: :class:`DataWait`, on the host, or on a
CUDA GPU by the GPU's own events); the rest of the training clock is compute. After
training, off the clock, the loader is probed alone for a moment. From those follow the
throughput each side could sustain by itself, and the verdict: a run that spends a large
share of its time waiting for data is input-bound, and a faster model will not make it
faster. The recommendation names the setting to change.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

SETTLE_EVERY = 256
"""Event pairs a CUDA :class:`DataWait` keeps before it reads the finished ones."""


class DataWait:
    """The seconds training steps spent getting their batches.

    On the CPU: host time around each ``draw()``. On a CUDA GPU host time would count the
    wrong thing: the host blocks whenever the GPU's launch queue is full, and a stall the
    queued work hides costs nothing. There two events on the GPU's stream bracket each draw,
    and the wait is the GPU's time between them: the gather and augmentation kernels of a
    device-resident batch, the copy of a loader's batch, and any time the GPU sat idle
    until the host handed the batch over."""

    def __init__(self, device: Any) -> None:
        self.seconds = 0.0
        self.on_gpu = getattr(device, "type", device) == "cuda"
        self.clock = "gpu events" if self.on_gpu else "host"
        self._pending: list[tuple[Any, Any]] = []

    def __call__(self, draw: Callable[[], Any]) -> Any:
        """``draw()``, timed."""
        if not self.on_gpu:
            started = time.perf_counter()
            batch = draw()
            self.seconds += time.perf_counter() - started
            return batch
        import torch

        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        batch = draw()
        end.record()
        self._pending.append((start, end))
        if len(self._pending) >= SETTLE_EVERY:
            self.settle(wait=False)
        return batch

    def settle(self, wait: bool = True) -> float:
        """Add the recorded pairs' times: every one (``wait``: blocks until the GPU got
        there), else those the GPU has passed. Returns the seconds so far."""
        done = 0
        for start, end in self._pending:
            if wait:
                end.synchronize()
            elif not end.query():
                break
            self.seconds += start.elapsed_time(end) / 1000.0
            done += 1
        del self._pending[:done]
        return self.seconds


INPUT_BOUND_FRACTION = 0.25
"""Data-wait share above which a run is called input-bound: removing that wait would speed
training up by at least a third (1 / (1 - 0.25))."""


def measure_loader(
    batches: Iterator[tuple[Any, Any]],
    skip: int = 0,
    max_batches: int = 50,
    max_seconds: float = 0.5,
    sync: Callable[[], None] = lambda: None,
) -> float | None:
    """Samples per second the stream delivers with no training in between.

    ``skip`` batches are drawn untimed first (those a DataLoader prefetched while the loop was
    busy elsewhere); then batches are drawn until ``max_batches`` or ``max_seconds``.
    """
    for _ in range(skip):
        next(batches)
    sync()
    samples, started = 0, time.perf_counter()
    for _ in range(max_batches):
        x, _ = next(batches)
        samples += len(x)
        if time.perf_counter() - started > max_seconds:
            break
    sync()
    elapsed = time.perf_counter() - started
    return samples / elapsed if elapsed > 0 else None


def recommend(input_bound: bool, share: str, path: str, workers: int, device: str) -> str:
    """Plain-words advice for a run's verdict, naming the setting to change."""
    if not input_bound:
        return (
            f"compute-bound: waiting for data takes only {share}; to go faster, speed up the "
            "model step (larger batches, mixed precision, a faster device), not the loader"
        )
    advice = {
        "disk": (
            "decode the data once into memory (--set data_path=memory) or onto the device "
            "(--set data_path=device)"
            + ("" if workers else ", or decode in parallel on spare cores (--set workers=N)")
        ),
        "memory": "keep the data on the device (--set data_path=device)"
        + (", pin host memory (--set pin_memory=true)" if device.startswith("cuda") else ""),
        "device": "the data is on the device already: make the per-batch work (augmentation) "
        "cheaper or batched",
    }[path]
    return f"input-bound: waiting for data takes {share}; {advice}"


@dataclass(frozen=True)
class LoaderProfile:
    """Data-wait and compute time of one run, throughputs, a verdict and what to change."""

    data_path: str
    workers: int
    pin_memory: bool
    prepare_seconds: float
    data_wait_seconds: float
    compute_seconds: float
    data_wait_fraction: float
    loader_samples_per_s: float | None
    compute_samples_per_s: float | None
    verdict: str
    recommendation: str
    wait_clock: str = "host"

    @classmethod
    def from_times(
        cls,
        data_wait_seconds: float,
        train_seconds: float,
        samples: int,
        loader_samples_per_s: float | None = None,
        data_path: str = "device",
        workers: int = 0,
        pin_memory: bool = False,
        prepare_seconds: float = 0.0,
        device: str = "cpu",
        wait_clock: str = "host",
    ) -> LoaderProfile:
        """Profile from the loop's sums (data wait is part of ``train_seconds``; timed by
        ``wait_clock``, see :class:`DataWait`) and the loader-alone probe; without a probe,
        the loader rate is samples over data wait."""
        wait = min(max(data_wait_seconds, 0.0), train_seconds)
        compute = train_seconds - wait
        fraction = wait / train_seconds if train_seconds > 0 else 0.0
        input_bound = fraction > INPUT_BOUND_FRACTION
        if loader_samples_per_s is None and wait > 0:
            loader_samples_per_s = samples / wait
        return cls(
            data_path=data_path,
            workers=workers,
            pin_memory=pin_memory,
            prepare_seconds=prepare_seconds,
            data_wait_seconds=wait,
            compute_seconds=compute,
            data_wait_fraction=fraction,
            loader_samples_per_s=loader_samples_per_s,
            compute_samples_per_s=samples / compute if compute > 0 else None,
            verdict="input-bound" if input_bound else "compute-bound",
            recommendation=recommend(
                input_bound, f"{fraction:.0%} of training time", data_path, workers, device
            ),
            wait_clock=wait_clock,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
