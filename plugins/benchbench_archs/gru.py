"""A recurrent network for sequences: stacked GRU layers."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from benchbench import Architecture, Int, Model


class _Rows(nn.Module):
    """``(B, C, H, W)`` images as sequences of rows: ``(B, C * W, H)``; signals unchanged."""

    def forward(self, x: Tensor) -> Tensor:
        if x.ndim == 4:
            batch, channels, height, width = x.shape
            return x.permute(0, 1, 3, 2).reshape(batch, channels * width, height)
        return x


class _GRULayer(nn.Module):
    """One GRU layer on channels-first sequences ``(B, C, L)`` -> ``(B, hidden, L)``, so its
    output reads as a feature map like a convolution's."""

    def __init__(self, into: int, hidden: int) -> None:
        super().__init__()
        self.gru = nn.GRU(into, hidden, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.gru(x.transpose(1, 2))[0].transpose(1, 2)


class _Last(nn.Module):
    """The last step of a channels-first sequence: ``(B, C, L)`` -> ``(B, C)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, -1]


class GRU(Architecture):
    """``depth`` GRU layers of ``hidden`` units, one block each, then the last step's state
    as the features. A signal ``(C, L)`` is L steps of C values; an image ``(C, H, W)`` is
    read row by row, H steps of C x W values (sequential MNIST by rows)."""

    accepts = ("image", "sequence")
    name = "gru"
    summary = "stacked GRU layers over the sequence (image rows for 2-D), last state to head"
    defaults = {"hidden": 128, "depth": 2}
    params = {"hidden": Int(1, help="hidden units per layer"), "depth": Int(1, help="GRU layers")}

    @classmethod
    def search_space(cls, trial):
        return {
            "hidden": trial.suggest_categorical("gru.hidden", [64, 128, 256]),
            "depth": trial.suggest_int("gru.depth", 1, 3),
        }

    def build(self, input_shape: Sequence[int], num_classes: int) -> Model:
        if len(input_shape) not in (2, 3):
            raise ValueError(
                f"gru needs a sequence: input shape (channels, length) or (channels, height, "
                f"width) read by rows; got {tuple(input_shape)} (use mlp for flat inputs)"
            )
        hidden, depth = int(self.hparams["hidden"]), int(self.hparams["depth"])
        into = input_shape[0] * (input_shape[2] if len(input_shape) == 3 else 1)
        blocks: list[tuple[str, nn.Module]] = []
        for i in range(depth):
            layer: nn.Module = _GRULayer(into if i == 0 else hidden, hidden)
            if i == 0:
                layer = nn.Sequential(_Rows(), layer)
            blocks.append((f"gru{i + 1}", layer))
        blocks.append(("last", _Last()))
        return Model(blocks, nn.Linear(hidden, num_classes))
