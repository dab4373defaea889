"""What a tracker is handed: the session (a suite, a tuning, one run), each run's
parameters and tags, its eval points and its result."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ..errors import BenchbenchError
from ..phrasing import option
from ..spec import KIND_NAMES, RunResult, RunSpec

FINAL_METRICS = (
    "test_accuracy",
    "test_ece",
    "best_val_accuracy",
    "time_to_target_s",
    "train_seconds",
    "samples_per_s",
    "params",
    "model_bytes",
    "latency_batch1_ms",
    "latency_batch1024_ms",
    "peak_memory_allocated_mb",
)
"""The result fields a tracker records as a run's final metrics (those the result has)."""


@dataclass(frozen=True)
class Session:
    """What one command tracks: ``kind`` (``suite``, ``tune`` or ``run``), its ``name`` (the
    suite's, the tuned candidate's, the run's) and its options."""

    kind: str
    name: str
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackedRun:
    """One benchbench run as a tracked run: ``run_id`` (the key: a run trained again is the
    same tracked run, never a second one), a readable ``name``, flat ``params`` (components,
    every resolved hyperparameter, budget, seed, device) and ``tags`` (suite, track, task,
    candidate, seed, run id, code identity; busy and status once finished)."""

    run_id: str
    name: str
    params: dict[str, Any]
    tags: dict[str, str]

    @classmethod
    def of(cls, spec: RunSpec, **labels: Any) -> TrackedRun:
        """The tracked run of ``spec``; ``labels`` (suite, track, candidate, trial) join its
        tags."""
        components = {kind: getattr(spec, kind) for kind in KIND_NAMES}
        shown = list(components.values())
        params: dict[str, Any] = {
            **components,
            "seed": spec.seed,
            "device": spec.device,
            **{f"budget.{k}": v for k, v in spec.budget.to_dict().items() if v is not None},
            **{k: _scalar(v) for k, v in sorted(spec.hparams.items())},
        }
        tags = {
            "benchbench.run_id": spec.run_id,
            "benchbench.task": spec.task,
            "benchbench.seed": str(spec.seed),
            "benchbench.code": json.dumps(spec.code, sort_keys=True) if spec.code else "",
            **{f"benchbench.{k}": str(v) for k, v in labels.items() if v is not None},
        }
        return cls(spec.run_id, f"{'/'.join(shown)}/seed{spec.seed}", params, tags)


def final_metrics(result: RunResult) -> dict[str, float]:
    """The numbers a finished run reports (see :data:`FINAL_METRICS`)."""
    out = {}
    for name in FINAL_METRICS:
        value = getattr(result, name, None)
        if value is None:
            value = (result.machine or {}).get(name)
        if isinstance(value, int | float) and not isinstance(value, bool):
            out[name] = float(value)
    return out


def _scalar(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


class Tracker:
    """An experiment tracker: subclass it, set ``name``, and register the class in a
    ``benchbench_register_trackers`` hook (``registry.add_tracker(MyTracker)``).

    One instance serves one command (a :class:`~benchbench.tracking.base.Session`); every
    method is called from one thread of the driver, in order: :meth:`run_started` once per
    run, :meth:`eval_point` at each of its eval points as it trains, :meth:`run_finished`
    with what was stored, :meth:`files` with the suite's leaderboard files (and report) at
    its end, :meth:`close` last. A method that raises is a warning, and the tracker is
    called no more."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    module: ClassVar[str] = ""
    """The package it needs (imported on open; missing is one line naming :attr:`extra`)."""
    extra: ClassVar[str] = ""
    """The extra that installs it: ``pip install 'benchbench[EXTRA]'``."""
    default_target: ClassVar[str | None] = None

    def __init__(self, target: str | None, session: Session) -> None:
        self.target = target if target else self.default_target
        self.session = session

    def run_started(self, run: TrackedRun) -> None:
        """A run was handed to a worker: create (or reopen, for ``run.run_id`` seen before)
        its tracked run with its params and tags."""

    def eval_point(self, run: TrackedRun, point: dict[str, Any]) -> None:
        """An eval point of ``run`` while it trains (see ``benchbench_eval_point``)."""

    def run_finished(self, run: TrackedRun, result: RunResult) -> None:
        """``run`` ended and ``result`` was stored: final metrics and status."""

    def files(self, paths: list[Path]) -> None:
        """Files for the session as a whole (a suite's leaderboard files)."""

    def close(self) -> None:
        """The session ended: flush and release."""


def parse_log(text: str) -> tuple[str, str | None]:
    """``NAME[:TARGET]`` as ``(name, target)``; the target may hold colons (a URI)."""
    name, sep, target = text.partition(":")
    if not name:
        raise BenchbenchError(
            f"{option('log')} {text!r}: name a tracker, as in NAME or NAME:TARGET"
        )
    return name, (target if sep and target else None)
