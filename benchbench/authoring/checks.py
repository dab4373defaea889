"""The conformance checks of one component (see :mod:`benchbench.authoring.conformance` for
the list): each raises :class:`CheckFailed` with one sentence on what is wrong, or
:class:`CheckSkipped` when it cannot run here. Runs use the probes of
:mod:`benchbench.authoring.probes`."""

from __future__ import annotations

import random
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..budget import Budget
from ..components import INPUT_KINDS, Component
from ..errors import BenchbenchError, BenchbenchWarning
from ..plugins.manager import PluginManager
from ..spec import RunResult
from ..tasks import Splits, Task, check_splits
from .probes import PROBE_STEPS, PROBE_TASKS, ProbeNet, rng_watch


class CheckFailed(AssertionError):
    """A conformance check found a problem; the message says which, in one sentence."""


class CheckSkipped(Exception):
    """A check that cannot run here (a task whose data is not on this machine)."""


@dataclass
class Subject:
    """One component under check, and the runs its checks share (made on first use)."""

    pm: PluginManager
    kind: str
    name: str
    task: str | None = None
    """The task to run on; None: the probe task of the first input kind it accepts."""
    runs: list[RunResult] = field(default_factory=list)
    state_change: list[str] | None = None

    @property
    def cls(self) -> type[Component]:
        return self.pm.registry.get(self.kind, self.name)

    def names(self) -> dict[str, str]:
        """The components of its runs: it, a probe network unless it is an architecture, and
        a probe task unless it is a task."""
        names = {"task": self.task or "", "arch": ProbeNet.name, self.kind: self.name}
        if not names["task"]:
            accepts = self.cls.accepts
            modality = next(k for k in INPUT_KINDS if "any" in accepts or k in accepts)
            names["task"] = PROBE_TASKS[modality].name
        return names

    def run(self, index: int) -> RunResult:
        """Run ``index`` of its runs (0 or 1; same seed), watching global state around the
        first."""
        from benchbench.execution.execute import execute
        from benchbench.host import numerics
        from benchbench.planning.resolve import resolve_spec

        numerics.select(numerics.honoured())  # the runs train in this process
        while len(self.runs) <= index:
            names = self.names()
            budget = _short(self.pm.registry.get("task", names["task"]).budget)
            if self.kind == "task":
                self.load()
            before = global_state() if not self.runs else None
            try:
                with warnings.catch_warnings():  # a linear probe on a fresh network is fine here
                    warnings.simplefilter("ignore", BenchbenchWarning)
                    spec = resolve_spec(self.pm.registry, **names, seed=0, budget=budget)
                result = execute(spec, self.pm)
            except BenchbenchError as exc:
                raise CheckFailed(f"its run could not be planned: {exc}") from None
            if before is not None:
                after = global_state()
                self.state_change = [k for k in before if not _same(before[k], after[k])]
                drawn = result.provenance.get("global_rngs_drawn", [])
                # an architecture's own dropout layers may draw from it: they cannot be handed
                # a generator, and the per-run seed makes them repeat
                if rng_watch(self.pm).drew_torch and self.kind != "arch":
                    drawn = ["torch", *drawn]
                self.state_change += [f"drew from the global {n} RNG" for n in drawn]
            self.runs.append(result)
        return self.runs[index]

    def load(self) -> tuple[Task, Splits]:
        """The task under check and what its ``load`` returns; skipped when its data is not
        on this machine (the task's own one-line error says how to get it)."""
        from ..paths import default_data_dir

        task = self.cls()
        try:
            return task, task.load(default_data_dir())
        except BenchbenchError as exc:
            raise CheckSkipped(f"its data is not here: {exc}") from None


def _short(budget: Budget) -> Budget:
    """A budget of the probe's steps, evaluated every half epoch (of a probe task: at steps
    3, 6, 9 and 12) and at the end."""
    return Budget(steps=PROBE_STEPS, eval_every=0.5)


def global_state() -> dict[str, Any]:
    """The process-wide state a component must leave as it found it."""
    return {
        "torch RNG": torch.random.get_rng_state(),
        "NumPy RNG": np.random.get_state(),
        "Python RNG": random.getstate(),
        "default dtype": torch.get_default_dtype(),
        "grad mode": torch.is_grad_enabled(),
        "thread count": torch.get_num_threads(),
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor):
        return torch.equal(a, b)
    if isinstance(a, tuple) and a and isinstance(a[0], str) and len(a) == 5:  # NumPy's state
        return a[0] == b[0] and bool((a[1] == b[1]).all()) and tuple(a[2:]) == tuple(b[2:])
    return a == b


def check_contract(subject: Subject) -> None:
    cls, registry = subject.cls, subject.pm.registry
    summary = cls.summary.strip()
    if "\n" in summary:
        raise CheckFailed("its summary spans several lines; keep it to one")
    for entry in registry:
        if entry.cls is not cls and entry.cls.summary.strip() == summary:
            raise CheckFailed(f"its summary is word for word that of {entry.kind} {entry.name!r}")


