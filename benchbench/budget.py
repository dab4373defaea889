"""The budget a run may spend, and the clock that enforces it.

A budget is any of epochs, optimizer steps and training seconds; whichever runs out first ends
the run. Every phase of a method (pretraining, a teacher) draws on the same budget. The clock
counts training time only: it is paused while the loop evaluates.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

_LIMITS = ("epochs", "steps", "seconds")


@dataclass(frozen=True)
class Budget:
    """Limits of one run, plus how often it is evaluated (in epochs)."""

    epochs: float | None = None
    steps: int | None = None
    seconds: float | None = None
    eval_every: float = 1.0

    def __post_init__(self) -> None:
        if all(getattr(self, k) is None for k in _LIMITS):
            raise ValueError("a budget needs at least one of epochs, steps or seconds")
        for key in (*_LIMITS, "eval_every"):
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
                raise ValueError(f"budget {key} must be a positive number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"budget {key} must be finite, got {value!r}")
        if self.steps is not None and not isinstance(self.steps, int):
            raise ValueError(f"budget steps must be a whole number, got {self.steps!r}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Budget:
        """Build from a mapping such as a suite file's ``budget = {epochs = 5}``."""
        unknown = set(data) - {*_LIMITS, "eval_every"}
        if unknown:
            raise ValueError(
                f"unknown budget key(s) {sorted(map(str, unknown))}; "
                "use epochs, steps, seconds, eval_every"
            )
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """The non-empty fields, for specs and storage."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def replace(self, **changes: Any) -> Budget:
        """A copy with some limits changed; ``None`` removes a limit."""
        return Budget(**{**asdict(self), **changes})


def budget_of(
    epochs: float | None = None,
    steps: int | None = None,
    seconds: float | None = None,
    eval_every: float = 1.0,
) -> Budget | None:
    """The budget these limits name (whichever runs out first ends a run), or None when none
    is given: then the task's own budget applies."""
    if not (epochs or steps or seconds):
        return None
    return Budget(epochs=epochs, steps=steps, seconds=seconds, eval_every=eval_every)


class BudgetClock:
    """Counts steps, samples and training seconds, and says when the budget is spent.

    ``sync`` is called before every reading of the wall clock at a phase boundary, so that on
    an accelerator the time includes the work queued so far (``torch.cuda.synchronize``).
    """

    def __init__(
        self,
        budget: Budget,
        steps_per_epoch: int,
        sync: Callable[[], None] = lambda: None,
    ) -> None:
        if steps_per_epoch < 1:
            raise ValueError("steps_per_epoch must be at least 1")
        self.budget = budget
        self.steps_per_epoch = steps_per_epoch
        self.steps = 0
        self.samples = 0
        self._sync = sync
        self._seconds = 0.0
        self._started_at: float | None = None
        limits = [budget.steps or math.inf]
        if budget.epochs is not None:
            limits.append(math.ceil(budget.epochs * steps_per_epoch))
        self.max_steps = min(limits)

    @property
    def epoch(self) -> float:
        """Epochs completed so far (fractional)."""
        return self.steps / self.steps_per_epoch

    @property
    def seconds(self) -> float:
        """Training seconds so far, without syncing (cheap; for the per-step budget check)."""
        running = time.perf_counter() - self._started_at if self._started_at is not None else 0.0
        return self._seconds + running

    def start(self) -> None:
        """Start (or resume) counting training time."""
        if self._started_at is None:
            self._sync()
            self._started_at = time.perf_counter()

    def pause(self) -> None:
        """Stop counting, e.g. while evaluating; the device is synchronised first."""
        if self._started_at is not None:
            self._sync()
            self._seconds += time.perf_counter() - self._started_at
            self._started_at = None

    def tick(self, samples: int) -> None:
        """Record one optimizer step over ``samples`` examples."""
        self.steps += 1
        self.samples += samples

    def progress(self) -> float:
        """Fraction of the budget spent, by whichever limit is closest to running out."""
        parts = [self.steps / self.max_steps] if self.max_steps != math.inf else []
        if self.budget.seconds is not None:
            parts.append(self.seconds / self.budget.seconds)
        return min(1.0, max(parts))

    def exhausted(self) -> bool:
        """True once any limit is reached."""
        return self.progress() >= 1.0
