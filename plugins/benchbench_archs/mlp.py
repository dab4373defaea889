"""Multilayer perceptron."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import nn

from benchbench import Architecture, Int, Model


class MLP(Architecture):
    """Flatten, then ``depth`` fully connected ReLU blocks of ``width`` units, then a linear
    head. Works on any input shape."""

    name = "mlp"
    summary = "multilayer perceptron: depth x (linear, ReLU) blocks of width units, linear head"
    defaults = {"width": 256, "depth": 2}
    params = {"width": Int(1, help="units per hidden layer"), "depth": Int(1, help="hidden layers")}

    @classmethod
    def search_space(cls, trial):
        return {
            "width": trial.suggest_categorical("mlp.width", [128, 256, 512]),
            "depth": trial.suggest_int("mlp.depth", 1, 3),
        }

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        width, depth = int(self.hparams["width"]), int(self.hparams["depth"])
        blocks, features = [], math.prod(input_shape)
        for i in range(depth):
            layers = [nn.Flatten()] if i == 0 else []
            layers += [nn.Linear(features, width), nn.ReLU()]
            blocks.append((f"fc{i + 1}", nn.Sequential(*layers)))
            features = width
        return Model(blocks, nn.Linear(features, num_classes))
