"""Scores of a trained model on a split: accuracy, and how well its confidence is calibrated."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .data.streams import batches

EVAL_BATCH = 2048
ECE_BINS = 15


@torch.inference_mode()
def predict(model: nn.Module, x: Tensor) -> Tensor:
    """Class probabilities for ``x``, in eval mode, in large batches."""
    was_training = model.training
    model.eval()
    probs = torch.cat([torch.softmax(model(xb), dim=-1) for xb in batches(x, EVAL_BATCH)])
    model.train(was_training)
    return probs


def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` the model classifies as ``y``."""
    return correct_fraction(predict(model, x), y)


def correct_fraction(probs: Tensor, y: Tensor) -> float:
    """Exact fraction of rows whose most probable class is ``y`` (an integer count over n)."""
    return int((probs.argmax(dim=-1) == y).sum()) / len(y)


def expected_calibration_error(probs: Tensor, y: Tensor, bins: int = ECE_BINS) -> float:
    """ECE (Guo et al., 2017): examples binned by confidence (the top probability) into
    ``bins`` equal-width bins on [0, 1]; the size-weighted mean over bins of
    |accuracy - mean confidence|. Zero for a perfectly calibrated model."""
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
