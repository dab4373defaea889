"""A small VGG (Simonyan and Zisserman, 2015) for low-resolution inputs."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from benchbench import Architecture, Int, Model

from ._layers import layers_for, with_linear_head


class VGGSmall(Architecture):
    """``stages`` VGG stages, each two 3-wide convolutions with batch norm and ReLU followed
    by 2x max pooling (skipped once the map is down to one position); channels start at
    ``width`` and double per stage. The encoder ends in the last feature map, flattened into
    the features. 1-D or 2-D."""

    accepts = ("image", "sequence")
    name = "vgg-small"
    summary = "VGG: stages of two conv-BN-ReLU and a max pool, channels doubling per stage"
    defaults = {"width": 32, "stages": 3}
    params = {
        "width": Int(1, help="channels of the first stage (doubling per stage)"),
        "stages": Int(1, help="conv-conv-pool stages"),
    }

    @classmethod
    def search_space(cls, trial):
        return {
            "width": trial.suggest_categorical("vgg-small.width", [16, 32, 64]),
            "stages": trial.suggest_int("vgg-small.stages", 2, 4),
        }

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        kind = layers_for(self.name, input_shape)
        width, stages = int(self.hparams["width"]), int(self.hparams["stages"])
        size, channels, blocks = min(input_shape[1:]), input_shape[0], []
        for i in range(stages):
            out = width * 2**i
            layers: list[nn.Module] = []
            for into in (channels, out):
                layers += [kind.conv(into, out, 3, padding=1, bias=False), kind.norm(out)]
                layers.append(nn.ReLU())
            if size >= 2:
                layers.append(kind.pool(2))
                size //= 2
            blocks.append((f"stage{i + 1}", nn.Sequential(*layers)))
            channels = out
        return with_linear_head(Model(blocks, nn.Identity()), input_shape, num_classes)
