"""What is checked when a run is planned, before anything trains.

Every hyperparameter's value against its declaration (:mod:`benchbench.params`), and
combinations of components that cannot work together: refused with one line naming the
components. Combinations that run but measure something other than what was probably meant
(a linear probe on a randomly initialised network) are warnings. A problem found here costs
the user a second; found inside a run it costs the run, and in a suite every seed of it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from ..components import SSL, Component, Finetune, Regularizer, overrides
from ..errors import BenchbenchError, BenchbenchWarning, unknown_name
from ..params import Param, refusal
from ..phrasing import option

_REGULARIZER_METHODS = ("transform", "forward", "loss", "prepare", "weight_decay", "on_step")


def check_values(
    resolved: Mapping[str, Any],
    loop_params: Mapping[str, Param],
    components: Mapping[str, type[Component]],
) -> None:
    """Raise :class:`~benchbench.BenchbenchError` for the first value outside its declaration.

    ``resolved`` is a spec's flat hyperparameters (``lr``, ``<component>.<name>``);
    ``components`` the run's component classes by name."""
    for key, value in resolved.items():
        name, dot, short = key.partition(".")
        param = components[name].schema()[short] if dot else loop_params[key]
        problem = refusal(key, value, param)
        if problem:
            raise BenchbenchError(problem)


def unknown_hparam(key: str, resolved: Mapping[str, Any], registry: Any) -> BenchbenchError:
    """The error for a hyperparameter the run does not have; when it belongs to a registered
    component the run does not use, it says how to choose that component."""
    name, dot, _ = key.partition(".")
    if key in registry.entries:  # a kind's name: 'optimizer', once a loop setting
        return BenchbenchError(
            f"{key!r} is a component kind, not a hyperparameter: choose it with {option(key)}"
            f" (in a suite: fixed = {{ {key} = ... }}, or a track of kind {key})"
        )
    if not dot:
        owners = sorted(
            f"{entry.name}.{key}"
            for kind, entries in registry.entries.items()
            for entry in entries.values()
            if kind != "task" and key in entry.cls.defaults
        )
        if owners:
            return BenchbenchError(
                f"hyperparameter {key!r} is not the loop's; components declare "
                f"{', '.join(owners)} (name the one the run uses)"
            )
    if dot:
        for kind, entries in registry.entries.items():
            if name in entries and kind != "task":
                return BenchbenchError(
                    f"hyperparameter {key!r} belongs to {kind} {name!r}, which this run does "
                    f"not use: choose it with {option(kind, name)} (in a suite: the track's {kind})"
                )
    return unknown_name("hyperparameter", key, resolved)


class InputMismatch(BenchbenchError):
    """A component paired with a task whose input kind it does not accept: a suite skips
    the pair with one line, ``run-one`` refuses it."""


def input_mismatch(task: type[Component], components: Sequence[type[Component]]) -> None:
    """Raise :class:`InputMismatch` for the first component that does not accept the task's
    input kind (:attr:`~benchbench.Component.accepts`)."""
    modality = getattr(task, "modality", None)
    for cls in components:
        if modality is not None and not cls.accepts_input(modality):
            raise InputMismatch(
                f"{cls.kind} {cls.name!r} accepts {', '.join(cls.accepts)} inputs and task "
                f"{task.name!r} is {modality}"
            )


def combination_problems(
    task: type[Component],
    regularizers: Sequence[type[Regularizer]],
    ssl: type[SSL],
    finetune: type[Finetune],
) -> list[str]:
    """Warnings for a combination that runs but probably measures something unintended;
    raises :class:`~benchbench.BenchbenchError` for one that cannot work."""

    refuse = BenchbenchError
    semi = overrides(ssl, SSL, "unlabeled_loss")
    pretrains = overrides(ssl, SSL, "pretrain_loss")
    if semi and getattr(task, "has_unlabeled", None) is False:
        raise refuse(
            f"ssl {ssl.name!r} trains on unlabeled data and task {task.name!r} has none "
            "(use a semi-supervised task, such as one ending in -semi)"
        )
    if pretrains and not finetune.uses_pretrained:
        raise refuse(
            f"finetune {finetune.name!r} starts from a fresh network and would discard ssl "
            f"{ssl.name!r}'s pretraining (use ssl 'supervised')"
        )
    if overrides(finetune, Finetune, "fit"):
        active = [r.name for r in regularizers if _acts(r)]
        if active:
            raise refuse(
                f"finetune {finetune.name!r} fits in closed form, so regularizer "
                f"{'+'.join(active)!r} would have no effect (use 'none')"
            )
        if semi:
            raise refuse(
                f"finetune {finetune.name!r} fits in closed form: ssl {ssl.name!r} trains "
                "jointly with gradient steps and cannot apply"
            )
    if finetune.expects_pretrained and getattr(task, "source", None) is None and not pretrains:
        return [
            f"finetune {finetune.name!r} on task {task.name!r} with ssl {ssl.name!r} adapts a "
            "randomly initialised network: nothing was pretrained (use a transfer task or a "
            "pretraining ssl method)"
        ]
    return []


def optimizer_problem(chain: Sequence[type], settings: Mapping[str, Any]) -> str | None:
    """Why a run's optimizer (``chain``: it, then the base it wraps, ...) cannot train with
    these loop ``settings`` (one line), or None: its own
    :meth:`~benchbench.Optimizer.problem`, or a step that evaluates the loss
    twice (SAM) under fp16, whose gradient scaler steps once per loss."""
    for cls in chain:
        problem = cls.problem(settings)
        if problem:
            return problem
    twice = [cls.name for cls in chain if cls.closure]
    if twice and settings.get("precision") == "fp16":
        return (
            f"optimizer {twice[0]} evaluates the loss twice per step, which fp16's gradient "
            f"scaler cannot step (use {option('precision', 'bf16')} or fp32)"
        )
    return None


def warn(messages: Sequence[str]) -> None:
    """Emit each message once as a :class:`~benchbench.errors.BenchbenchWarning`."""
    for message in messages:
        warnings.warn(message, BenchbenchWarning, stacklevel=3)


def _acts(regularizer: type[Regularizer]) -> bool:
    return any(overrides(regularizer, Regularizer, m) for m in _REGULARIZER_METHODS)
