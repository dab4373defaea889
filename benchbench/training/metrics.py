"""Scores of a trained model: accuracy and calibration on a split, and what deploying it costs
(size, inference latency)."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import Tensor, nn

from ..data.streams import Decode, batches

EVAL_BATCH = 2048
ECE_BINS = 15


@torch.inference_mode()
def predict(model: nn.Module, x: Tensor, decode: Decode | None = None) -> Tensor:
    """Class probabilities for ``x``, in eval mode, in large batches (each turned into model
    inputs by ``decode`` when the inputs are stored otherwise)."""
    modes = _modes(model)
    model.eval()
    decode = decode or (lambda xb: xb)
    probs = torch.cat([torch.softmax(model(decode(xb)), dim=-1) for xb in batches(x, EVAL_BATCH)])
    _restore(model, modes)
    return probs


def accuracy(model: nn.Module, x: Tensor, y: Tensor, decode: Decode | None = None) -> float:
    """Fraction of ``x`` the model classifies as ``y`` (``decode``: as for :func:`predict`)."""
    return correct_fraction(predict(model, x, decode), y)


def correct_fraction(probs: Tensor, y: Tensor) -> float:
    """Exact fraction of rows whose most probable class is ``y`` (an integer count over n)."""
    return int((probs.argmax(dim=-1) == y).sum()) / len(y)


def expected_calibration_error(probs: Tensor, y: Tensor, bins: int = ECE_BINS) -> float:
    """ECE (Guo et al., 2017): examples binned by confidence (the top probability) into
    ``bins`` equal-width bins on [0, 1]; the size-weighted mean over bins of
    ``|accuracy - mean confidence|``. Zero for a perfectly calibrated model."""
    confidence, predicted = probs.max(dim=-1)
    correct = (predicted == y).float()
    index = torch.clamp((confidence * bins).ceil().long() - 1, 0, bins - 1)
    ece = torch.zeros((), dtype=torch.float64, device=probs.device)
    for b in range(bins):
        members = index == b
        if members.any():
            gap = (correct[members].mean() - confidence[members].mean()).abs()
            ece += gap.double() * members.float().mean().double()
    return float(ece)


LATENCY_BATCH = 1024
"""The large batch of the deployment latency (throughput-bound serving); the other is 1."""


def model_bytes(model: nn.Module) -> int:
    """Bytes of the model's parameters and buffers: its size on disk or in device memory."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


@torch.inference_mode()
def inference_latency_ms(
    model: nn.Module,
    example: Tensor,
    batch: int,
    repeats: int,
    sync: Callable[[], None],
    warmup: int = 1,
) -> float:
    """Median wall-clock milliseconds of one forward pass in eval mode over ``batch`` copies
    of ``example`` (one input), after ``warmup`` untimed passes; the device is synchronised
    around every timed pass."""
    modes = _modes(model)
    model.eval()
    x = example.unsqueeze(0).expand(batch, *example.shape).contiguous()
    times = []
    for i in range(warmup + repeats):
        sync()
        started = time.perf_counter()
        model(x)
        sync()
        if i >= warmup:
            times.append((time.perf_counter() - started) * 1000)
    _restore(model, modes)
    return float(statistics.median(times))


def _modes(model: nn.Module) -> list[bool]:
    return [m.training for m in model.modules()]


def _restore(model: nn.Module, modes: list[bool]) -> None:
    """Put every module back in the mode it had: a fine-tune strategy may keep frozen blocks
    in eval mode while the rest trains."""
    for module, training in zip(model.modules(), modes, strict=True):
        module.training = training
