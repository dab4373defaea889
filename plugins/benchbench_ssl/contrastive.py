"""Contrastive self-supervised pretraining: SimCLR and contrastive predictive coding."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from benchbench import Float, Int, Model, RunContext

from .losses import info_nce, nt_xent
from .pretraining import Pretraining
from .views import Views, block_shapes, size


class SimCLR(Pretraining):
    """SimCLR (Chen et al., 2020): two strong views of each input pass the encoder and a
    two-layer projection head together (one batch, so batch norm sees both, as SimCLR's
    global BN); NT-Xent pulls the two views together against the rest of the batch.
    Temperature 0.5, the paper's CIFAR-10 value; the head is dropped after pretraining."""

    name = "simclr"
    summary = "contrastive pretraining: two augmented views, projection head, NT-Xent"
    defaults = {**Pretraining.shared_defaults, "temperature": 0.5, "projection_dim": 64}
    params = {
        **Pretraining.shared_params,
        "temperature": Float(0, low_open=True, help="NT-Xent temperature"),
        "projection_dim": Int(1, help="output size of the projection head"),
    }

    @classmethod
    def search_space(cls, trial):
        return {
            **super().search_space(trial),
            "temperature": trial.suggest_float("simclr.temperature", 0.05, 1.0, log=True),
        }

    def prepare(self, context: RunContext) -> None:
        self.views = Views(context.task)
        features = size(block_shapes(context)[-1])
        hidden = min(features, 256)
        self.modules = nn.Sequential(
            nn.Linear(features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, int(self.hparams["projection_dim"])),
        ).to(context.device)

    def pretrain_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        views = torch.cat([self.views.strong(x_unlabeled, generator) for _ in range(2)])
        z1, z2 = self.modules(model.features(views)).chunk(2)
        return nt_xent(z1, z2, float(self.hparams["temperature"]))


class CPC(Pretraining):
    """Contrastive predictive coding (van den Oord et al., 2018). The encoder's last feature
    map is read as a sequence of latents: along the length for 1-D inputs; along the rows
    for 2-D inputs, each column a sequence of its own (as the paper does for images). A GRU
    summarises the latents so far into a context, a linear map per offset k = 1..``steps``
    predicts the latent k positions ahead, and InfoNCE scores it against every latent at the
    same offset in the batch (other positions and other examples are the negatives)."""

    accepts = ("image", "sequence")
    name = "cpc"
    summary = "contrastive predictive coding: a context predicts later latents, InfoNCE"
    defaults = {**Pretraining.shared_defaults, "steps": 2, "context": 128}
    params = {
        **Pretraining.shared_params,
        "steps": Int(1, help="future positions predicted"),
        "context": Int(1, help="units of the autoregressive context GRU"),
    }

    @classmethod
    def search_space(cls, trial):
        return {
            **super().search_space(trial),
            "steps": trial.suggest_int("cpc.steps", 1, 4),
        }

    def prepare(self, context: RunContext) -> None:
        shape = block_shapes(context)[-1]
        if len(shape) not in (2, 3) or shape[1] < 2:
            raise ValueError(
                f"cpc needs an encoder ending in a feature map (channels, length) or "
                f"(channels, height, width) with at least 2 positions along it; this encoder "
                f"ends in {shape} (use an architecture such as cnn)"
            )
        channels, length = shape[0], shape[1]
        self.steps = min(int(self.hparams["steps"]), length - 1)
        hidden = int(self.hparams["context"])
        self.modules = nn.ModuleDict(
            {
                "context": nn.GRU(channels, hidden, batch_first=True),
                "predict": nn.Linear(hidden, channels * self.steps),
            }
        ).to(context.device)

    def pretrain_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        latents = model.encoder(x_unlabeled)
        if latents.ndim == 4:  # (B, C, H, W) -> one sequence down the rows per column
            batch, channels, height, width = latents.shape
            latents = latents.permute(0, 3, 2, 1).reshape(batch * width, height, channels)
        else:  # (B, C, L) -> (B, L, C)
            latents = latents.transpose(1, 2)
        contexts, _ = self.modules["context"](latents)
        sequences, length, channels = latents.shape
        predictions = self.modules["predict"](contexts).view(
            sequences, length, self.steps, channels
        )
        losses = [
            info_nce(
                predictions[:, : length - k, k - 1].reshape(-1, channels),
                latents[:, k:].reshape(-1, channels),
            )
            for k in range(1, self.steps + 1)
        ]
        return torch.stack(losses).mean()
