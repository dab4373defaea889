"""Plain convolutional network for 1-D signals and 2-D images."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from benchbench import Architecture, Int, Model

from ._layers import layers_for, with_linear_head


class CNN(Architecture):
    """``depth`` blocks of convolution, batch norm and ReLU; channels start at ``width`` and
    double per block, and every block after the first halves the resolution by max pooling.
    The encoder ends in the last feature map (CPC reads it as a sequence); the features are
    that map flattened, so they keep where things are (MNIST-1D needs that).

    A ``(C, L)`` input shape gets 1-D convolutions, ``(C, H, W)`` 2-D ones.
    """

    accepts = ("image", "sequence")
    name = "cnn"
    summary = "conv-BN-ReLU blocks, doubling channels and halving resolution; 1-D or 2-D"
    defaults = {"width": 32, "depth": 3, "kernel_size": 3}
    params = {
        "width": Int(1, help="channels of the first block (doubling per block)"),
        "depth": Int(1, help="convolution blocks"),
        "kernel_size": Int(1, help="convolution kernel size"),
    }

    @classmethod
    def search_space(cls, trial):
        return {
            "width": trial.suggest_categorical("cnn.width", [16, 32, 64]),
            "depth": trial.suggest_int("cnn.depth", 2, 4),
        }

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        kind = layers_for(self.name, input_shape)
        width, depth, k = (int(self.hparams[key]) for key in ("width", "depth", "kernel_size"))
        size = min(input_shape[1:])
        blocks, channels = [], input_shape[0]
        for i in range(depth):
            layers: list[nn.Module] = []
            if i > 0 and size >= 2:
                layers.append(kind.pool(2))
                size //= 2
            out = width * 2**i
            layers += [
                kind.conv(channels, out, k, padding=k // 2, bias=False),
                kind.norm(out),
                nn.ReLU(),
            ]
            blocks.append((f"conv{i + 1}", nn.Sequential(*layers)))
            channels = out
        return with_linear_head(Model(blocks, nn.Identity()), input_shape, num_classes)
