"""airbench's CIFAR-10 network (Jordan 2024, "94% on CIFAR-10 in 3.29 seconds on a single
GPU"; ``airbench94``): a 2x2 convolution initialised by whitening a sample of training
patches and frozen, then three blocks of conv, max-pool, BatchNorm, GELU, conv, BatchNorm,
GELU, whose convolutions start as identities (dirac), BatchNorm with a high momentum, tiny
eps and frozen scales, a global max pool, and a bias-free linear head scaled down."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from benchbench import Architecture, Float, Int, Model, RunContext


class _Conv(nn.Conv2d):
    """A 'same' 3x3 convolution without bias whose first ``in_channels`` filters start as
    identities (``torch.nn.init.dirac_``), the rest as torch initialises them."""

    def __init__(self, into: int, out: int) -> None:
        super().__init__(into, out, kernel_size=3, padding="same", bias=False)

    def reset_parameters(self) -> None:
        super().reset_parameters()
        torch.nn.init.dirac_(self.weight.data[: self.weight.size(1)])


class _Norm(nn.BatchNorm2d):
    """BatchNorm with airbench's settings: ``momentum`` as airbench writes it (the old
    statistics' weight, torch's 1 - momentum), ``eps``, a frozen scale of 1, a learned
    shift."""

    def __init__(self, channels: int, momentum: float, eps: float) -> None:
        super().__init__(channels, eps=eps, momentum=1 - momentum)
        self.weight.requires_grad_(False)


def _group(into: int, out: int, momentum: float, eps: float, pool: bool) -> nn.Sequential:
    return nn.Sequential(
        _Conv(into, out),
        nn.MaxPool2d(2) if pool else nn.Identity(),
        _Norm(out, momentum, eps),
        nn.GELU(),
        _Conv(out, out),
        _Norm(out, momentum, eps),
        nn.GELU(),
    )


class _Scaled(nn.Module):
    """A bias-free linear head whose logits are multiplied by ``scale``."""

    def __init__(self, features: int, classes: int, scale: float) -> None:
        super().__init__()
        self.linear, self.scale = nn.Linear(features, classes, bias=False), scale

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(x) * self.scale


def whitening_filters(images: Tensor, size: int, eps: float) -> Tensor:
    """airbench's whitening stem: the eigenvectors of the covariance of every ``size`` x
    ``size`` patch of ``images`` (N, C, H, W), each divided by the square root of its
    eigenvalue plus ``eps``, largest first, followed by their negatives: ``2 C size^2``
    filters that decorrelate a patch's pixels."""
    channels = images.shape[1]
    patches = images.unfold(2, size, 1).unfold(3, size, 1)  # N, C, H', W', size, size
    patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, channels * size * size).double()
    covariance = patches.T @ patches / len(patches)
    values, vectors = torch.linalg.eigh(covariance)
    values, vectors = values.flip(0), vectors.T.flip(0)
    scaled = (vectors / torch.sqrt(values.clamp_min(0) + eps)[:, None]).float()
    filters = scaled.reshape(-1, channels, size, size)
    return torch.cat([filters, -filters])


class Airbench(Architecture):
    """airbench94's network (on images under 16x16, a block whose map is down to 1x1 skips
    its halving). Its stem is set by :meth:`prepare` from ``whiten_sample``
    training images drawn with the run's generator (airbench takes the first 5,000) and never
    trains; its bias does (airbench freezes it after 3 epochs; here it trains throughout).
    ``momentum`` is airbench's (0.6: each batch's statistics weigh 0.4)."""

    accepts = ("image",)
    name = "airbench"
    summary = "airbench94's net: a whitened frozen 2x2 stem, 3 conv-pool-BN blocks, dirac init"
    defaults = {
        "block1": 64,
        "block2": 256,
        "block3": 256,
        "momentum": 0.6,
        "eps": 1e-12,
        "scale": 1 / 9,
        "whiten_sample": 5000,
        "whiten_eps": 5e-4,
    }
    params = {
        "block1": Int(1, help="channels of the first block"),
        "block2": Int(1, help="channels of the second block"),
        "block3": Int(1, help="channels of the third block"),
        "momentum": Float(0, 1, high_open=True, help="BatchNorm: the old statistics' weight"),
        "eps": Float(0, low_open=True, help="BatchNorm's eps"),
        "scale": Float(0, low_open=True, help="the logits' multiplier"),
        "whiten_sample": Int(1, help="training images whose patches set the whitening stem"),
        "whiten_eps": Float(0, low_open=True, help="added to each eigenvalue when whitening"),
    }

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        channels, *sides = input_shape
        hp: dict[str, Any] = self.hparams
        stem = nn.Conv2d(channels, 2 * channels * 4, kernel_size=2, padding=0, bias=True)
        stem.weight.requires_grad_(False)
        widths = [2 * channels * 4, *(int(hp[f"block{i}"]) for i in (1, 2, 3))]
        momentum, eps = float(hp["momentum"]), float(hp["eps"])
        blocks: list[tuple[str, nn.Module]] = [("whiten", nn.Sequential(stem, nn.GELU()))]
        side = min(sides) - 1  # after the 2x2 stem
        for i in range(3):
            pool = side >= 2  # images under 16x16 (digits) skip the halvings they cannot take
            side = side // 2 if pool else side
            group = _group(widths[i], widths[i + 1], momentum, eps, pool)
            if i == 2:
                group.extend([nn.AdaptiveMaxPool2d(1), nn.Flatten()])
            blocks.append((f"block{i + 1}", group))
        return Model(blocks, _Scaled(widths[-1], num_classes, float(hp["scale"])))

    def prepare(self, model: Model, context: RunContext) -> None:
        stem = model.encoder.whiten[0]
        images = context.training_sample(int(self.hparams["whiten_sample"])).float()
        filters = whitening_filters(images, stem.kernel_size[0], float(self.hparams["whiten_eps"]))
        with torch.no_grad():
            stem.weight.copy_(filters.to(stem.weight.device, stem.weight.dtype))
