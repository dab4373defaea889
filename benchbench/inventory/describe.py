"""What ``benchbench show NAME`` prints: a component's summary, origin, hyperparameters with
their defaults, types and ranges, and its search space; the loop's settings; a task's
budget and target. Everything a user may pass with ``--set`` is discoverable here rather
than in error messages.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tabulate import tabulate

from ..arguments import checked
from ..errors import unknown_name
from ..identity import component_identity
from ..params import Param, schema, show_value
from ..phrasing import either, option

LOOP = "loop"


class _Recorder:
    """Stands in for an ``optuna.Trial``: records what a search space suggests and answers
    with the lowest value, so a space can be described without a study."""

    def __init__(self) -> None:
        self.space: dict[str, str] = {}

    def suggest_float(
        self, name: str, low: float, high: float, *, log: bool = False, step: float | None = None
    ) -> float:
        self.space[name] = f"[{show_value(low)}, {show_value(high)}]" + (" log" if log else "")
        return low

    def suggest_int(
        self, name: str, low: int, high: int, *, step: int = 1, log: bool = False
    ) -> int:
        self.space[name] = f"{low}..{high}" + (f" step {step}" if step != 1 else "")
        return low

    def suggest_categorical(self, name: str, choices: Any) -> Any:
        self.space[name] = "{" + ", ".join(show_value(c) for c in choices) + "}"
        return choices[0]


def search_space(space: Callable[[Any], Mapping[str, Any]]) -> dict[str, str]:
    """``name -> range`` of what a ``search_space(trial)`` function suggests."""
    recorder = _Recorder()
    space(recorder)
    return recorder.space


def _hparam_table(
    prefix: str, defaults: Mapping[str, Any], params: Mapping[str, Param], tuned: Mapping[str, str]
) -> str:
    rows = [
        [
            f"{prefix}{key}",
            show_value(value),
            param.describe(),
            tuned.get(f"{prefix}{key}", "-"),
            param.help,
        ]
        for (key, value), param in zip(defaults.items(), params.values(), strict=True)
    ]
    if not rows:
        return "  no hyperparameters"
    headers = [either("--set NAME", "hparams key"), "default", "allowed", "tuned over", "meaning"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def describe_loop() -> str:
    """The training loop's settings: what every run has, whatever its components."""
    from ..training.settings import LOOP_DEFAULTS, LOOP_PARAMS, loop_search_space

    tuned = search_space(loop_search_space)
    table = _hparam_table("", LOOP_DEFAULTS, {k: LOOP_PARAMS[k] for k in LOOP_DEFAULTS}, tuned)
    return (
        "loop: the one training loop every run goes through (a task may change some "
        f"defaults: see {either('benchbench show TASK', 'bb.describe(TASK)')})\n\n" + table
    )


def describe_in(registry: Any, name: str) -> str:
    """Everything registered under ``name`` (in any kind), or ``loop``; an unknown name is
    a :class:`~benchbench.BenchbenchError` suggesting close ones."""
    if name == LOOP:
        return describe_loop()
    entries = [_describe_entry(e) for e in registry if e.name == name]
    if name in registry.placing:
        entries.append(describe_executor(name, *registry.placing[name]))
    if name in registry.suites:
        entries.append(describe_suite(name, registry))
    if not entries:
        known = {e.name for e in registry} | set(registry.placing) | set(registry.suites) | {LOOP}
        raise unknown_name("component, executor or suite", name, known)
    return "\n\n".join(entries)


def describe_suite(name: str, registry: Any) -> str:
    """A registered suite: its description, where it comes from, and each track's kind,
    candidates, tasks, fixed components, seeds, budget and tuning, with the runs it plans."""
    from ..planning.suite import load_suite

    suite = load_suite(name, registry)
    path, origin = registry.suites[name]
    lines = [f"suite {name}: {' '.join(suite.description.split())}", f"from {origin.describe()}"]
    lines.append(f"file: {path}")
    total = 0
    for track in suite.tracks:
        runs = len(track.candidates) * len(track.tasks) * track.seeds
        total += runs
        labels = [
            c.label + (" (baseline)" if c.label == track.baseline else "") for c in track.candidates
        ]
        parts = [
            f"track {track.name} ({track.kind}): {', '.join(labels)}",
            f"  on {', '.join(track.tasks)}",
            f"  {track.seeds} seed{'s' if track.seeds != 1 else ''}, "
            + (f"budget {_budget_text(track.budget)}" if track.budget else "each task's budget")
            + (f", tuned with {track.tuning.trials} trials each" if track.tuning else "")
            + f": {runs} runs",
        ]
        if track.fixed:
            parts.insert(
                2, "  with " + ", ".join(f"{k} {v}" for k, v in sorted(track.fixed.items()))
            )
        lines += parts
    lines.append(
        f"{total} runs in all; run it with "
        + either(f"'benchbench run {name}'", f"bb.run({name!r})")
    )
    return "\n".join(lines)


