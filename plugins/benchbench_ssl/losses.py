"""The losses of the semi- and self-supervised methods as pure functions, pinned by the tests."""

from __future__ import annotations

import torch
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


def nt_xent(z1: Tensor, z2: Tensor, temperature: float) -> Tensor:
    """NT-Xent (SimCLR, Chen et al., 2020): the 2N projections are L2-normalised; each one's
    positive is the other view of its example, the other 2N - 2 are its negatives; cosine
    similarities over ``temperature``; the mean over all 2N anchors of ``-log softmax``."""
    n = len(z1)
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    similarity = (z @ z.T / temperature).masked_fill(
        torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf")
    )
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(similarity, positives)


def info_nce(predictions: Tensor, targets: Tensor) -> Tensor:
    """InfoNCE (van den Oord et al., 2018): row i of ``predictions`` scores every row of
    ``targets`` by dot product; row i of ``targets`` is its positive, the other rows its
    negatives; the mean cross-entropy of picking the positive."""
    logits = predictions @ targets.T
    return F.cross_entropy(logits, torch.arange(len(predictions), device=logits.device))


def contractive_penalty(code: Tensor, inputs: Tensor, directions: Tensor | None = None) -> Tensor:
    """The contractive penalty (Rifai et al., 2011): the squared Frobenius norm of the
    Jacobian of ``code`` (batch, units) with respect to ``inputs``, summed per example and
    averaged over the batch. ``inputs`` must require grad and ``code`` be computed from it.

    ``directions=None`` computes it exactly, one vector-Jacobian product per code unit
    (``||J||_F^2 = sum_j ||J^T e_j||^2``). Given ``directions`` (``(m, units)``, or
    ``(m, batch, units)`` for a draw per example), it is the mean over them of
    ``||J^T v||^2``: with Rademacher directions an unbiased estimate (Hutchinson) at the
    cost of ``m`` products instead of ``units``. The graph is kept, so the penalty trains.
    """
    if directions is None:
        directions = torch.eye(code.shape[1], dtype=code.dtype, device=code.device)
        scale = 1.0
    else:
        scale = 1.0 / len(directions)
    total = code.new_zeros(())
    for v in directions:
        (grad,) = torch.autograd.grad((code * v).sum(), inputs, create_graph=True)
        total = total + grad.pow(2).sum()
    return scale * total / len(code)


def l1_sparsity(code: Tensor) -> Tensor:
    """L1 sparsity: the sum of absolute code activations per example, batch mean."""
    return code.abs().sum(dim=1).mean()


def kl_sparsity(code: Tensor, target: float) -> Tensor:
    """KL sparsity (Ng's sparse autoencoder notes): with each code unit's mean activation
    over the batch ``rho_j`` (activations in (0, 1)), ``sum_j KL(target || rho_j)`` between
    Bernoulli distributions."""
    rho = code.mean(dim=0).clamp(1e-6, 1 - 1e-6)
    return (
        target * torch.log(target / rho) + (1 - target) * torch.log((1 - target) / (1 - rho))
    ).sum()
