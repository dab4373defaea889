"""Plain convolutional network for 1-D signals and 2-D images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from benchbench import Architecture, Model


class CNN(Architecture):
    """``depth`` blocks of convolution, batch norm and ReLU; channels start at ``width`` and
    double per block, and every block after the first halves the resolution by max pooling.
    The encoder ends in the last feature map (CPC reads it as a sequence); the features are
    that map flattened, so they keep where things are (MNIST-1D needs that).

    A ``(C, L)`` input shape gets 1-D convolutions, ``(C, H, W)`` 2-D ones.
    """

    name = "cnn"
    summary = "conv-BN-ReLU blocks, doubling channels and halving resolution; 1-D or 2-D"
    defaults = {"width": 32, "depth": 3, "kernel_size": 3}

    @classmethod
    def search_space(cls, trial):
        return {
            "width": trial.suggest_categorical("cnn.width", [16, 32, 64]),
            "depth": trial.suggest_int("cnn.depth", 2, 4),
        }

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        dims = len(input_shape) - 1
        if dims not in (1, 2):
            raise ValueError(
                f"cnn needs an input shape (channels, length) or (channels, height, width); "
                f"got {tuple(input_shape)}"
            )
        conv, norm, pool = (
            (nn.Conv1d, nn.BatchNorm1d, nn.MaxPool1d)
            if dims == 1
            else (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d)
        )
        width, depth, k = (int(self.hparams[key]) for key in ("width", "depth", "kernel_size"))
        size = min(input_shape[1:])
        blocks, channels = [], input_shape[0]
        for i in range(depth):
            layers: list[nn.Module] = []
            if i > 0 and size >= 2:
                layers.append(pool(2))
                size //= 2
            out = width * 2**i
            layers += [conv(channels, out, k, padding=k // 2, bias=False), norm(out), nn.ReLU()]
            blocks.append((f"conv{i + 1}", nn.Sequential(*layers)))
            channels = out
        model = Model(blocks, nn.Identity())
        with torch.no_grad():
            features = model.encoder.eval()(torch.zeros(2, *input_shape)).flatten(1).shape[1]
        model.encoder.train()
        model.head = nn.Linear(features, num_classes)
        return model
