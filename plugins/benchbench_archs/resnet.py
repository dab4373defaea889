"""A small fast residual network in the spirit of the DAWNBench / airbench CIFAR-10 records."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from benchbench import Architecture, Int, Model

from ._layers import Layers, layers_for, with_linear_head


def _conv_bn(kind: Layers, into: int, out: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [kind.conv(into, out, 3, padding=1, bias=False)]
    if pool:
        layers.append(kind.pool(2))
    return [*layers, kind.norm(out), nn.GELU()]


class _Residual(nn.Module):
    """``x + f(x)`` for two conv-BN-GELU layers ``f`` that keep the shape."""

    def __init__(self, kind: Layers, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            *_conv_bn(kind, channels, channels, False), *_conv_bn(kind, channels, channels, False)
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class ResNetSmall(Architecture):
    """The ResNet-9 shape of Page's DAWNBench record, which airbench's nets descend from:
    a stem convolution, then three stages that each convolve, max-pool (conv, pool, BN,
    GELU, airbench's order) and, in the first and last stage, add a residual pair of
    convolutions; a global max pool ends the encoder, and the linear head's logits are
    scaled by 1/8 as in those records. Width 16-32-64-128 by default (``width`` 16), a
    quarter of ResNet-9's, to fit a CPU budget on 32x32 images. 1-D or 2-D."""

    accepts = ("image", "sequence")
    name = "resnet-small"
    summary = "ResNet-9 shape (DAWNBench/airbench): stem, 3 pooled stages, 2 residual pairs"
    defaults = {"width": 16}
    params = {"width": Int(1, help="channels of the first stage (doubling per stage)")}

    @classmethod
    def search_space(cls, trial):
        return {"width": trial.suggest_categorical("resnet-small.width", [8, 16, 32, 64])}

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        kind = layers_for(self.name, input_shape)
        w = int(self.hparams["width"])
        size = min(input_shape[1:])
        blocks: list[tuple[str, nn.Module]] = [
            ("stem", nn.Sequential(*_conv_bn(kind, input_shape[0], w, False)))
        ]
        channels = w
        for i, residual in enumerate((True, False, True)):
            out, pool = w * 2 ** (i + 1), size >= 2
            size = size // 2 if pool else size
            layers = _conv_bn(kind, channels, out, pool)
            if residual:
                layers.append(_Residual(kind, out))
            blocks.append((f"stage{i + 1}", nn.Sequential(*layers)))
            channels = out
        blocks.append(("pool", kind.global_pool(1)))
        model = with_linear_head(Model(blocks, nn.Identity()), input_shape, num_classes)
        model.head = nn.Sequential(model.head, _Scale(0.125))
        return model


class _Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: Tensor) -> Tensor:
        return x * self.factor
