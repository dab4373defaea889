"""Regularizers that drop information: cutout on the input, dropout inside the network."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from benchbench import Float, Regularizer, RunContext

from ._sampling import spatial_shape


class Cutout(Regularizer):
    """Cutout (DeVries & Taylor, 2017): each example gets one box (images) or span (signals)
    of side ``size`` times the input's, centred uniformly and clipped at the borders, set to
    zero (the mean, as inputs are standardised). Targets are untouched. Default size 0.5: the
    paper's 16 pixels on 32x32 CIFAR-10."""

    accepts = ("image", "sequence")
    name = "cutout"
    summary = "zero a random box (2-D) or span (1-D) of each example; targets untouched"
    defaults = {"size": 0.5}
    params = {"size": Float(0, 1, help="side of the square cut out, as a fraction of the input's")}

    @classmethod
    def search_space(cls, trial):
        return {"size": trial.suggest_float("cutout.size", 0.1, 0.7)}

    def transform(
        self, x: Tensor, targets: Tensor, generator: torch.Generator
    ) -> tuple[Tensor, Tensor]:
        size = float(self.hparams["size"])
        shape = spatial_shape(x)
        inside = torch.ones(len(x), *shape, dtype=torch.bool, device=x.device)
        for axis, length in enumerate(shape):
            cut = round(length * size)
            centre = torch.randint(length, (len(x),), generator=generator, device=generator.device)
            start = (centre - cut // 2).clamp(0, length)
            stop = (centre - cut // 2 + cut).clamp(0, length)
            positions = torch.arange(length, device=x.device)
            along = (positions >= start[:, None]) & (positions < stop[:, None])
            view = [len(x)] + [1] * len(shape)
            view[axis + 1] = length
            inside = inside & along.view(view)
        keep = ~(inside.unsqueeze(1) if x.ndim > 2 else inside)
        self.last_mask = ~keep
        return x * keep, targets


class _SeededDropout(nn.Module):
    """Dropout whose masks come from the run's generator, not the global RNG."""

    def __init__(self, rate: float, generator: torch.Generator) -> None:
        super().__init__()
        self.rate, self.generator = rate, generator

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.rate == 0:
            return x
        keep = torch.rand(x.shape, generator=self.generator, device=x.device) >= self.rate
        return x * keep / (1.0 - self.rate)

    def extra_repr(self) -> str:
        return f"rate={self.rate}"


class Dropout(Regularizer):
    """Dropout (Srivastava et al., 2014) after every encoder block: units zeroed with
    probability ``rate`` while training, the rest scaled by ``1 / (1 - rate)``. The paper used
    0.5 on the hidden units of wide fully connected nets; here it follows every block,
    convolutional ones included, where 0.5 is too strong, so the default is 0.2."""

    name = "dropout"
    summary = "dropout after every encoder block (rate tuned)"
    defaults = {"rate": 0.2}
    params = {"rate": Float(0, 1, high_open=True, help="probability of zeroing a feature")}

    @classmethod
    def search_space(cls, trial):
        return {"rate": trial.suggest_float("dropout.rate", 0.0, 0.6)}

    def prepare(self, context: RunContext) -> None:
        rate = float(self.hparams["rate"])
        encoder = context.model.encoder
        for name, block in list(encoder.named_children()):
            setattr(encoder, name, nn.Sequential(block, _SeededDropout(rate, context.generator)))
