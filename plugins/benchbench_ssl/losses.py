"""The semi-supervised losses as pure functions of logits, pinned by the tests."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def confidence_mask(probs: Tensor, threshold: float) -> Tensor:
    """1.0 for rows whose top probability reaches ``threshold`` (inclusive), else 0.0."""
    return (probs.max(dim=-1).values >= threshold).float()


def pseudo_label_loss(logits: Tensor, threshold: float) -> Tensor:
    """Pseudo-labeling (Lee, 2013) with a confidence threshold: cross-entropy of each
    prediction against its own argmax, kept where the (detached) confidence reaches
    ``threshold``; the mean over the whole batch, so few confident rows give a small loss."""
    probs = logits.detach().softmax(dim=-1)
    mask = confidence_mask(probs, threshold)
    return (F.cross_entropy(logits, probs.argmax(dim=-1), reduction="none") * mask).mean()


def fixmatch_loss(logits_weak: Tensor, logits_strong: Tensor, threshold: float) -> Tensor:
    """FixMatch (Sohn et al., 2020): hard pseudo-labels from the weak view where confident,
    cross-entropy of the strong view against them; batch mean."""
    probs = logits_weak.detach().softmax(dim=-1)
    mask = confidence_mask(probs, threshold)
    return (F.cross_entropy(logits_strong, probs.argmax(dim=-1), reduction="none") * mask).mean()


def uda_loss(
    logits_weak: Tensor, logits_strong: Tensor, temperature: float, threshold: float
) -> Tensor:
    """UDA (Xie et al., 2020): ``KL(sharpen(p_weak) || p_strong)`` per example, sharpened by
    dividing the weak logits by ``temperature``, masked where the weak view's confidence
    reaches ``threshold``; batch mean."""
    weak = logits_weak.detach()
    mask = confidence_mask(weak.softmax(dim=-1), threshold)
    target_log = F.log_softmax(weak / temperature, dim=-1)
    kl = (target_log.exp() * (target_log - F.log_softmax(logits_strong, dim=-1))).sum(dim=-1)
    return (kl * mask).mean()


def ramp(progress: float, until: float) -> float:
    """Linear ramp-up of an unlabeled loss weight from 0 at the start to 1 at ``until``."""
    return 1.0 if until <= 0 else min(progress / until, 1.0)
