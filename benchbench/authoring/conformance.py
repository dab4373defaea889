"""Conformance checks every component of a plugin should pass before it is published.

One list of checks per component, run by ``benchbench plugin check`` (a pass/fail table) and
by the pytest plugin :mod:`benchbench.authoring.testing` (one test each). A check raises
:class:`CheckFailed` with one sentence on what is wrong. Runs use tiny probe tasks and a
probe network that :func:`probe_manager` registers beside the plugin (generated in memory,
well under a second each), so a check never needs a download or a GPU.

The checks:

``contract``
    kebab-case name unique across kinds, a one-line summary no other component has.
``hyperparameters``
    the defaults build it; three sampled ``search_space`` configurations name only its
    hyperparameters, fit their declarations and build it.
``short-run``
    a short run (on a probe task of an input kind it accepts, or on the task itself) ends
    ``ok`` within its budget: finite losses, an evaluation, a test accuracy.
``same-seed``
    a second run with the same seed gives identical numbers.
``global-state``
    torch's, NumPy's and Python's RNGs, torch's default dtype, grad mode and thread count are
    as they were after the run, and nothing drew from NumPy's or Python's global RNG.
``task-data`` (tasks)
    what ``load`` returns meets the task's declaration (:func:`benchbench.tasks.check_splits`).
"""

from __future__ import annotations

import math
import random
import re
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

import benchbench
from benchbench.budget import Budget
from benchbench.components import INPUT_KINDS, Architecture, Component, Model
from benchbench.errors import BenchbenchError, BenchbenchWarning, one_line
from benchbench.plugins.config import PluginConfig
from benchbench.plugins.manager import Origin, PluginManager, get_plugin_manager
from benchbench.progress import Console
from benchbench.spec import RunResult
from benchbench.tasks import Split, Splits, Task, check_splits

__all__ = [
    "CHECKS",
    "Check",
    "CheckFailed",
    "CheckOutcome",
    "CheckSkipped",
    "PROBE_PLUGIN",
    "PROBE_STEPS",
    "PROBE_TASKS",
    "ProbeImage",
    "ProbeNet",
    "ProbeSequence",
    "ProbeTabular",
    "Subject",
    "check_plugin",
    "checks_for",
    "global_state",
    "plugin_components",
    "probe_manager",
]

PROBE_STEPS = 12
"""Optimizer steps of a check's short run: enough for an evaluation, under a second."""


class CheckFailed(AssertionError):
    """A conformance check found a problem; the message says which, in one sentence."""


class CheckSkipped(Exception):
    """A check that cannot run here (a task whose data is not on this machine)."""


# -- probe components: registered beside the plugin under test, never in a leaderboard ---------


def _blobs(shape: tuple[int, ...], sizes: Sequence[int], classes: int) -> list[Tensor]:
    """Inputs and labels of Gaussian blobs around ``classes`` fixed centres, one pair per
    size (the last size unlabeled: inputs only)."""
    g = torch.Generator().manual_seed(0)
    centres = torch.randn(classes, *shape, generator=g)
    parts: list[Tensor] = []
    for n in sizes:
        y = torch.arange(n) % classes
        parts += [centres[y] + torch.randn(n, *shape, generator=g), y]
    return parts


class _Probe(Task):
    """Four Gaussian blobs of the probe's input kind, with unlabeled data: learnable in a
    few steps, generated in memory."""

    num_classes = 4
    target_accuracy = 0.9
    budget = Budget(steps=PROBE_STEPS, eval_every=0.5)
    has_unlabeled = True
    trainer_defaults = {"batch_size": 16}

    def load(self, data_dir: Path) -> Splits:
        x1, y1, x2, y2, x3, y3, unlabeled, _ = _blobs(self.input_shape, (96, 48, 48, 96), 4)
        return Splits(Split(x1, y1), Split(x2, y2), Split(x3, y3), unlabeled=unlabeled)

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        noise = torch.randn(x.shape, generator=generator, device=generator.device)
        return x + 0.1 * strength * noise


class ProbeImage(_Probe):
    name, summary = "probe-image", "conformance probe: 4 blobs of 1x8x8 images"
    input_shape, modality = (1, 8, 8), "image"


class ProbeSequence(_Probe):
    name, summary = "probe-sequence", "conformance probe: 4 blobs of 1x16 sequences"
    input_shape, modality = (1, 16), "sequence"


class ProbeTabular(_Probe):
    name, summary = "probe-tabular", "conformance probe: 4 blobs of 12 features"
    input_shape, modality = (12,), "tabular"


PROBE_TASKS = {"image": ProbeImage, "sequence": ProbeSequence, "tabular": ProbeTabular}


