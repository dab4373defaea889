"""The device a run trains on: ``auto`` resolved, the others' form checked, and, where the run
will train here, that this machine has what it names."""

from __future__ import annotations

import torch

from ..errors import BenchbenchError


def resolve_device(device: str, here: bool = True) -> str:
    """``auto`` becomes ``cuda`` when a GPU is visible here, else ``cpu``; others are
    checked: their form, and with ``here`` that this machine has a GPU for ``cuda`` (not so
    when the runs will train elsewhere: a Ray cluster's nodes)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device != "cpu" and not device.startswith("cuda"):
        raise BenchbenchError(f"device must be auto, cpu or cuda[:N], got {device!r}")
    if here and device.startswith("cuda") and not torch.cuda.is_available():
        raise BenchbenchError(f"device {device!r} was asked for but no CUDA GPU is visible")
    return device