def _budget_text(budget: Any) -> str:
    return ", ".join(
        f"{k} {show_value(v)}" for k, v in budget.to_dict().items() if k != "eval_every"
    )


def executor_options_table(options: Sequence[Any]) -> str:
    """An executor's declared options as a table: flag, value, default, meaning (what
    ``benchbench show NAME`` prints and the documentation shows)."""
    rows = [
        [
            option.flag + (" (repeatable)" if option.multiple else ""),
            "flag" if option.type is bool else option.metavar or option.type.__name__,
            "-" if option.default in (None, ()) else show_value(option.default),
            option.help,
        ]
        for option in options
    ]
    if not rows:
        return "  no options of its own"
    headers = ["option", "value", "default", "meaning"]
    return tabulate(rows, headers=headers, tablefmt="simple", disable_numparse=True)


def describe_executor(name: str, cls: Any, origin: Any) -> str:
    """An executor: what it places runs on, where it came from, how to choose it and its
    options."""
    lines = [
        f"executor {name}: {cls.summary}",
        f"from {origin.describe()}",
        f"choose it with {option('executor', name)}; every executor also takes "
        + ", ".join(option(o) for o in ("workers", "timeout", "threads", "gpus_per_run")),
    ]
    if cls.extra:
        lines.append(f"needs: pip install 'benchbench[{cls.extra}]'")
    return "\n".join(lines) + "\n\n" + executor_options_table(cls.options)


def _describe_entry(entry: Any) -> str:
    cls = entry.cls
    prefix = f"{cls.name}."  # a bare suggestion is the component's, as tuning names it
    tuned = {
        (k if k.startswith(prefix) else prefix + k): v
        for k, v in search_space(cls().search_space).items()  # with its defaults
    }
    lines = [
        f"{entry.kind} {entry.name}: {cls.summary}",
        f"from {entry.origin.describe()}",
        "its runs are identified by: "
        + component_identity(cls, entry.origin.distribution, entry.origin.plugin),
    ]
    if entry.kind == "task":
        lines += _task_lines(cls)
    lines.append(f"choose it with {option(entry.kind, entry.name)}")
    table = _hparam_table(f"{entry.name}.", cls.defaults, schema(cls.defaults, cls.params), tuned)
    return "\n".join(lines) + "\n\n" + table


def _task_lines(cls: Any) -> list[str]:
    budget = cls.budget.to_dict() if cls.budget else {}
    limits = ", ".join(f"{k} {show_value(v)}" for k, v in budget.items() if v is not None)
    lines = [
        f"{cls.num_classes} classes, inputs {tuple(cls.input_shape)} ({cls.modality})",
        f"target: {cls.target_accuracy:.0%} validation accuracy (time-to-target)",
        f"budget when a suite or the options name none: {limits}",
    ]
    if cls.trainer_defaults:
        changed = ", ".join(f"{k}={show_value(v)}" for k, v in cls.trainer_defaults.items())
        lines.append(f"loop defaults changed by this task: {changed}")
    if cls.has_unlabeled is not None:
        lines.append("unlabeled data: " + ("yes" if cls.has_unlabeled else "none"))
    if cls.source:
        lines.append(f"transfer: starts from a model trained on {cls.source}")
    return lines


@checked()
def describe(name: str, *, plugins: Sequence[str] = ()) -> str:
    """What ``name`` is and how to set it, as ``benchbench show NAME`` prints it: a
    component's summary and origin, its hyperparameters (default, allowed values, search
    space, meaning), a task's classes, target and budget; an executor's options; ``loop``:
    the training loop's settings; a suite file: the tasks it declares from own data."""
    from ..planning.declared import check_declared, declare
    from ..plugins.manager import load_plugins

    declared = declare(name)  # a suite file: the tasks it declares from own data
    pm = load_plugins(plugins)
    if declared:
        check_declared(declared, pm, name)
        return "\n\n".join(describe_in(pm.registry, task) for task in declared)
    return describe_in(pm.registry, name)
