"""One configuration trained and measured (``benchbench run-one``, :func:`benchbench.run_one`):
in this process, unless torch was loaded here in another numerics mode; then in a fresh
worker process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..arguments import checked
from ..errors import BenchbenchError
from ..paths import DEFAULT_OUT, PathLike, optional_path
from ..plugins.config import check_shippable
from ..spec import RunResult


@checked()
def run_one(
    task: str,
    arch: str,
    *,
    regularizer: str = "none",
    ssl: str = "supervised",
    finetune: str = "full",
    optimizer: str = "adamw",
    seed: int = 0,
    epochs: float | None = None,
    steps: int | None = None,
    seconds: float | None = None,
    eval_every: float = 1.0,
    hparams: Mapping[str, Any] | None = None,
    device: str = "auto",
    threads: int | None = None,
    numerics: str = "portable",
    download: bool = False,
    out: PathLike | None = None,
    storage: str | None = None,
    log: Sequence[str] = (),
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
) -> RunResult:
    """Train one configuration in this process and return what it measured.

    With no ``epochs``, ``steps`` or ``seconds`` the task's own budget applies; given
    several, whichever runs out first ends the run. ``hparams`` sets hyperparameters: the
    loop's by name (``{"lr": 0.01}``), a component's as ``COMPONENT.NAME``
    (``{"mixup.alpha": 0.4}``). ``out`` also stores the result in that folder's results
    database (where :func:`~benchbench.results` reads it), ``storage`` in that database. The
    run uses ``threads`` threads (default: every core this process owns); the process's
    own thread settings are put back afterwards. ``numerics`` is ``portable`` or ``native``
    (:mod:`benchbench.host.numerics`); where torch was loaded in this process before the
    mode could be set (a notebook that imported torch first), the run trains in a fresh
    worker process instead. ``download`` fetches the task's data first when it is missing.
    ``log`` names experiment trackers (``NAME[:TARGET]``, :mod:`benchbench.tracking`) that
    follow the run as it trains.

    :raises ~benchbench.BenchbenchError: an unknown name, a value outside its range, a
        combination that cannot work, missing data. A problem inside the run is its
        result's ``status`` (``failed``, ``diverged``) and ``error``.
    """
    from ..budget import budget_of
    from ..execution.execute import execute
    from ..host.cpus import pinned_threads
    from ..host.devices import resolve_device
    from ..host.numerics import check, select
    from ..planning.data_check import check_data, prepare_data
    from ..planning.declared import check_declared, declare
    from ..planning.resolve import resolve_spec
    from ..plugins.manager import load_plugins
    from ..storage.store import Store, prepare_out, storage_url

    select(numerics)
    declared = declare(task)  # a task declared in a file: --task leaves.toml
    if declared and len(declared) != 1:
        raise BenchbenchError(f"{task} declares {len(declared)} tasks; run-one needs one")
    pm, data_dir = load_plugins(plugins), optional_path(data_dir)
    if declared:
        check_declared(declared, pm, task)
        task = declared[0]
    budget = budget_of(epochs, steps, seconds, eval_every)
    if download:  # before the spec: its id holds the data's fingerprint
        prepare_data([task], pm.registry, data_dir, True)
    store = None  # before training: a bad URL costs no run
    if storage or out is not None:
        store = Store(storage or storage_url(prepare_out(Path(out or DEFAULT_OUT)), None))
    spec = resolve_spec(
        pm.registry,
        task=task,
        arch=arch,
        regularizer=regularizer,
        ssl=ssl,
        finetune=finetune,
        optimizer=optimizer,
        hparams=hparams,
        seed=seed,
        budget=budget,
        device=resolve_device(device),
        data_dir=data_dir,
    )
    unusable = check_data([spec], pm.registry, data_dir)
    if unusable:
        raise BenchbenchError(unusable[spec.run_id].error or "the task's data cannot be loaded")
    from ..tracking import Session, TrackedRun, open_relay
    from .dispatch import describe

    relay = open_relay(log, pm.registry.trackers, Session("run", describe(spec)))
    if relay is not None:
        relay.started(TrackedRun.of(spec))
    fresh = check(spec.numerics) is not None
    try:
        if not fresh:
            with pinned_threads(threads):
                on_eval = relay.forward(spec.run_id) if relay is not None else None
                result = execute(spec, pm, data_dir, on_eval)
        else:
            check_shippable(pm.config.modules)
            result = _in_fresh_process(spec, pm.config, data_dir, threads)
        if store is not None:
            store.save(result)
        if relay is not None:
            for point in result.curve if fresh else []:  # its points came with its result
                relay.forward(spec.run_id)(point)
            relay.finished(result)
    finally:
        if relay is not None:
            relay.close()
    return result


def _in_fresh_process(
    spec: Any, config: Any, data_dir: Path | None, threads: int | None
) -> RunResult:
    """``spec`` trained in a new worker process, which loads torch with the numerics mode's
    settings (this one loaded it before they could be set)."""
    from ..executors.local import ProcessPoolExecutor
    from ..host.cpus import thread_share

    pool = ProcessPoolExecutor(config, data_dir, 1, None, thread_share(1, threads))
    try:
        return next(pool.run([spec]))
    finally:
        pool.stop()
