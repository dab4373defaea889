"""What every tracker here logs the same way: names of runs and of the curves' metrics."""

from __future__ import annotations

import re
from typing import Any

POINT_METRICS = ("val_accuracy", "train_loss", "samples_per_s", "data_wait_fraction")
"""The fields of an eval point logged as metrics (against the step), when present."""

BY_SECONDS = "val_accuracy_by_train_ms"
"""Validation accuracy again, its step the training milliseconds: the curve against time."""


def point_metrics(point: dict[str, Any]) -> dict[str, float]:
    """The numbers of an eval point worth a metric."""
    return {
        k: float(point[k])
        for k in POINT_METRICS
        if isinstance(point.get(k), int | float) and not isinstance(point.get(k), bool)
    }


def train_ms(point: dict[str, Any]) -> int:
    """The point's training time in whole milliseconds."""
    return int(round(float(point.get("train_seconds") or 0.0) * 1000))


def safe_name(text: str) -> str:
    """``text`` as one folder name: letters, digits, ``-_.`` and nothing that climbs."""
    cleaned = re.sub(r"[^\w.\-]+", "_", text).strip("._") or "run"
    return cleaned[:120]