def check_hyperparameters(subject: Subject) -> None:
    import optuna

    from ..params import refusal
    from ..tuning.space import Namespaced

    cls = subject.cls
    try:
        built = cls(**cls.defaults)
    except Exception as exc:
        raise CheckFailed(f"its defaults do not build it: {type(exc).__name__}: {exc}") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    schema = cls.schema()
    for _ in range(3):
        trial = study.ask()
        try:
            space = built.search_space(Namespaced(trial, cls.name))
        except Exception as exc:
            raise CheckFailed(f"search_space raised {type(exc).__name__}: {exc}") from None
        if not isinstance(space, dict):
            raise CheckFailed(f"search_space returned {type(space).__name__}, not a dict")
        unknown = sorted(set(space) - set(cls.defaults))
        if unknown:
            raise CheckFailed(f"search_space suggests {unknown}, which are not hyperparameters")
        for key, value in space.items():
            problem = refusal(f"{cls.name}.{key}", value, schema[key])
            if problem:
                raise CheckFailed(
                    f"search_space suggested a value its declaration refuses: {problem}"
                )
        try:
            cls(**{**cls.defaults, **space})
        except Exception as exc:
            raise CheckFailed(
                f"a sampled configuration {space} does not build it: {type(exc).__name__}: {exc}"
            ) from None
        study.tell(trial, 0.0)


def check_short_run(subject: Subject) -> None:
    result = subject.run(0)
    where = f"a {PROBE_STEPS}-step run on {result.task} with {result.arch}"
    if result.status != "ok":
        raise CheckFailed(f"{where} ended {result.status}: {result.error}")
    if result.steps > PROBE_STEPS:
        raise CheckFailed(f"{where} took {result.steps} steps, over its budget")
    if not result.curve or result.test_accuracy is None:
        raise CheckFailed(f"{where} was never evaluated")


def accuracies(result: RunResult) -> list[float]:
    """What a run that repeats must repeat exactly: its validation curve and test accuracy."""
    return [p["val_accuracy"] for p in result.curve] + [result.test_accuracy]


def check_same_seed(subject: Subject) -> None:
    first, second = subject.run(0), subject.run(1)
    if first.status != "ok" or second.status != "ok":
        raise CheckFailed(f"its runs ended {first.status} and {second.status}")
    a, b = accuracies(first), accuracies(second)
    if a != b:
        raise CheckFailed(
            f"two runs with seed 0 gave different accuracies ({a} then {b}): draw randomness "
            "only from the generator the loop hands over, and keep no state between runs"
        )


def check_global_state(subject: Subject) -> None:
    subject.run(0)
    if subject.state_change:
        raise CheckFailed(
            "its run changed process-wide state: "
            + ", ".join(subject.state_change)
            + " (use the generator the loop hands over; leave global settings alone)"
        )


def check_optimizer_state(subject: Subject) -> None:
    """An optimizer's steps move the probe network's weights (finitely), and a copy given
    the same weights and its ``state_dict`` takes the next step exactly as it does."""
    import copy

    import torch.nn.functional as F

    from ..planning.resolve import build_components, resolve_spec
    from ..training.stepping import named_groups

    registry, names = subject.pm.registry, subject.names()
    try:
        spec = resolve_spec(registry, **names, seed=0, budget=Budget(steps=1))
    except BenchbenchError as exc:
        raise CheckFailed(f"a run with it could not be planned: {exc}") from None
    task = registry.get("task", names["task"])
    drawn = torch.Generator().manual_seed(0)
    x = torch.randn((16, *task.input_shape), generator=drawn)
    y = torch.randint(task.num_classes, (16,), generator=drawn)

    def built() -> tuple[Any, Any, Any]:
        parts = build_components(registry, spec)
        with torch.random.fork_rng():
            torch.manual_seed(0)
            model = parts.arch.build(task.input_shape, task.num_classes)
        groups = named_groups([{"params": list(model.parameters()), "lr": 0.01}], ("", model))
        return model, parts.optimizer, parts.optimizer.make(groups, 0.0)

    def step(model: Any, component: Any, optimizer: Any) -> None:
        def loss() -> Tensor:
            optimizer.zero_grad(set_to_none=True)
            value = F.cross_entropy(model(x), y)
            value.backward()
            return value

        loss()
        optimizer.step(loss) if component.takes_closure() else optimizer.step()

    model, component, optimizer = built()
    before = [p.detach().clone() for p in model.parameters()]
    for _ in range(3):
        step(model, component, optimizer)
    after = list(model.parameters())
    if all(torch.equal(a, b) for a, b in zip(before, after, strict=True)):
        raise CheckFailed("three steps left every weight of the probe network as it was")
    if not all(bool(p.isfinite().all()) for p in after):
        raise CheckFailed("three steps on the probe network made its weights non-finite")
    twin, twin_component, twin_optimizer = built()
    twin.load_state_dict(model.state_dict())
    twin_optimizer.load_state_dict(copy.deepcopy(optimizer.state_dict()))
    step(model, component, optimizer)
    step(twin, twin_component, twin_optimizer)
    if not all(
        torch.equal(a, b) for a, b in zip(model.parameters(), twin.parameters(), strict=True)
    ):
        raise CheckFailed(
            "a copy loaded from its state_dict() took the next step differently: keep "
            "everything its update carries from step to step (momenta, averages, counters) "
            "in the optimizer's state"
        )


def check_task_data(subject: Subject) -> None:
    task, splits = subject.load()
    try:
        check_splits(task, splits)
    except BenchbenchError as exc:
        raise CheckFailed(str(exc).split(": ", 1)[1]) from None


ONLY_FOR = {"task-data": "task", "optimizer-state": "optimizer"}
"""The checks of one kind only."""

CHECKS: dict[str, Callable[[Subject], None]] = {
    "contract": check_contract,
    "hyperparameters": check_hyperparameters,
    "task-data": check_task_data,
    "optimizer-state": check_optimizer_state,
    "short-run": check_short_run,
    "same-seed": check_same_seed,
    "global-state": check_global_state,
}
