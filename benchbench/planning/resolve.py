"""From names to a run: a :class:`~benchbench.RunSpec` resolved from component names and
hyperparameters (every default filled in, every value and combination checked, the data
fingerprinted and the code identified), and the components a spec names, built.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..budget import Budget
from ..components import RegularizerChain
from ..data.fingerprint import fingerprint
from ..errors import BenchbenchError
from ..host import numerics
from ..host.devices import resolve_device
from ..identity import run_code
from ..plugins.registry import Registry
from ..spec import KIND_NAMES, RunSpec
from ..tasks import default_data_dir
from ..training.loop import RunComponents
from ..training.settings import LOOP_DEFAULTS, LOOP_PARAMS, setting_problem
from .checks import check_values, combination_problems, input_mismatch, unknown_hparam, warn


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
    data_dir: Path | None = None,
) -> RunSpec:
    """A spec with every hyperparameter resolved: loop defaults, then the task's preferences,
    then each component's defaults, then ``hparams`` (``lr``, ``<component>.<name>``); and, for a
    task that reads files, the fingerprint of those under ``data_dir`` (default:
    :func:`~benchbench.paths.default_data_dir`); the numerics mode this process chose
    (:func:`benchbench.host.numerics.current`). ``device`` ``auto`` is resolved here; a ``cuda``
    one is not checked against this machine, which may only plan runs that train elsewhere.

    Unknown component or hyperparameter names raise :class:`~benchbench.BenchbenchError`.
    """
    names = dict(task=task, arch=arch, regularizer=regularizer, ssl=ssl, finetune=finetune)
    classes = _classes(registry, names)
    task_cls = registry.get("task", task)
    resolved: dict[str, Any] = {**LOOP_DEFAULTS, **task_cls.trainer_defaults}
    for _, cls in classes:
        resolved.update({f"{cls.name}.{k}": v for k, v in cls.defaults.items()})
    for key, value in (hparams or {}).items():
        if key not in resolved:
            raise unknown_hparam(key, resolved, registry)
        resolved[key] = value
    check_values(resolved, LOOP_PARAMS, {cls.name: cls for _, cls in classes})
    device = resolve_device(device, here=False)
    problem = setting_problem(resolved, device, task_cls.modality)
    if problem:
        raise BenchbenchError(problem)
    warn(_combination(classes))
    return RunSpec(
        **names,
        hparams=resolved,
        seed=seed,
        budget=budget or task_cls.budget,
        device=device,
        data=data_fingerprint(task_cls, resolved, data_dir),
        numerics=numerics.current(),
        code=code_of(registry, names),
    )


def code_of(registry: Registry, names: Mapping[str, str]) -> dict[str, str]:
    """The code identity (:mod:`benchbench.identity`) of a run naming ``names`` by slot: its
    components, chained regularizers one by one, a transfer task's source task, benchbench."""
    components = [(slot, cls.name) for slot, cls in _classes(registry, names)]
    source = registry.get("task", names["task"]).source
    if source is not None:
        components.append(("task", source))
    return run_code(registry, components)


def data_fingerprint(
    task_cls: type, hparams: Mapping[str, Any], data_dir: Path | None = None
) -> str | None:
    """The fingerprint of the files the task (with its hyperparameters out of ``hparams``)
    reads under ``data_dir``; None for a task without files."""
    prefix = f"{task_cls.name}."
    task = task_cls(**{k[len(prefix) :]: v for k, v in hparams.items() if k.startswith(prefix)})
    data_dir = Path(data_dir) if data_dir else default_data_dir()
    return fingerprint(task.data_files(data_dir), data_dir)


def members(slot: str, name: str) -> list[str]:
    """The component names in a slot: regularizers compose as ``augment+mixup``."""
    if slot != "regularizer" or "+" not in name:
        return [name]
    members = name.split("+")
    if len(set(members)) != len(members) or not all(members):
        raise BenchbenchError(f"regularizer {name!r}: name each regularizer once, joined by '+'")
    return members


def _classes(registry: Registry, names: Mapping[str, str]) -> list[tuple[str, type]]:
    """(slot, class) of every component a run names, chained regularizers one by one."""
    return [
        (slot, registry.get(slot, n)) for slot, name in names.items() for n in members(slot, name)
    ]


def _combination(classes: list[tuple[str, type]]) -> list[str]:
    """:func:`~benchbench.planning.checks.combination_problems` of a run's component classes."""
    by_slot: dict[str, list[type]] = {}
    for slot, cls in classes:
        by_slot.setdefault(slot, []).append(cls)
    input_mismatch(by_slot["task"][0], [cls for slot, cls in classes if slot != "task"])
    return combination_problems(
        by_slot["task"][0], by_slot["regularizer"], by_slot["ssl"][0], by_slot["finetune"][0]
    )


def build_components(registry: Registry, spec: RunSpec) -> RunComponents:
    """Instantiate the spec's components from its hyperparameters, refusing values and
    combinations that cannot work (a spec made without :func:`resolve_spec` is checked too)."""
    classes = _classes(registry, {slot: getattr(spec, slot) for slot in KIND_NAMES})
    check_values(spec.hparams, LOOP_PARAMS, {cls.name: cls for _, cls in classes})
    _combination(classes)
    built = {}
    for slot in KIND_NAMES:
        parts = [
            registry.build(slot, n, spec.component_hparams(n))
            for n in members(slot, getattr(spec, slot))
        ]
        built[slot] = parts[0] if len(parts) == 1 else RegularizerChain(parts)
    return RunComponents(**built)
