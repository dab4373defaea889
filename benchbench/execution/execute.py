"""Running one spec: the single entry to training.

:func:`execute` turns a spec (:mod:`.resolve` makes one from names) into a
:class:`~benchbench.RunResult` and never raises for a problem inside the run: missing or damaged
data and plugin exceptions alike become a ``failed`` result with a one-line reason, naming the
component it came from. Where runs are placed (this process, a pool of worker processes) is
:mod:`benchbench.executors`.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
import os
import platform
import random
import time
import traceback
from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import BenchbenchError
from ..host import numerics
from ..host.cpus import CpuWatch
from ..identity import changes
from ..planning.resolve import (
    build_components,
    code_of,
    component_classes,
    data_fingerprint,
    resolve_spec,
)
from ..plugins.manager import PluginManager, get_plugin_manager
from ..plugins.observers import notify
from ..plugins.registry import Registry
from ..spec import KIND_NAMES, RunResult, RunSpec
from ..tasks import Splits, check_splits, default_data_dir
from ..training.loop import RunComponents, train_model


@functools.lru_cache(maxsize=8)
def _load_splits(task_cls: type, hparams_json: str, data_dir: Path) -> Splits:
    """A task's splits, loaded once per process (a suite runs many specs on one task)."""
    return task_cls(**json.loads(hparams_json)).load(data_dir)


def _built(
    registry: Registry, spec: RunSpec, data_dir: Path, score_test: bool
) -> tuple[RunComponents, Splits]:
    """The spec's components and its task's splits: loaded once per process, and checked
    against the task's declaration once per load; the test split only when the run will
    score it (tuning never touches the test split, not even to check it)."""
    parts = build_components(registry, spec)
    task_hparams = json.dumps(parts.task.hparams, sort_keys=True)
    splits = _load_splits(type(parts.task), task_hparams, data_dir)
    done = getattr(splits, "_checked", set())
    if score_test not in done and True not in done:
        check_splits(parts.task, splits, include_test=score_test)
        object.__setattr__(splits, "_checked", done | {score_test})
    return parts, splits


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


def _gpu_facts(device: torch.device) -> dict[str, Any]:
    """The GPU's memory and compute capability, the CUDA version torch was built with, and the
    NVIDIA driver's version where NVML answers (``nvidia-ml-py``; else None)."""
    props = torch.cuda.get_device_properties(device)
    driver = None
    try:
        import pynvml  # noqa: PLC0415 - optional: ships with NVIDIA's Python bindings

        pynvml.nvmlInit()
        driver = pynvml.nvmlSystemGetDriverVersion()
        driver = driver.decode() if isinstance(driver, bytes) else driver
    except Exception:  # noqa: BLE001 - no NVML, no driver version: recorded as unknown
        pass
    return {
        "cuda": torch.version.cuda,
        "gpu_driver": driver,
        "gpu_memory_gb": props.total_memory / 1e9,
        "gpu_capability": f"{props.major}.{props.minor}",
    }


