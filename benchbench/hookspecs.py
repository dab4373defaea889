"""Every hook of benchbench: the one contract between the core and its plugins.

Hooks are grouped by lifecycle. A plugin implements any of them with ``@benchbench.hookimpl``
on a module-level function (or a method of an object passed to ``-p``), using the argument
names given here; pluggy lets an implementation take any subset of them.

A module-level ``benchbench_*`` function that is no hook here, a hook function without
``@benchbench.hookimpl``, or a near miss of a hook's name (``benchbech_...``) keeps the plugin
from loading, with a line saying which: otherwise it would silently never be called.

Register
    ``benchbench_register_components``, ``benchbench_register_suites``,
    ``benchbench_register_trackers`` and ``benchbench_register_executors`` are called once
    per plugin manager, when the registry is first built, in every process that runs. A
    plugin registers all or nothing: if its hook raises, or adds a class that breaks the
    contract or takes a name, everything it added is removed and it is reported as not
    loaded (a ``-p`` module's failure is an error instead, as the user asked for it).
Run
    ``benchbench_run_started``, ``benchbench_eval_point`` and ``benchbench_run_finished`` are
    called by the training loop, in the process that trains, for every implementation
    (observers: loggers, trackers, live dashboards). Their return values are ignored, and
    an exception in one is a warning naming its plugin: it never fails the run or stops a
    suite. They must not change what they are handed (the model's weights, the result).

Stable API: the hook names and argument names below; new arguments may be added (an
implementation takes any subset, so adding one breaks no plugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from .plugins.registry import Registry
    from .spec import RunResult, RunSpec

PROJECT = "benchbench"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Marks a plugin's implementation of a hook of this module (``benchbench.hookimpl``)."""


# -- register ------------------------------------------------------------------------------------


@hookspec
def benchbench_register_components(registry: Registry) -> None:
    """Hand component classes to the registry: ``registry.add(MyRegularizer)``.

    The kind (task, architecture, regularizer, ssl, finetune, optimizer) follows from the base
    class. Two components of one kind with the same ``name`` are an error naming both
    distributions. Called once when the registry is built.
    """


@hookspec
def benchbench_register_suites(registry: Registry) -> None:
    """Hand suite files to the registry: ``registry.add_suite(Path(...))``.

    The suite's name is its file's stem. Suites ship with plugins, so the core names no
    technique, not even in its built-in suites. Called once when the registry is built.
    """


@hookspec
def benchbench_register_trackers(registry: Registry) -> None:
    """Hand experiment trackers to the registry: ``registry.add_tracker(MyTracker)``, a
    :class:`~benchbench.Tracker` subclass chosen with ``--log NAME[:TARGET]``.

    Trackers run in the driver (the process that stores results), fed every run handed
    out, its eval points as it trains (sent back from the workers) and its stored result;
    see :mod:`benchbench.tracking`. Called once when the registry is built.
    """


@hookspec
def benchbench_register_executors(registry: Registry) -> None:
    """Hand executors to the registry: ``registry.add_executor(MyExecutor)``, a
    :class:`~benchbench.Executor` subclass chosen with ``--executor NAME``, with the options
    it declares (:class:`~benchbench.ExecutorOption`) as flags of ``run`` and ``tune``.

    An executor places runs (worker processes, a cluster's jobs) and hands their results back
    to the process that stores them; see :mod:`benchbench.executors`. The core registers its
    own ``local`` executor through this hook too. Called once when the registry is built.
    """


# -- run -----------------------------------------------------------------------------------------


@hookspec
def benchbench_run_started(spec: RunSpec, model: Any) -> None:
    """A run has built its model and is about to take its first step. ``model`` is the
    :class:`~benchbench.Model` on the run's device: read it (count, log, watch), never
    change it."""


@hookspec
def benchbench_eval_point(spec: RunSpec, point: dict[str, Any]) -> None:
    """The loop evaluated on the validation split; the training clock is paused.

    ``point`` holds ``step``, ``epoch``, ``samples``, ``train_seconds`` and ``val_accuracy``
    (a copy: changing it changes nothing), and during training also ``train_loss`` (the
    last step's), ``samples_per_s`` and ``data_wait_fraction``. Time spent here is
    evaluation time, not training.
    """


@hookspec
def benchbench_run_finished(spec: RunSpec, result: RunResult) -> None:
    """A run ended ok, diverged or failed; ``result`` is what will be stored.

    A run killed by its executor for running over time never reaches this hook. The result
    is stored whatever the hook does.
    """
