"""``benchbench profile TASK``: loader settings swept, each trained for a few steps, to show
where a task's training time goes and which setting is fastest.

Each setting (device-resident; in memory through a DataLoader; decoded from disk with 0..N
workers; pinned memory on a GPU) trains the architecture for a few steps, after one warm-up
run, ``repeats`` times in turn, so a slow spell of the machine hits every setting; a row
gives the median rates and the spread of the training rate over the repeats.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..arguments import checked, whole
from ..budget import Budget
from ..errors import BenchbenchError
from ..paths import DEFAULT_OUT, PathLike, file_name, optional_path
from ..phrasing import option
from ..progress import Console


@dataclass
class ProfileOutcome:
    """A sweep's rows, the sentence that sums it up, and the plot written; in a notebook,
    the summary and the table."""

    task: str
    """The task profiled."""
    arch: str
    """The model trained in each setting."""
    device: str
    """Where it trained."""
    rows: list[SweepRow]
    """One row per loader setting, in the order tried."""
    summary: str
    """The fastest setting and where the time goes, in a sentence."""
    plot: Path
    """The plot written (``OUT/profiles/TASK.png``)."""

    def __repr__(self) -> str:
        return f"ProfileOutcome({self.task}/{self.arch} on {self.device}: {self.summary})"

    def _repr_html_(self) -> str:
        """A notebook's view: the summary and one row per setting."""
        import html
        from dataclasses import asdict

        import pandas as pd

        table = pd.DataFrame([asdict(r) for r in self.rows]).to_html(index=False)
        return f"<p>{html.escape(self.summary)}</p>{table}"


@checked(renamed={"max_workers": "loader_workers"}, steps=whole(5))
def profile(
    task: str,
    *,
    arch: str = "mlp",
    steps: int = 100,
    repeats: int = 3,
    loader_workers: int | None = None,
    device: str = "auto",
    threads: int | None = None,
    numerics: str = "portable",
    out: PathLike = DEFAULT_OUT,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> ProfileOutcome:
    """Sweep the loader settings of ``task``: where its training time goes, and the fastest
    setting. Each setting (device-resident; in memory through a DataLoader; decoded from
    disk with 0 to ``loader_workers`` DataLoader workers, default the CPU count; pinned
    memory on a GPU)
    trains ``arch`` for ``steps`` steps, ``repeats`` times in turn after one warm-up run.
    ``max_workers``, the old name of ``loader_workers``, is still taken (with a
    ``FutureWarning``). The rows give median rates, their spread, the data-wait share and
    the verdict; a plot
    goes to ``OUT/profiles/TASK.png``. ``numerics``: as for :func:`~benchbench.run`; it must
    be the mode torch was loaded with in this process (the sweep trains here)."""
    from ..execution.execute import execute
    from ..host.cpus import pinned_threads
    from ..host.devices import resolve_device
    from ..host.numerics import check, select
    from ..paths import default_data_dir
    from ..planning.resolve import resolve_spec
    from ..plugins.manager import load_plugins
    from ..storage.store import prepare_out
    from ..tasks import Split

    select(numerics)
    pm, console = load_plugins(plugins), Console(progress)
    out, data_dir = Path(out), optional_path(data_dir)
    device = resolve_device(device)
    task_cls = pm.registry.get("task", task)
    on_disk = not isinstance(task_cls().load(data_dir or default_data_dir()).train, Split)
    workers = (os.cpu_count() or 1) if loader_workers is None else loader_workers
    budget = Budget(steps=steps, eval_every=1e9)
    settings = loader_settings(on_disk, workers, device.startswith("cuda"))
    specs = [
        resolve_spec(pm.registry, task=task, arch=arch, hparams=s, budget=budget, device=device)
        for s in settings
    ]
    unable = check(specs[0].numerics)
    if unable:
        raise BenchbenchError(unable.replace("start a new process", "profile in a new process"))
    folder = prepare_out(Path(out) / "profiles")  # before the sweep, not after it
    runs: list[list[Any]] = [[] for _ in specs]
    with pinned_threads(threads), console.bar(repeats * len(specs), "run", leave=False) as bar:
        execute(specs[0], pm, data_dir)  # warm-up: first-call costs are nobody's rate
        for _ in range(repeats):  # in turn, so a slow spell of the machine hits every setting
            for i, spec in enumerate(specs):
                runs[i].append(execute(spec, pm, data_dir))
                bar.update()
    rows = [sweep_row(s, results) for s, results in zip(settings, runs, strict=True)]
    plot = folder / f"{file_name(task)}.png"
    plot_sweep(rows, f"{task} / {arch} on {device}", plot)
    return ProfileOutcome(task, arch, device, rows, summarize(rows), plot)


@dataclass(frozen=True)
class SweepRow:
    """One loader setting of a sweep and what a short training run measured with it."""

    setting: str
    """The setting's name (``device``, ``memory``, ``disk, 2 workers``...)."""
    data_path: str
    """Where batches come from: ``device``, ``memory`` or ``disk``."""
    workers: int
    """DataLoader workers."""
    pin_memory: bool
    """Whether host memory was pinned (CUDA)."""
    train_samples_per_s: float | None
    """Median training throughput over the repeats."""
    loader_samples_per_s: float | None
    """Median throughput of the loader alone (nothing trained)."""
    compute_samples_per_s: float | None
    """Throughput of the model step alone (data already on the device)."""
    data_wait_fraction: float
    """Share of training time spent waiting for batches."""
    verdict: str
    """``input-bound`` or ``compute-bound``."""
    prepare_seconds: float
    """Seconds spent preparing the data for the setting (decoding into memory...)."""
    status: str
    """How its runs ended (``ok``, or why not)."""
    repeats: int = 1
    """Runs behind the medians."""
    train_spread: float | None = None
    """The noise of the row: the spread of training samples/s over the repeats, (max - min)
    over the median."""
    busy: bool = False
    """Other processes kept the machine busy during some repeat."""


def loader_settings(on_disk: bool, max_workers: int, cuda: bool) -> list[dict[str, Any]]:
    """The settings a sweep tries: device-resident, in memory through a DataLoader, and (for
    tasks that read from disk) per-sample decoding with 0 to ``max_workers`` workers; with and
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
                f"run again on a quiet machine or with more {option('steps')}"
            )
    if (fastest.train_spread or 0) > NOISY_SPREAD:
        text += (
            "; its rate varies a lot between repeats: more {option('steps')} give a firmer figure"
        )
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