def provenance(pm: PluginManager, device: torch.device) -> dict[str, Any]:
    """What a result was produced with: plugins and versions, torch, Python, the device."""
    device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name()
    gpu = _gpu_facts(device) if device.type == "cuda" else {}
    if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:  # a worker given its own GPU
        gpu["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
    return {
        **gpu,
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
    names = {slot: getattr(spec, slot) for slot in KIND_NAMES}
    try:
        classes = component_classes(registry, names, spec.hparams)
    except BenchbenchError:  # a name no longer registered: nothing of it ran
        classes = []
    modules = {cls.__module__: f"{slot} {cls.name}" for slot, cls in classes}
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
    drawn_from: list[str] = []
    callback_errors: list[BaseException] = []
    if on_eval is not None:
        on_eval = _guarded(on_eval, callback_errors)
    try:
        _check_code(registry, spec)
        _check_data(registry, spec, data_dir)
        unable = numerics.check(spec.numerics)
        if unable:
            raise BenchbenchError(unable)
        parts, splits = _built(registry, spec, data_dir, score_test)
        encoder, source = None, {}
        if parts.task.source is not None and parts.finetune.uses_pretrained:
            encoder, source = source_encoder(spec, parts.task, pm, data_dir)
        watch = CpuWatch().start()
        with _seeded(spec.seed, device) as drawn_from:
            result, _ = train_model(
                spec, parts, splits, device, pm.hook, on_eval, encoder, score_test
            )
        result.machine = {**watch.stop(torch.get_num_threads()), **result.machine}
        result.machine["numerics"] = numerics.observed()
        result.source = source
    except Exception as exc:
        if exc in callback_errors:  # the caller's own exception (e.g. optuna.TrialPruned)
            raise
        result = RunResult.failed(spec, exc, _failing_component(spec, registry, exc))
    result.provenance = provenance(pm, device)
    result.provenance["wall_seconds"] = time.perf_counter() - started
    if drawn_from:
        result.provenance["global_rngs_drawn"] = drawn_from
    notify(pm.hook.benchbench_run_finished, spec=spec, result=copy.deepcopy(result))
    return result


def _check_code(registry: Registry, spec: RunSpec) -> None:
    """Refuse to run a spec planned by other code than this process runs (a plugin upgraded
    or a source file edited since it was planned): its result would carry a false identity."""
    if not spec.code:
        return
    now = code_of(registry, {slot: getattr(spec, slot) for slot in KIND_NAMES}, spec.hparams)
    differ = changes(spec.code, now)
    if differ:
        raise BenchbenchError(
            "the code changed since this run was planned (" + "; ".join(differ) + "); plan again"
        )


def _check_data(registry: Registry, spec: RunSpec, data_dir: Path) -> None:
    """Refuse to run a spec whose task files here differ from those it was planned with
    (edited since, or another machine's copy of a folder that should be shared): its
    result would be stored under the other data's run id."""
    if spec.data is None:
        return
    task_cls = registry.get("task", spec.task)
    if data_fingerprint(task_cls, spec.hparams, data_dir) != spec.data:
        raise BenchbenchError(
            f"the files of task {spec.task} under {data_dir} differ from those this run was "
            "planned with (changed since, or another machine's copy); plan again"
        )


@contextlib.contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[list[str]]:
    """Seed torch's global RNGs (they initialise the model) and NumPy's and Python's (so a
    plugin that draws from them still repeats), and restore all three afterwards, so runs in
    one process do not disturb each other. Yields a list that names, once the body is done,
    the NumPy or Python RNG if anything drew from it: components should draw only from the
    generator the loop hands them, and the conformance checks fail one that does not."""
    devices = [device] if device.type == "cuda" else []
    numpy_state, python_state = np.random.get_state(), random.getstate()
    drawn: list[str] = []
    try:
        with torch.random.fork_rng(devices=devices, device_type=device.type):
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)
            seeded_numpy, seeded_python = np.random.get_state(), random.getstate()
            yield drawn
            if not _same_numpy_state(np.random.get_state(), seeded_numpy):
                drawn.append("numpy")
            if random.getstate() != seeded_python:
                drawn.append("random")
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def _same_numpy_state(a: tuple, b: tuple) -> bool:
    return a[0] == b[0] and bool((a[1] == b[1]).all()) and tuple(a[2:]) == tuple(b[2:])


def source_encoder(
    spec: RunSpec, task: Any, pm: PluginManager, data_dir: Path
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The encoder weights a transfer run starts from, and what producing them cost.

    The source model is the same architecture (same hyperparameters) trained on the task's
    source task with the run's seed, the loop's defaults and the task's ``source_budget``;
    trained once and cached as ``DATA/sources/<run id>.pt``, so every strategy and every
    fine-tuning run shares it, on any node that sees the folder (or trains its own where it
    does not). Its cost is reported apart, never charged to the run."""
    prefix = f"{spec.arch}."
    source_spec = resolve_spec(
        pm.registry,
        task=task.source,
        arch=spec.arch,
        hparams={k: v for k, v in spec.hparams.items() if k.startswith(prefix)},
        seed=spec.seed,
        budget=task.source_budget,
        device=spec.device,
        data_dir=data_dir,
    )
    path = data_dir / "sources" / f"{source_spec.run_id}.pt"
    device = torch.device(spec.device)
    payload = _cached_source(path, device)
    cached = payload is not None
    if payload is not None:
        result = json.loads(payload["result"])
    else:
        parts, splits = _built(pm.registry, source_spec, data_dir, True)
        with _seeded(source_spec.seed, device):
            outcome, model = train_model(source_spec, parts, splits, device)
        if outcome.status != "ok":
            raise RuntimeError(
                f"the source model on {task.source!r} ended {outcome.status}: {outcome.error}"
            )
        result = outcome.to_dict()
        payload = {"encoder": model.encoder.state_dict(), "result": json.dumps(result)}
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{platform.node()}.{os.getpid()}.tmp")  # a shared folder
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


def _cached_source(path: Path, device: torch.device) -> dict[str, Any] | None:
    """The cached source model at ``path``, or None when there is none or it is damaged
    (a damaged one is deleted, so it is trained and written again)."""
    if not path.exists():
        return None
    try:
        payload = torch.load(path, map_location=device, weights_only=True)
        json.loads(payload["result"])["test_accuracy"]  # noqa: B018 (a check)
        if not isinstance(payload["encoder"], dict):
            raise TypeError("no encoder weights")
        return payload
    except Exception:  # truncated, not a torch file, wrong content: rebuild it
        path.unlink(missing_ok=True)
        return None


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
