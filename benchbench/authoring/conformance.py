"""Conformance checks every component and executor of a plugin should pass before it is
published.

One list of checks per component or executor, run by ``benchbench plugin check`` (a
pass/fail table, each check in a worker process within a time limit) and by the pytest
plugin :mod:`benchbench.authoring.testing` (one test each). A check raises
:class:`CheckFailed` with one sentence on what is wrong. Runs use tiny probe tasks, a probe
network and a run that never ends (:mod:`benchbench.authoring.probes`, registered beside the
plugin), so a check never needs a download or a GPU.

The checks of a component (:mod:`benchbench.authoring.checks`):

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
``optimizer-state`` (optimizers)
    its steps move the probe network's weights, finitely, and a copy given the same weights
    and its ``state_dict`` takes the next step exactly as it does.

The checks of an executor (:mod:`benchbench.authoring.executor_checks`): ``contract``,
``jobs-come-back`` (every submitted job comes back exactly once, as its run's result or as
lost) and ``stop-ends-jobs`` (``stop()`` leaves nothing running).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..arguments import checked
from ..errors import BenchbenchError, one_line
from ..paths import PathLike, data_folder
from ..phrasing import either
from ..plugins.config import PluginConfig
from ..plugins.manager import PluginManager
from ..progress import Console
from .checks import CHECKS, ONLY_FOR, CheckFailed, CheckSkipped, Subject, global_state
from .executor_checks import EXECUTOR_CHECKS, ExecutorSubject
from .probes import (
    PROBE_PLUGIN,
    PROBE_STEPS,
    PROBE_TASKS,
    ProbeImage,
    ProbeNet,
    ProbeSequence,
    ProbeTabular,
    probe_manager,
)

__all__ = [
    "CHECKS",
    "EXECUTOR_CHECKS",
    "Check",
    "CheckFailed",
    "CheckOutcome",
    "CheckSkipped",
    "ExecutorSubject",
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


@dataclass
class Check:
    """One check of one component or executor: call it to run it (it raises
    :class:`CheckFailed`)."""

    subject: Subject | ExecutorSubject
    check: str

    @property
    def kind(self) -> str:
        return self.subject.kind if isinstance(self.subject, Subject) else "executor"

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.subject.name}:{self.check}"

    def __call__(self) -> None:
        kind = self.kind
        try:
            if isinstance(self.subject, Subject):
                CHECKS[self.check](self.subject)
            else:
                EXECUTOR_CHECKS[self.check](self.subject)
        except CheckSkipped:
            raise
        except CheckFailed as exc:
            raise CheckFailed(f"{kind} {self.subject.name!r}: {exc}") from None
        except Exception as exc:
            raise CheckFailed(
                f"{kind} {self.subject.name!r}: {self.check} raised "
                f"{type(exc).__name__}: {one_line(exc)}"
            ) from None


def plugin_components(pm: PluginManager, target: str) -> list[tuple[str, str]]:
    """(kind, name) of every component and executor ``target`` registered: a
    distribution's name (any of its entry-point plugins) or a plugin's name (an entry point
    or a ``-p`` module)."""
    wanted = _normalise(target)
    origins = [(e.kind, e.name, e.origin) for e in pm.registry] + [
        ("executor", name, origin) for name, (_, origin) in pm.registry.placing.items()
    ]
    found = [
        (kind, name)
        for kind, name, origin in origins
        if wanted in (_normalise(origin.distribution or ""), _normalise(origin.plugin))
    ]
    if not found:
        loaded = sorted(
            {origin.distribution or f"-p {origin.plugin}" for _, _, origin in origins}
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
        if kind == "executor":
            checks += [Check(ExecutorSubject(pm, name), c) for c in EXECUTOR_CHECKS]
            continue
        subject = Subject(pm, kind, name, name if kind == "task" else task)
        for check in CHECKS:
            if ONLY_FOR.get(check, kind) == kind:
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
_RUNS = ("short-run", "same-seed", "global-state", "jobs-come-back", "stop-ends-jobs")
"""The checks that train: after one hangs, the component's others would hang as well."""


@checked()
def check_plugin(
    target: str | None = None,
    *,
    module: str | None = None,
    task: str | None = None,
    timeout: float = CHECK_SECONDS,
    plugins: Sequence[str] = (),
    data_dir: PathLike | None = None,
    progress: bool = True,
) -> list[CheckOutcome]:
    """Run the conformance checks on every component of ``target`` (an installed
    distribution or plugin) or of the plugin ``module`` (not installed): contract,
    hyperparameters, a short run, same seed same numbers, global state left alone, task
    data. Non-task components run on ``task`` instead of a probe task when given.

    The checks run in a worker process, each within ``timeout`` seconds: a component that
    hangs (or crashes its process) fails the check it was in, naming itself, and the
    checks of the others go on in a new worker. Tasks read their data from ``data_dir``
    (default ``$BENCHBENCH_DATA`` or ``~/.cache/benchbench``)."""
    if bool(target) == bool(module):
        raise BenchbenchError(
            "name one plugin: "
            + either("'benchbench plugin check DIST' or '-p MODULE'", "a distribution or module=")
        )
    with data_folder(data_dir):
        return _check_plugin(target, module, task, timeout, plugins, progress)


def _check_plugin(
    target: str | None,
    module: str | None,
    task: str | None,
    timeout: float,
    plugins: Sequence[str],
    progress: bool,
) -> list[CheckOutcome]:
    """:func:`check_plugin`, its data folder set."""
    from ..plugins.config import warn_not_loaded

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
                component = f"{check.kind} {check.subject.name}"
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
        from ..host import spawn

        if self.process is None:
            context = spawn.context()
            self.conn, theirs = context.Pipe()
            # not a daemon: an executor's checks start worker processes of their own
            self.process = context.Process(target=_serve_checks, args=(theirs, *self.args))
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
    """The worker: the checks of ``target`` built once, each run as its id arrives; it ends
    with the process that started it, however that ends."""
    from ..host.interrupts import die_with_parent

    die_with_parent()
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
