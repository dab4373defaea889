"""Where a run's training time went: waiting for data, or computing.

The loop times every ``next(batch)`` on the host (data wait); the rest of the training clock
is compute. From those two sums and the samples seen follow the throughput each side alone
could sustain, and the verdict: a run that spends a large share of its time waiting for data
is input-bound, and a faster model will not make it faster.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

INPUT_BOUND_FRACTION = 0.25
"""Data-wait share above which a run is called input-bound: removing that wait would speed
training up by at least a third (1 / (1 - 0.25))."""


@dataclass(frozen=True)
class LoaderProfile:
    """Data-wait and compute time of one run, their throughputs and a verdict."""

    data_wait_seconds: float
    compute_seconds: float
    data_wait_fraction: float
    loader_samples_per_s: float | None
    compute_samples_per_s: float | None
    verdict: str
    recommendation: str

    @classmethod
    def from_times(
        cls, data_wait_seconds: float, train_seconds: float, samples: int
    ) -> LoaderProfile:
        """Profile from the loop's sums: data wait is part of ``train_seconds``."""
        wait = min(max(data_wait_seconds, 0.0), train_seconds)
        compute = train_seconds - wait
        fraction = wait / train_seconds if train_seconds > 0 else 0.0
        input_bound = fraction > INPUT_BOUND_FRACTION
        share = f"{fraction:.0%} of training time"
        if input_bound:
            recommendation = (
                f"input-bound: waiting for data takes {share}; keep the dataset in memory or on "
                "the device, add DataLoader workers, pin memory and prefetch"
            )
        else:
            recommendation = (
                f"compute-bound: waiting for data takes only {share}; to go faster, speed up "
                "the model step (larger batches, mixed precision, a faster device)"
            )
        return cls(
            data_wait_seconds=wait,
            compute_seconds=compute,
            data_wait_fraction=fraction,
            loader_samples_per_s=samples / wait if wait > 0 else None,
            compute_samples_per_s=samples / compute if compute > 0 else None,
            verdict="input-bound" if input_bound else "compute-bound",
            recommendation=recommendation,
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
