"""Running specs: the single entry to training, and the executors that isolate runs.

:func:`execute` turns a :class:`RunSpec` into a :class:`RunResult` and never raises for a
problem inside a plugin: an exception becomes a ``failed`` result naming the component it came
from. Executors run many specs: :class:`InProcessExecutor` for tests and debugging,
:class:`ProcessPoolExecutor` by default, where a run that crashes its process or runs over
its time limit costs that run only.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import as_completed
from concurrent.futures.process import BrokenProcessPool
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import torch

from .budget import Budget
from .components import RegularizerChain
from .errors import BenchbenchError, unknown_name
from .plugins import PluginConfig, PluginManager, Registry, get_plugin_manager
from .spec import RunResult, RunSpec
from .tasks import Splits, default_data_dir
from .train import LOOP_DEFAULTS, RunComponents, train_model

_SLOTS = ("task", "arch", "regularizer", "ssl", "finetune")


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible, else ``cpu``; others are checked."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchbenchError(f"device {device!r} was asked for but no CUDA GPU is visible")
    if device != "cpu" and not device.startswith("cuda"):
        raise BenchbenchError(f"device must be auto, cpu or cuda[:N], got {device!r}")
    return device


def resolve_spec(
    registry: Registry,
    *,
    task: str,
    arch: str,
    regularizer: str = "none",
    ssl: str = "supervised",
    finetune: str = "full",
    hparams: Mapping[str, Any] | None = None,
    seed: int = 0,
    budget: Budget | None = None,
    device: str = "cpu",
) -> RunSpec:
    """A spec with every hyperparameter resolved: loop defaults, then the task's preferences,
    then each component's defaults, then ``hparams`` (``lr``, ``<component>.<name>``).

    Unknown component or hyperparameter names raise :class:`BenchbenchError`.
    """
    names = dict(task=task, arch=arch, regularizer=regularizer, ssl=ssl, finetune=finetune)
    classes = [
        (slot, registry.get(slot, n)) for slot, name in names.items() for n in _members(slot, name)
    ]
    task_cls = registry.get("task", task)
    resolved: dict[str, Any] = {**LOOP_DEFAULTS, **task_cls.trainer_defaults}
    for _, cls in classes:
        resolved.update({f"{cls.name}.{k}": v for k, v in cls.defaults.items()})
    for key, value in (hparams or {}).items():
        if key not in resolved:
            raise unknown_name("hyperparameter", key, resolved)
        resolved[key] = value
    return RunSpec(
        **names,
        hparams=resolved,
        seed=seed,
        budget=budget or task_cls.budget,
        device=resolve_device(device),
    )


def _members(slot: str, name: str) -> list[str]:
    """The component names in a slot: regularizers compose as ``augment+mixup``."""
    if slot != "regularizer" or "+" not in name:
        return [name]
    members = name.split("+")
    if len(set(members)) != len(members) or not all(members):
        raise BenchbenchError(f"regularizer {name!r}: name each regularizer once, joined by '+'")
    return members


def build_components(registry: Registry, spec: RunSpec) -> RunComponents:
    """Instantiate the spec's components from its hyperparameters."""
    built = {}
    for slot in _SLOTS:
        members = [
            registry.build(slot, n, spec.component_hparams(n))
            for n in _members(slot, getattr(spec, slot))
        ]
        built[slot] = members[0] if len(members) == 1 else RegularizerChain(members)
    return RunComponents(**built)


@functools.lru_cache(maxsize=8)
def _load_splits(task_cls: type, hparams_json: str, data_dir: Path) -> Splits:
    """A task's splits, loaded once per process (a suite runs many specs on one task)."""
    return task_cls(**json.loads(hparams_json)).load(data_dir)


