"""Where a run's training time went: waiting for data, or computing.

The loop times every ``next(batch)`` on the host (data wait); the rest of the training clock is
compute. After training, off the clock, the loader is probed alone for a moment. From those
follow the throughput each side could sustain by itself, and the verdict: a run that spends a
large share of its time waiting for data is input-bound, and a faster model will not make it
faster. The recommendation names the setting to change.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

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
    ) -> LoaderProfile:
        """Profile from the loop's sums (data wait is part of ``train_seconds``) and the
        loader-alone probe; without a probe, the loader rate is samples over data wait."""
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
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class SweepRow:
    """One loader setting of a sweep and what a short training run measured with it."""

    setting: str
    data_path: str
    workers: int
    pin_memory: bool
    train_samples_per_s: float | None
    loader_samples_per_s: float | None
    compute_samples_per_s: float | None
    data_wait_fraction: float
    verdict: str
    prepare_seconds: float
    status: str
    repeats: int = 1
    train_spread: float | None = None
    """(max - min) / median of training samples/s over the repeats: the noise of the row."""
    busy: bool = False
    """Other processes kept the machine busy during some repeat."""


def loader_settings(on_disk: bool, max_workers: int, cuda: bool) -> list[dict[str, Any]]:
    """The settings a sweep tries: device-resident, in memory through a DataLoader, and (for
    tasks that read from disk) per-sample decoding with 0..``max_workers`` workers; with and
    without pinned memory on a GPU."""
    pins = (False, True) if cuda else (False,)
    settings: list[dict[str, Any]] = [{"data_path": "device", "workers": 0, "pin_memory": False}]
    settings += [{"data_path": "memory", "workers": 0, "pin_memory": p} for p in pins]
    if on_disk:
        settings += [
            {"data_path": "disk", "workers": w, "pin_memory": p}
            for w in range(max_workers + 1)
            for p in pins
        ]
    return settings


def describe(setting: dict[str, Any]) -> str:
    """``disk, 2 workers, pinned``."""
    text = setting["data_path"]
    if setting["data_path"] != "device":
        text += f", {setting['workers']} worker{'s' if setting['workers'] != 1 else ''}"
    return text + (", pinned" if setting["pin_memory"] else "")


def sweep_row(setting: dict[str, Any], results: list[Any]) -> SweepRow:
    """A sweep row from the repeated runs of one setting: the median of each rate, and the
    spread of the training rate, so one lucky or unlucky run cannot name the winner."""

    def median(values: list[Any]) -> float | None:
        values = [v for v in values if v is not None]
        return float(statistics.median(values)) if values else None

    ok = [r for r in results if r.status == "ok"]
    loaders = [r.loader or {} for r in ok]
    rates = [r.samples_per_s for r in ok if r.samples_per_s]
    middle = median(rates)
    spread = (max(rates) - min(rates)) / middle if len(rates) > 1 and middle else None
    wait = median([loader.get("data_wait_fraction") for loader in loaders])
    return SweepRow(
        setting=describe(setting),
        data_path=setting["data_path"],
        workers=setting["workers"],
        pin_memory=setting["pin_memory"],
        train_samples_per_s=middle,
        loader_samples_per_s=median([loader.get("loader_samples_per_s") for loader in loaders]),
        compute_samples_per_s=median([loader.get("compute_samples_per_s") for loader in loaders]),
        data_wait_fraction=wait or 0.0,
        verdict=loaders[0].get("verdict", "ok") if ok else results[0].status,
        prepare_seconds=median([loader.get("prepare_seconds") for loader in loaders]) or 0.0,
        status="ok" if len(ok) == len(results) else results[-1].status,
        repeats=len(results),
        train_spread=spread,
        busy=any((r.machine or {}).get("busy") for r in results),
    )


NOISE_MARGIN = 0.10
"""Training faster than compute alone by more than this share is measurement noise: no loader
makes the model step itself faster."""


NOISY_SPREAD = 0.25


def summarize(rows: list[SweepRow]) -> str:
    """Names the fastest setting and how far it is from the compute-alone rate (the
    device-resident run's samples over compute seconds: what the model sustains when data
    costs nothing)."""
    ok = [r for r in rows if r.status == "ok" and r.train_samples_per_s]
    if not ok:
        return "no setting trained successfully"
    fastest = max(ok, key=lambda r: r.train_samples_per_s)
    reference = next((r for r in ok if r.data_path == "device"), fastest)
    compute = reference.compute_samples_per_s
    text = f"fastest: {fastest.setting} at {fastest.train_samples_per_s:,.0f} samples/s"
    if fastest.train_spread is not None:
        text += f" (median of {fastest.repeats}, spread {fastest.train_spread:.0%})"
    if compute:
        share = fastest.train_samples_per_s / compute
        text += f", {share:.0%} of the compute-alone rate ({compute:,.0f} samples/s)"
        if share > 1 + NOISE_MARGIN:
            text += (
                " - above what compute alone allows, so the rates are noise here: "
                "run again on a quiet machine or with more --steps"
            )
    if (fastest.train_spread or 0) > NOISY_SPREAD:
        text += "; its rate varies a lot between repeats: more --steps give a firmer figure"
    if any(r.busy for r in rows):
        text += "; other processes kept the machine busy during the sweep: rates are not reliable"
    slowest = min(ok, key=lambda r: r.train_samples_per_s)
    if fastest.train_samples_per_s > 1.1 * slowest.train_samples_per_s:
        text += (
            f"; the slowest, {slowest.setting}, trains "
            f"{fastest.train_samples_per_s / slowest.train_samples_per_s:.1f}x slower"
        )
    return text


def plot_sweep(rows: list[SweepRow], title: str, path: Any) -> None:
    """Bars of training and loader-alone samples/s per setting, with the compute-alone rate."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [r.setting for r in rows]
    train = [r.train_samples_per_s or 0 for r in rows]
    loader = [r.loader_samples_per_s or 0 for r in rows]
    fig, ax = plt.subplots(figsize=(8, 0.5 * len(rows) + 1.5))
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], train, height=0.4, label="training (samples/s)")
    ax.barh([y - 0.2 for y in ys], loader, height=0.4, label="loader alone (samples/s)", alpha=0.6)
    compute = next((r.compute_samples_per_s for r in rows if r.data_path == "device"), None)
    if compute:
        ax.axvline(compute, color="black", linestyle="--", label="compute alone")
    ax.set_yticks(list(ys), labels)
    ax.set_xscale("log")
    ax.set_xlabel("samples per second (log scale)")
    ax.set_title(title)
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
