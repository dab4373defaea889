"""What a run records besides stepping: its eval points (the clock paused), the first that
reaches the task's target, what serving the trained model costs, and the result.

The test split is scored once, at the end, on the final model; never during training, and
never at all in a tuning trial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch

from ..budget import BudgetClock
from ..components import Model, count_parameters
from ..data.streams import Decode
from ..plugins.observers import notify
from ..spec import RunResult, RunSpec
from ..tasks import Split
from .metrics import (
    LATENCY_BATCH,
    accuracy,
    correct_fraction,
    expected_calibration_error,
    inference_latency_ms,
    model_bytes,
    predict,
)


class Recorder:
    """The curve of one run: every eval point, time-to-target, and the evaluation seconds
    (kept off the training clock). ``hook`` is the plugin manager's hook relay (observers
    see every point), ``on_eval`` the caller's callback (tuning reports there, and may
    raise to prune), ``decode`` the task's stored inputs to model inputs."""

    def __init__(
        self,
        spec: RunSpec,
        target_accuracy: float,
        val: Split,
        device: torch.device,
        hook: Any,
        on_eval: Callable[[dict[str, Any]], None] | None,
        decode: Decode | None = None,
    ) -> None:
        self.spec, self.target_accuracy, self.val, self.device = spec, target_accuracy, val, device
        self.decode = decode
        self.hook, self.on_eval = hook, on_eval
        self.curve: list[dict[str, Any]] = []
        self.target_point: dict[str, Any] | None = None
        self.eval_seconds = 0.0

    def eval_point(
        self, model: Model, clock: BudgetClock, extras: dict[str, Any] | None = None
    ) -> None:
        """Validation accuracy at the current step; the caller has paused the clock.
        ``extras`` (the last training loss, throughput, data-wait share) reach observers
        and ``on_eval`` with the point, not the stored curve."""
        started = time.perf_counter()
        val = self.val
        val_accuracy = accuracy(model, val.x.to(self.device), val.y.to(self.device), self.decode)
        point = {
            "step": clock.steps,
            "epoch": clock.epoch,
            "samples": clock.samples,
            "train_seconds": clock.seconds,
            "val_accuracy": val_accuracy,
        }
        self.curve.append(point)
        if self.target_point is None and val_accuracy >= self.target_accuracy:
            self.target_point = point
        seen = {**point, **extras} if extras else point  # observers' view; the curve stays
        if self.hook is not None:
            notify(self.hook.benchbench_eval_point, spec=self.spec, point=dict(seen))
        if self.on_eval is not None:
            self.on_eval(dict(seen))
        self.eval_seconds += time.perf_counter() - started

    def deployment(self, model: Model, sync: Callable[[], None]) -> dict[str, Any]:
        """What serving the trained model costs: its size and its inference latency at batch
        1 and at a large batch, measured off the clock on one validation input."""
        example = self.val.x[:1].to(self.device)
        example = (example if self.decode is None else self.decode(example))[0]
        return {
            "model_bytes": model_bytes(model),
            "latency_batch1_ms": inference_latency_ms(model, example, 1, 20, sync, warmup=3),
            "latency_batch1024_ms": inference_latency_ms(
                model, example, LATENCY_BATCH, 3, sync, warmup=1
            ),
        }

    def score(self, model: Model, test: Split) -> dict[str, float]:
        """Test accuracy and calibration of the final model (evaluation time)."""
        started = time.perf_counter()
        test_y = test.y.to(self.device)
        probs = predict(model, test.x.to(self.device), self.decode)
        scores = {
            "test_accuracy": correct_fraction(probs, test_y),
            "test_ece": expected_calibration_error(probs, test_y),
        }
        self.eval_seconds += time.perf_counter() - started
        return scores

    def result(
        self,
        status: str,
        model: Model,
        clock: BudgetClock,
        sync: Callable[[], None],
        **measured: Any,
    ) -> RunResult:
        """The run's result: the curve and time-to-target, the clock's counts, the model's
        size and (when the run ended ok) its deployment cost, and the ``measured`` rest (test
        scores, loader profile, pretraining, chance accuracy, the divergence reason)."""
        train_seconds, ttt, ok = clock.seconds, self.target_point, status == "ok"
        return RunResult.for_spec(
            self.spec,
            status,
            best_val_accuracy=max((p["val_accuracy"] for p in self.curve), default=None),
            final_val_accuracy=self.curve[-1]["val_accuracy"] if self.curve and ok else None,
            time_to_target_s=ttt["train_seconds"] if ttt else None,
            time_to_target_steps=ttt["step"] if ttt else None,
            time_to_target_samples=ttt["samples"] if ttt else None,
            train_seconds=train_seconds,
            eval_seconds=self.eval_seconds,
            steps=clock.steps,
            epochs=clock.epoch,
            samples_seen=clock.samples,
            samples_per_s=clock.samples / train_seconds
            if train_seconds > 0 and clock.samples
            else None,
            params=count_parameters(model),
            **self.deployment(model, sync) if ok else {},
            curve=self.curve,
            **measured,
        )