def _package_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _cpu_name() -> str:
    """The CPU's model name where Linux tells it, else the machine type."""
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(pm: PluginManager, device: torch.device) -> dict[str, Any]:
    """What a result was produced with: plugins and versions, torch, Python, the device."""
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    return {
        "benchbench": _package_version("benchbench"),
        "plugins": pm.active_plugins(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": str(device),
        "device_name": device_name,
        "torch_threads": torch.get_num_threads(),
        "host": platform.node(),
    }


def _failing_component(spec: RunSpec, registry: Registry, exc: BaseException) -> str | None:
    """The deepest traceback frame inside one of the run's component modules, as
    ``"<kind> <name>"``, so a failure names the plugin that raised."""
    modules = {}
    for slot in _SLOTS:
        for name in _members(slot, getattr(spec, slot)):
            entry = registry.entries[slot].get(name)
            if entry is not None:
                modules[entry.cls.__module__] = f"{slot} {entry.name}"
    found = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        found = modules.get(frame.f_globals.get("__name__"), found)
    return found


def execute(
    spec: RunSpec,
    pm: PluginManager | None = None,
    data_dir: Path | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    score_test: bool = True,
) -> RunResult:
    """Run one spec and return its result; exceptions inside the run become ``failed``.
    ``score_test=False`` (tuning) leaves the test split unread: no test accuracy.

    The global RNGs are seeded from the spec (they initialise the model) and restored
    afterwards, so runs in one process do not disturb each other.
    """
    pm = pm or get_plugin_manager()
    registry = pm.registry
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    device = torch.device(spec.device)
    started = time.perf_counter()
    callback_errors: list[BaseException] = []
    if on_eval is not None:
        on_eval = _guarded(on_eval, callback_errors)
    try:
        parts = build_components(registry, spec)
        task_hparams = json.dumps(parts.task.hparams, sort_keys=True)
        splits = _load_splits(type(parts.task), task_hparams, data_dir)
        encoder, source = None, {}
        if parts.task.source is not None and parts.finetune.uses_pretrained:
            encoder, source = source_encoder(spec, parts.task, pm, data_dir)
        with _seeded(spec.seed, device):
            result, _ = train_model(
                spec, parts, splits, device, pm.hook, on_eval, encoder, score_test
            )
        result.source = source
    except BenchbenchError:
        raise
    except Exception as exc:
        if exc in callback_errors:  # the caller's own exception (e.g. optuna.TrialPruned)
            raise
        result = RunResult.for_spec(
            spec,
            "failed",
            error=f"{type(exc).__name__}: {exc}",
            error_component=_failing_component(spec, registry, exc),
        )
    result.provenance = provenance(pm, device)
    result.provenance["wall_seconds"] = time.perf_counter() - started
    pm.hook.benchbench_run_finished(spec=spec, result=result)
    return result


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed the global RNGs (they initialise the model) and restore them afterwards, so runs
    in one process do not disturb each other."""
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type=device.type):
        torch.manual_seed(seed)
        yield


def source_encoder(
    spec: RunSpec, task: Any, pm: PluginManager, data_dir: Path
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The encoder weights a transfer run starts from, and what producing them cost.

    The source model is the same architecture (same hyperparameters) trained on the task's
    source task with the run's seed, the loop's defaults and the task's ``source_budget``;
    trained once and cached as ``DATA/sources/<run id>.pt``, so every strategy and every
    fine-tuning run shares it. Its cost is reported apart, never charged to the run."""
    prefix = f"{spec.arch}."
    source_spec = resolve_spec(
        pm.registry,
        task=task.source,
        arch=spec.arch,
        hparams={k: v for k, v in spec.hparams.items() if k.startswith(prefix)},
        seed=spec.seed,
        budget=task.source_budget,
        device=spec.device,
    )
    path = data_dir / "sources" / f"{source_spec.run_id}.pt"
    device = torch.device(spec.device)
    cached = path.exists()
    if cached:
        payload = torch.load(path, map_location=device, weights_only=True)
        result = json.loads(payload["result"])
    else:
        parts = build_components(pm.registry, source_spec)
        task_hparams = json.dumps(parts.task.hparams, sort_keys=True)
        splits = _load_splits(type(parts.task), task_hparams, data_dir)
        with _seeded(source_spec.seed, device):
            outcome, model = train_model(source_spec, parts, splits, device)
        if outcome.status != "ok":
            raise RuntimeError(
                f"the source model on {task.source!r} ended {outcome.status}: {outcome.error}"
            )
        result = outcome.to_dict()
        payload = {"encoder": model.encoder.state_dict(), "result": json.dumps(result)}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        torch.save(payload, partial)
        os.replace(partial, path)
    info = {
        "task": task.source,
        "run_id": source_spec.run_id,
        "test_accuracy": result["test_accuracy"],
        "train_seconds": result["train_seconds"],
        "cached": cached,
    }
    return payload["encoder"], info


def _guarded(
    on_eval: Callable[[dict[str, Any]], None], raised: list[BaseException]
) -> Callable[[dict[str, Any]], None]:
    def call(point: dict[str, Any]) -> None:
        try:
            on_eval(point)
        except BaseException as exc:
            raised.append(exc)
            raise

    return call


class InProcessExecutor:
    """Runs specs one after another in this process: simplest, for tests and debugging."""

    def __init__(self, pm: PluginManager, data_dir: Path | None = None) -> None:
        self.pm, self.data_dir = pm, data_dir

    def run(self, specs: Iterable[RunSpec]) -> Iterator[RunResult]:
        for spec in specs:
            yield execute(spec, self.pm, self.data_dir)


@functools.lru_cache(maxsize=1)
def _worker_manager(config: PluginConfig) -> PluginManager:
    return get_plugin_manager(config)


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)


def _worker_execute(spec: RunSpec, config: PluginConfig, data_dir: Path | None) -> RunResult:
    return execute(spec, _worker_manager(config), data_dir)


class ProcessPoolExecutor:
    """Runs specs in worker processes (spawned, reused); a run that crashes its worker or runs
    past ``timeout`` seconds is recorded as ``failed`` / ``timed-out`` and the pool goes on.

    Workers split the machine's cores between them, so ``workers=1`` (the default) gives each
    run every core and timings that are comparable across runs.
    """

    def __init__(
        self,
        config: PluginConfig,
        data_dir: Path | None = None,
        workers: int = 1,
        timeout: float | None = None,
    ) -> None:
        self.config, self.data_dir = config, data_dir
        self.workers = max(1, workers)
        self.timeout = timeout

    def run(self, specs: Iterable[RunSpec]) -> Iterator[RunResult]:
        import multiprocessing

        from pebble import ProcessPool

        specs = list(specs)
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        context = multiprocessing.get_context("spawn")
        with ProcessPool(
            max_workers=self.workers,
            context=context,
            initializer=_worker_init,
            initargs=(threads,),
        ) as pool:
            futures = {
                pool.schedule(
                    _worker_execute,
                    args=(spec, self.config, self.data_dir),
                    timeout=self.timeout,
                ): spec
                for spec in specs
            }
            for future in as_completed(futures):
                yield self._collect(future, futures[future])

    def _collect(self, future: Any, spec: RunSpec) -> RunResult:
        from pebble import ProcessExpired

        try:
            return future.result()
        except FutureTimeout:
            return RunResult.for_spec(
                spec, "timed-out", error=f"TimeoutError: run exceeded {self.timeout:.0f} s"
            )
        except BrokenProcessPool as exc:
            raise BenchbenchError(
                f"the worker processes could not start ({exc}); run from a script file or the "
                "benchbench command"
            ) from exc
        except ProcessExpired as exc:
            return RunResult.for_spec(
                spec, "failed", error=f"ProcessExpired: worker died (exit code {exc.exitcode})"
            )
