"""Noticing a run whose loss diverged: not finite, or exploding."""

from __future__ import annotations

import math

import torch

EXPLODE_FACTOR = 10.0
EXPLODE_STEPS = 20
"""A loss counts as exploded when it stays above ``EXPLODE_FACTOR`` x max(1, its first
value) for ``EXPLODE_STEPS`` steps in a row: far above where any healthy run starts, for
long enough that a spike is not mistaken for it."""


class Divergence:
    """Notices a loss that is not finite, or that explodes (see ``EXPLODE_FACTOR``). On the
    CPU it looks every step (``.item()`` is free); on an accelerator ``.item()`` would sync
    every step, so it accumulates on the device and looks when asked. Returns the reason."""

    def __init__(self, device: torch.device) -> None:
        self.every_step = device.type == "cpu"
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
        value = loss.detach()
        self.nonfinite |= ~torch.isfinite(value)
        if self.ceiling is None:
            self.ceiling = EXPLODE_FACTOR * value.clamp(min=1.0)
        self.streak = (self.streak + 1) * (value > self.ceiling)
        self.exploded |= self.streak >= EXPLODE_STEPS
        if not check:
            return None
        if bool(self.nonfinite):
            return f"non-finite loss by step {self.steps}"
        return self._exploded(value.item()) if bool(self.exploded) else None

    def _exploded(self, value: float) -> str:
        return (
            f"loss exploded: above {float(self.ceiling):.3g} ({EXPLODE_FACTOR:g}x its start) "
            f"for {EXPLODE_STEPS} steps in a row, {value:.3g} at step {self.steps}"
        )
