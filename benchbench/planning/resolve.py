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
from ..training.settings import LOOP_DEFAULTS, LOOP_PARAMS, RETIRED_PARAMS, setting_problem
from .checks import (
    check_values,
    combination_problems,
    input_mismatch,
    optimizer_problem,
    unknown_hparam,
    warn,
)


def resolve_spec(
    registry: Registry,
    *,
    task: str,
    arch: str,
    regularizer: str = "none",
    ssl: str = "supervised",
    finetune: str = "full",
    optimizer: str = "adamw",
    hparams: Mapping[str, Any] | None = None,
    seed: int = 0,
    budget: Budget | None = None,
    device: str = "cpu",
    data_dir: Path | None = None,
) -> RunSpec:
    """A spec with every hyperparameter resolved: loop defaults, then the task's preferences,
    then the optimizer's (:attr:`~benchbench.Optimizer.loop_defaults`), then each
    component's defaults (a wrapping optimizer's base's too), then ``hparams`` (``lr``,
    ``<component>.<name>``); and, for a
    task that reads files, the fingerprint of those under ``data_dir`` (default:
    :func:`~benchbench.paths.default_data_dir`); the numerics mode this process chose
    (:func:`benchbench.host.numerics.current`). ``device`` ``auto`` is resolved here; a ``cuda``
    one is not checked against this machine, which may only plan runs that train elsewhere.

    Unknown component or hyperparameter names raise :class:`~benchbench.BenchbenchError`.
    """
    names = dict(
        task=task,
        arch=arch,
        regularizer=regularizer,
        ssl=ssl,
        finetune=finetune,
        optimizer=optimizer,
    )
    hparams = dict(hparams or {})
    classes = component_classes(registry, names, hparams)
    task_cls = registry.get("task", task)
    resolved: dict[str, Any] = {**LOOP_DEFAULTS, **task_cls.trainer_defaults}
    for _, cls in reversed(classes):  # the optimizer's loop settings before its base's
        resolved.update(getattr(cls, "loop_defaults", {}))
    for _, cls in classes:
        resolved.update({f"{cls.name}.{k}": v for k, v in cls.defaults.items()})
    for key, value in hparams.items():
        if key not in resolved:
            raise unknown_hparam(key, resolved, registry)
        resolved[key] = value
    check_values(resolved, LOOP_PARAMS, {cls.name: cls for _, cls in classes})
    device = resolve_device(device, here=False)
    chain = [cls for slot, cls in classes if slot == "optimizer"]
    problem = setting_problem(resolved, device, task_cls) or optimizer_problem(chain, resolved)
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
        code=code_of(registry, names, resolved),
    )


def code_of(
    registry: Registry, names: Mapping[str, str], hparams: Mapping[str, Any]
) -> dict[str, str]:
    """The code identity (:mod:`benchbench.identity`) of a run naming ``names`` by slot with
    ``hparams``: its components, chained regularizers one by one, a wrapping optimizer's
    bases, a transfer task's source task, benchbench."""
    components = [(slot, cls.name) for slot, cls in component_classes(registry, names, hparams)]
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


def optimizer_chain(registry: Registry, name: str, hparams: Mapping[str, Any]) -> list[type]:
    """The optimizer ``name`` and, if it wraps one, its base, the base's base...: each named
    by the ``base`` hyperparameter of the one before (in ``hparams``, else its default)."""
    chain = [registry.get("optimizer", name)]
    while chain[-1].wraps:
        top = chain[-1]
        key = f"{top.name}.base"
        base = hparams.get(key, top.defaults.get("base"))
        said = [cls.name for cls in chain]
        if base in said:
            raise BenchbenchError(
                f"optimizer {name!r}: {' over '.join([*said, base])} comes back to "
                f"{base!r} (an optimizer may appear once in a run's chain)"
            )
        try:
            chain.append(registry.get("optimizer", base))
        except BenchbenchError as exc:
            raise BenchbenchError(f"hyperparameter {key}: {exc}") from None
    return chain


def component_classes(
    registry: Registry, names: Mapping[str, str], hparams: Mapping[str, Any]
) -> list[tuple[str, type]]:  # fmt: skip
    """(slot, class) of every component a run names, chained regularizers one by one, a
    wrapping optimizer followed by its bases."""
    return [
        (slot, cls)
        for slot, name in names.items()
        for cls in (
            optimizer_chain(registry, name, hparams)
            if slot == "optimizer"
            else [registry.get(slot, n) for n in members(slot, name)]
        )
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
    names = {slot: getattr(spec, slot) for slot in KIND_NAMES}
    classes = component_classes(registry, names, spec.hparams)
    check_values(
        spec.hparams, {**RETIRED_PARAMS, **LOOP_PARAMS}, {cls.name: cls for _, cls in classes}
    )
    _combination(classes)
    built: dict[str, Any] = {}
    for slot in KIND_NAMES:
        if slot == "optimizer":
            built[slot] = _optimizer(spec, [cls for s, cls in classes if s == slot])
            continue
        parts = [
            registry.build(slot, n, spec.component_hparams(n)) for n in members(slot, names[slot])
        ]
        built[slot] = parts[0] if len(parts) == 1 else RegularizerChain(parts)
    return RunComponents(**built)


def _optimizer(spec: RunSpec, chain: list[type]) -> Any:
    """The run's optimizer, each wrapper given its base. A spec stored before optimizers
    were components names its optimizer in the loop settings (:data:`RETIRED_PARAMS`), and
    the optimizer that declares one gets its ``momentum``."""
    retired = {k: v for k, v in spec.loop_hparams().items() if k in RETIRED_PARAMS}
    built = None
    for cls in reversed(chain):
        own = {k: v for k, v in retired.items() if k in cls.defaults}
        optimizer = cls(**{**own, **spec.component_hparams(cls.name)})
        optimizer.base = built
        built = optimizer
    return built