class ProbeNet(Architecture):
    """Two small blocks (convolutions on images and sequences, ending in a feature map;
    linear layers on tabular inputs) and a linear head."""

    name = "probe-net"
    summary = "conformance probe: two small blocks and a linear head, any input"

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        if len(input_shape) == 1:
            blocks = [
                ("block1", nn.Sequential(nn.Linear(input_shape[0], 16), nn.ReLU())),
                ("block2", nn.Sequential(nn.Linear(16, 16), nn.ReLU())),
            ]
            return Model(blocks, nn.Linear(16, num_classes))
        conv = nn.Conv2d if len(input_shape) == 3 else nn.Conv1d
        blocks = [
            ("block1", nn.Sequential(conv(input_shape[0], 8, 3, padding=1), nn.ReLU())),
            ("block2", nn.Sequential(conv(8, 8, 3, padding=1, stride=2), nn.ReLU())),
        ]
        positions = math.prod((n + 1) // 2 for n in input_shape[1:])
        return Model(blocks, nn.Linear(8 * positions, num_classes))


class _ProbePlugin:
    """The probe task and network, and a watch on torch's global RNG while a run trains:
    the loop seeds it per run (a network's initial weights come from it), so a component
    that draws from it instead of the generator the loop hands over still repeats with one
    seed, and only a state that moved between the first step and an eval point gives it
    away."""

    torch_rng: Tensor | None = None
    drew_torch = False

    @benchbench.hookimpl
    def benchbench_register_components(self, registry: Any) -> None:
        for cls in (*PROBE_TASKS.values(), ProbeNet):
            registry.add(cls)

    @benchbench.hookimpl
    def benchbench_run_started(self, spec: Any, model: Any) -> None:
        self.torch_rng, self.drew_torch = torch.random.get_rng_state(), False

    @benchbench.hookimpl
    def benchbench_eval_point(self, spec: Any, point: dict[str, Any]) -> None:
        if self.torch_rng is not None:
            self.drew_torch |= not torch.equal(self.torch_rng, torch.random.get_rng_state())


PROBE_PLUGIN = "benchbench-probes"


def probe_manager(modules: Sequence[str] = (), autoload: bool = True) -> PluginManager:
    """A plugin manager with the configured plugins and the probe task and network."""
    pm = get_plugin_manager(PluginConfig(modules=tuple(modules), autoload=autoload))
    origin = Origin(PROBE_PLUGIN)
    pm._register_plugin(_ProbePlugin(), origin)
    return pm


def _probe(pm: PluginManager) -> _ProbePlugin:
    return next(p for p in pm.get_plugins() if isinstance(p, _ProbePlugin))


# -- what is checked ---------------------------------------------------------------------------


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
        from benchbench.running import numerics
        from benchbench.running.execute import execute
        from benchbench.running.resolve import resolve_spec

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
                if _probe(self.pm).drew_torch and self.kind != "arch":
                    drawn = ["torch", *drawn]
                self.state_change += [f"drew from the global {n} RNG" for n in drawn]
            self.runs.append(result)
        return self.runs[index]

    def load(self) -> tuple[Task, Splits]:
        """The task under check and what its ``load`` returns; skipped when its data is not
        on this machine (the task's own one-line error says how to get it)."""
        from benchbench.paths import default_data_dir

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

    from benchbench.params import refusal
    from benchbench.tuning.study import Namespaced

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


def check_same_seed(subject: Subject) -> None:
    first, second = subject.run(0), subject.run(1)
    if first.status != "ok" or second.status != "ok":
        raise CheckFailed(f"its runs ended {first.status} and {second.status}")
    a = [p["val_accuracy"] for p in first.curve] + [first.test_accuracy]
    b = [p["val_accuracy"] for p in second.curve] + [second.test_accuracy]
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


def check_task_data(subject: Subject) -> None:
    task, splits = subject.load()
    try:
        check_splits(task, splits)
    except BenchbenchError as exc:
        raise CheckFailed(str(exc).split(": ", 1)[1]) from None


CHECKS: dict[str, Callable[[Subject], None]] = {
    "contract": check_contract,
    "hyperparameters": check_hyperparameters,
    "task-data": check_task_data,
    "short-run": check_short_run,
    "same-seed": check_same_seed,
    "global-state": check_global_state,
}


@dataclass
class Check:
    """One check of one component: call it to run it (it raises :class:`CheckFailed`)."""

    subject: Subject
    check: str

    @property
    def id(self) -> str:
        return f"{self.subject.kind}:{self.subject.name}:{self.check}"

    def __call__(self) -> None:
        try:
            CHECKS[self.check](self.subject)
        except CheckSkipped:
            raise
        except CheckFailed as exc:
            raise CheckFailed(f"{self.subject.kind} {self.subject.name!r}: {exc}") from None
        except Exception as exc:
            raise CheckFailed(
                f"{self.subject.kind} {self.subject.name!r}: {self.check} raised "
                f"{type(exc).__name__}: {one_line(exc)}"
            ) from None


def plugin_components(pm: PluginManager, target: str) -> list[tuple[str, str]]:
    """(kind, name) of every component ``target`` registered: a distribution's name (any of
    its entry-point plugins) or a plugin's name (an entry point or a ``-p`` module)."""
    wanted = _normalise(target)
    found = [
        (e.kind, e.name)
        for e in pm.registry
        if wanted in (_normalise(e.origin.distribution or ""), _normalise(e.origin.plugin))
    ]
    if not found:
        loaded = sorted(
            {e.origin.distribution or f"-p {e.origin.plugin}" for e in pm.registry}
            - {f"-p {PROBE_PLUGIN}"}
        )
        failed = dict(pm.errors)
        reason = f" (it was not loaded: {failed[target]})" if target in failed else ""
        raise BenchbenchError(
            f"no components come from {target!r}{reason}; plugins with components: "
            + ", ".join(loaded)
        )
    return found


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def checks_for(pm: PluginManager, target: str, task: str | None = None) -> list[Check]:
    """Every check of every component ``target`` registered, in kind order."""
    checks = []
    for kind, name in plugin_components(pm, target):
        subject = Subject(pm, kind, name, name if kind == "task" else task)
        for check in CHECKS:
            if check != "task-data" or kind == "task":
                checks.append(Check(subject, check))
    return checks


@dataclass(frozen=True)
class CheckOutcome:
    """How one check of one component ended: ``pass``, ``FAIL`` or ``skip``, and why."""

    component: str
    check: str
    result: str
    detail: str


CHECK_SECONDS = 300.0
"""How long one check may take (a probe run is a few seconds) before it counts as a hang."""
_RUNS = ("short-run", "same-seed", "global-state")
"""The checks that train: after one hangs, the component's others would hang as well."""


def check_plugin(
    target: str | None = None,
    *,
    module: str | None = None,
    task: str | None = None,
    timeout: float = CHECK_SECONDS,
    plugins: Sequence[str] = (),
    progress: bool = True,
) -> list[CheckOutcome]:
    """Run the conformance checks on every component of ``target`` (an installed
    distribution or plugin) or of the plugin ``module`` (not installed): contract,
    hyperparameters, a short run, same seed same numbers, global state left alone, task
    data. Non-task components run on ``task`` instead of a probe task when given.

    The checks run in a worker process, each within ``timeout`` seconds: a component that
    hangs (or crashes its process) fails the check it was in, naming itself, and the
    checks of the others go on in a new worker."""
    from benchbench.plugins.config import warn_not_loaded

    if bool(target) == bool(module):
        raise BenchbenchError("name one plugin: 'benchbench plugin check DIST' or '-p MODULE'")
    config = PluginConfig.from_env(tuple(plugins))
    modules = (*config.modules, module) if module else config.modules
    pm = probe_manager(modules, autoload=config.autoload)
    warn_not_loaded(pm.errors)
    checks = checks_for(pm, str(module or target), task)
    worker = _CheckWorker(modules, config.autoload, str(module or target), task)
    hung: set[str] = set()
    outcomes = []
    try:
        with Console(progress).bar(len(checks), "check", leave=False) as bar:
            for check in checks:
                subject = check.subject
                component = f"{subject.kind} {subject.name}"
                if component in hung and check.check in _RUNS:
                    result, detail = "FAIL", "not run: its short run hung"
                else:
                    result, detail = worker.run(check.id, timeout)
                    if detail.startswith("did not finish"):
                        hung.add(component)
                outcomes.append(CheckOutcome(component, check.check, result, detail))
                bar.update()
    finally:
        worker.stop()
    return outcomes


class _CheckWorker:
    """A process that loads the plugins once and runs the checks it is sent, one at a time;
    replaced when a check hangs or kills it."""

    def __init__(self, modules: Sequence[str], autoload: bool, target: str, task: str | None):
        self.args = (tuple(modules), autoload, target, task)
        self.process: Any = None
        self.conn: Any = None

    def run(self, check_id: str, timeout: float) -> tuple[str, str]:
        """``(result, detail)`` of one check."""
        import multiprocessing

        if self.process is None:
            context = multiprocessing.get_context("spawn")
            self.conn, theirs = context.Pipe()
            self.process = context.Process(
                target=_serve_checks, args=(theirs, *self.args), daemon=True
            )
            self.process.start()
            theirs.close()
        self.conn.send(check_id)
        try:
            if self.conn.poll(timeout):
                return self.conn.recv()
        except (EOFError, OSError):
            self.stop()
            return "FAIL", f"{_name(check_id)}: its check crashed the worker process"
        self.stop()
        return "FAIL", (
            f"did not finish in {timeout:.0f} s: {_name(check_id)} hangs (or is far too slow "
            "for a probe run)"
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.join(timeout=10)
            self.process = None


def _name(check_id: str) -> str:
    kind, name, _ = check_id.split(":")
    return f"{kind} {name!r}"


def _serve_checks(
    conn: Any, modules: tuple[str, ...], autoload: bool, target: str, task: str | None
) -> None:
    """The worker: the checks of ``target`` built once, each run as its id arrives."""
    pm = probe_manager(modules, autoload=autoload)
    checks = {c.id: c for c in checks_for(pm, target, task)}
    while True:
        try:
            check_id = conn.recv()
        except EOFError:
            return
        try:
            checks[check_id]()
            reply = ("pass", "")
        except CheckSkipped as exc:
            reply = ("skip", str(exc))
        except CheckFailed as exc:
            reply = ("FAIL", str(exc).split(": ", 1)[1])
        conn.send(reply)
