"""Regularizers that mix pairs of examples and their targets: mixup, cutmix, manifold mixup."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from benchbench import Float, Model, Regularizer

from ._sampling import host_rng, mix, partners, spatial_shape


class _PairMixing(Regularizer):
    """What the mixing regularizers share: ``lam ~ Beta(alpha, alpha)`` drawn once per batch
    from the run's generator, ``alpha`` searched on a log scale."""

    alpha_range = (0.1, 2.0)

    @classmethod
    def search_space(cls, trial):
        return {"alpha": trial.suggest_float(f"{cls.name}.alpha", *cls.alpha_range, log=True)}

    def draw(self, generator: torch.Generator) -> tuple[np.random.Generator, float]:
        """A host RNG for further scalar draws, and this batch's lambda."""
        alpha = float(self.hparams["alpha"])
        rng = host_rng(generator)
        return rng, float(rng.beta(alpha, alpha))


class Mixup(_PairMixing):
    """mixup (Zhang et al., 2018): ``x = lam x_i + (1 - lam) x_j`` and the same for the soft
    targets, ``lam ~ Beta(alpha, alpha)`` once per batch, ``j`` a random partner in the batch.
    Default alpha 1.0, the paper's CIFAR setting."""

    name = "mixup"
    summary = "convex mix of example pairs and their soft targets, lam ~ Beta(alpha, alpha)"
    defaults = {"alpha": 1.0}
    params = {"alpha": Float(0, low_open=True, help="Beta(alpha, alpha) draws the mixing weight")}

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        _, lam = self.draw(generator)
        pair = partners(len(x), generator)
        self.last_lambda = lam
        return mix(x, x[pair], lam), mix(targets, targets[pair], lam)


def cut_box(shape: tuple[int, ...], lam: float, rng) -> tuple[slice, ...]:
    """A box covering about ``1 - lam`` of ``shape`` (side ratio ``(1 - lam)^(1/d)``), centred
    uniformly and clipped at the borders, as in the CutMix paper's reference code."""
    ratio = (1.0 - lam) ** (1.0 / len(shape))
    box = []
    for size in shape:
        cut = int(size * ratio)
        centre = int(rng.integers(size))
        box.append(slice(max(centre - cut // 2, 0), min(centre + cut // 2 + cut % 2, size)))
    return tuple(box)


class CutMix(_PairMixing):
    """CutMix (Yun et al., 2019): a box of the partner example is pasted into each example
    (one box per batch); the targets are mixed by the box's exact area after clipping, not by
    the drawn lambda. Boxes on images, spans on signals. Default alpha 1.0, the paper's."""

    accepts = ("image", "sequence")
    name = "cutmix"
    summary = "paste a box (2-D) or span (1-D) of a partner; targets mixed by its exact area"
    defaults = {"alpha": 1.0}
    params = {"alpha": Float(0, low_open=True, help="Beta(alpha, alpha) draws the mixing weight")}

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        rng, drawn = self.draw(generator)
        shape = spatial_shape(x)
        box = cut_box(shape, drawn, rng)
        pair = partners(len(x), generator)
        index = (slice(None), slice(None), *box) if x.ndim > 2 else (slice(None), *box)
        mixed = x.clone()
        mixed[index] = x[pair][index]
        area = math.prod(s.stop - s.start for s in box)
        lam = 1.0 - area / math.prod(shape)
        self.last_box, self.last_lambda = box, lam
        return mixed, mix(targets, targets[pair], lam)


class ManifoldMixup(_PairMixing):
    """Manifold mixup (Verma et al., 2019): mixup applied to the hidden state entering a
    randomly chosen encoder block (block 0 is the input itself), targets mixed alike; the
    rest of the network runs on the mixed state. Default alpha 2.0, the paper's."""

    name = "manifold-mixup"
    summary = "mixup of hidden states at a randomly chosen encoder block, targets mixed alike"
    defaults = {"alpha": 2.0}
    params = {"alpha": Float(0, low_open=True, help="Beta(alpha, alpha) draws the mixing weight")}
    alpha_range = (0.1, 4.0)

    def forward(
        self, model: Model, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        rng, lam = self.draw(generator)
        blocks = list(model.encoder)
        at = int(rng.integers(len(blocks)))
        pair = partners(len(x), generator)
        hidden = x
        for i, block in enumerate(blocks):
            if i == at:
                hidden = mix(hidden, hidden[pair], lam)
            hidden = block(hidden)
        self.last_block, self.last_lambda = at, lam
        return model.head(hidden.flatten(1)), mix(targets, targets[pair], lam)
