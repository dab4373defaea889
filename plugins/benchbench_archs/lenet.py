"""LeNet-5 (LeCun et al., 1998), in its common modern form."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from benchbench import Architecture, Int, Model

from ._layers import flat_size, layers_for, with_linear_head


class LeNet(Architecture):
    """Two convolution blocks (6 and 16 channels, kernel 5, ReLU, 2x max pooling) and two
    fully connected blocks (120 and 84 units) before a linear head: LeNet-5 with ReLU and max
    pooling instead of tanh and subsampling, and "same" padding so 8x8 digits fit. The
    encoder ends flat (its last blocks are fully connected). 1-D or 2-D."""

    accepts = ("image", "sequence")
    name = "lenet"
    summary = "LeNet-5: conv 6 and 16 (kernel 5, max pool), fully connected 120 and 84"
    defaults = {"scale": 1}
    params = {"scale": Int(1, help="multiplies every layer's width (6-16-120-84)")}

    @classmethod
    def search_space(cls, trial):
        return {"scale": trial.suggest_categorical("lenet.scale", [1, 2, 4])}

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        kind = layers_for(self.name, input_shape)
        scale = int(self.hparams["scale"])
        c1, c2, f1, f2 = 6 * scale, 16 * scale, 120 * scale, 84 * scale
        size = min(input_shape[1:])
        convs, channels = [], input_shape[0]
        for i, out in enumerate((c1, c2)):
            layers: list[nn.Module] = [kind.conv(channels, out, 5, padding=2), nn.ReLU()]
            if size >= 2:
                layers.append(kind.pool(2))
                size //= 2
            convs.append((f"conv{i + 1}", nn.Sequential(*layers)))
            channels = out
        flat = flat_size(nn.Sequential(*(block for _, block in convs)), input_shape)
        blocks = [
            *convs,
            ("fc1", nn.Sequential(nn.Flatten(), nn.Linear(flat, f1), nn.ReLU())),
            ("fc2", nn.Sequential(nn.Linear(f1, f2), nn.ReLU())),
        ]
        return with_linear_head(Model(blocks, nn.Identity()), input_shape, num_classes)
