"""Noticing a run whose loss diverged: not finite, or exploding."""

from __future__ import annotations

import math

import torch

EXPLODE_FACTOR = 10.0
EXPLODE_STEPS = 20
"""A loss counts as exploded when it stays above ``EXPLODE_FACTOR`` x max(1, its first
value) for ``EXPLODE_STEPS`` steps in a row: far above where any healthy run starts, for
long enough that a spike is not mistaken for it."""


BLOCK = 64
"""Losses an accelerator keeps on the device before it folds them into the verdict: one
copy per step instead of a handful of small kernels, which a launch-bound GPU step feels."""


class Divergence:
    """Notices a loss that is not finite, or that explodes (see ``EXPLODE_FACTOR``). On the
    CPU it looks every step (``.item()`` is free); on an accelerator ``.item()`` would sync
    every step, so it copies each loss into a device buffer (one kernel), folds a full
    buffer into the verdict there without syncing, and looks when asked. Returns the
    reason."""

    def __init__(self, device: torch.device) -> None:
        self.every_step = device.type == "cpu"
        self.buffer = torch.zeros(BLOCK, dtype=torch.float32, device=device)
        self.filled = 0
        self.positions = torch.arange(BLOCK, device=device)
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        self.streak = torch.zeros((), dtype=torch.int64, device=device)
        self.exploded = torch.zeros((), dtype=torch.bool, device=device)
        self.ceiling: torch.Tensor | float | None = None
        self.steps = self.over = 0

    def __call__(self, loss: torch.Tensor, check: bool) -> str | None:
        self.steps += 1
        if self.every_step:
            value = loss.item()
            if not math.isfinite(value):
                return f"non-finite loss at step {self.steps}"
            if self.ceiling is None:
                self.ceiling = EXPLODE_FACTOR * max(1.0, value)
            self.over = self.over + 1 if value > self.ceiling else 0
            return self._exploded(value) if self.over >= EXPLODE_STEPS else None
        self.buffer[self.filled].copy_(loss.detach())
        self.filled += 1
        if self.filled == BLOCK or check:
            self._fold()
        if not check:
            return None
        if bool(self.nonfinite):
            return f"non-finite loss by step {self.steps}"
        return self._exploded(self.last.item()) if bool(self.exploded) else None

    def _fold(self) -> None:
        """The buffered losses into the verdict, on the device: any not finite; each one's
        run of consecutive losses above the ceiling (carried over from the last fold),
        found with a running maximum of the last position that was not above it."""
        values, n = self.buffer[: self.filled], self.filled
        self.filled = 0
        self.last = values[-1].clone()
        self.nonfinite |= ~torch.isfinite(values).all()
        if self.ceiling is None:
            self.ceiling = EXPLODE_FACTOR * values[0].clamp(min=1.0)
        positions = self.positions[:n]
        over = values > self.ceiling
        # the last position not above the ceiling; before this block: -1 - the carried run
        reset = torch.where(over, -1 - self.streak, positions).cummax(0).values
        run = positions - reset
        self.exploded |= (run >= EXPLODE_STEPS).any()
        self.streak = run[-1]

    def _exploded(self, value: float) -> str:
        return (
            f"loss exploded: above {float(self.ceiling):.3g} ({EXPLODE_FACTOR:g}x its start) "
            f"for {EXPLODE_STEPS} steps in a row, {value:.3g} at step {self.steps}"
        )
