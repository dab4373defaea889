"""Reconstruction-based pretraining: the autoencoder family and greedy layer-wise
pretraining."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from benchbench import Choice, Float, Int, Model, RunContext

from .losses import contractive_penalty, kl_sparsity, l1_sparsity
from .pretraining import Pretraining
from .views import block_shapes, mask, size

VARIANTS = ("undercomplete", "sparse", "denoising", "contractive", "deep")


class Autoencoder(Pretraining):
    """An autoencoder whose encoder is the network's own: features -> code -> decoder ->
    the input, loss ``1/2 ||x_hat - x||^2`` per example (batch mean). The code has ``code``
    sigmoid units (32: fewer than the inputs of digits, 64, and MNIST-1D, 40); the decoder
    (one hidden ReLU layer of ``hidden`` units) is dropped after pretraining. ``variant``:

    - ``undercomplete``: reconstruction through the narrow code alone.
    - ``sparse``: plus ``sparsity_weight`` x a sparsity penalty on the code: ``kl``
      (default; ``sum_j KL(sparsity_target || mean activation of unit j)``, target 0.05 and
      weight 3, the values of Ng's notes) or ``l1`` (the summed activations).
    - ``denoising`` (Vincent et al., 2008): inputs corrupted by masking noise (a ``noise``
      fraction of values zeroed, 0.25 as the paper's MNIST runs), the clean input as target.
    - ``contractive`` (Rifai et al., 2011): plus ``contractive_weight`` (0.1) x the squared
      Frobenius norm of the Jacobian of the code with respect to the input, estimated with
      ``projections`` Rademacher vector-Jacobian products per step (0: exact, one product per
      code unit).
    - ``deep`` (Hinton and Salakhutdinov, 2006): features -> hidden -> hidden/2 -> code and
      the mirror image back, instead of one layer each way.
    """

    name = "autoencoder"
    summary = "autoencoder pretraining: undercomplete, sparse, denoising, contractive or deep"
    defaults = {
        **Pretraining.shared_defaults,
        "variant": "undercomplete",
        "code": 32,
        "hidden": 256,
        "noise": 0.25,
        "sparsity": "kl",
        "sparsity_target": 0.05,
        "sparsity_weight": 3.0,
        "contractive_weight": 0.1,
        "projections": 1,
    }
    params = {
        **Pretraining.shared_params,
        "variant": Choice(*VARIANTS, help="which autoencoder (see above)"),
        "code": Int(1, help="code units"),
        "hidden": Int(1, help="units of the decoder's hidden layer"),
        "noise": Float(0, 1, high_open=True, help="denoising: fraction of inputs zeroed"),
        "sparsity": Choice("kl", "l1", help="sparse: the penalty on the code"),
        "sparsity_target": Float(
            0, 1, low_open=True, high_open=True, help="sparse kl: target mean"
        ),
        "sparsity_weight": Float(0, help="sparse: weight of the penalty"),
        "contractive_weight": Float(0, help="contractive: weight of the Jacobian penalty"),
        "projections": Int(0, help="contractive: Rademacher products per step (0: exact)"),
    }

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)

    def search_space(self, trial):  # an instance method: the space depends on the variant
        """The share, the code width and what the variant adds (noise or penalty weight)."""
        space = {
            "share": trial.suggest_float("autoencoder.share", 0.1, 0.9),
            "code": trial.suggest_categorical("autoencoder.code", [16, 32, 64]),
        }
        variant = self.hparams["variant"]
        if variant == "denoising":
            space["noise"] = trial.suggest_float("autoencoder.noise", 0.05, 0.5)
        key = {"sparse": "sparsity_weight", "contractive": "contractive_weight"}.get(variant)
        if key is not None:
            space[key] = trial.suggest_float(f"autoencoder.{key}", 1e-3, 10.0, log=True)
        return space

    def prepare(self, context: RunContext) -> None:
        shapes = block_shapes(context)
        inputs, features = size(shapes[0]), size(shapes[-1])
        code, hidden = int(self.hparams["code"]), int(self.hparams["hidden"])
        if self.hparams["variant"] == "deep":
            widths = [features, hidden, hidden // 2, code]
            back = [code, hidden // 2, hidden, inputs]
        else:
            widths, back = [features, code], [code, hidden, inputs]
        self.modules = nn.ModuleDict(
            {"encode": _mlp(widths, nn.Sigmoid()), "decode": _mlp(back, nn.Identity())}
        ).to(context.device)

    def pretrain_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        variant, hp = self.hparams["variant"], self.hparams
        inputs = x_unlabeled
        if variant == "denoising":
            inputs = mask(inputs, float(hp["noise"]), generator)
        if variant == "contractive":
            inputs = inputs.detach().requires_grad_(True)
        code = self.modules["encode"](model.features(inputs))
        reconstruction = self.modules["decode"](code)
        loss = 0.5 * (reconstruction - x_unlabeled.flatten(1)).pow(2).sum(dim=1).mean()
        if variant == "sparse":
            penalty = (
                kl_sparsity(code, float(hp["sparsity_target"]))
                if hp["sparsity"] == "kl"
                else l1_sparsity(code)
            )
            loss = loss + float(hp["sparsity_weight"]) * penalty
        if variant == "contractive":
            directions = None
            if int(hp["projections"]) > 0:
                shape = (int(hp["projections"]), *code.shape)
                draw = torch.randint(0, 2, shape, generator=generator, device=generator.device)
                directions = draw.to(code.dtype) * 2 - 1
            penalty = contractive_penalty(code, inputs, directions)
            loss = loss + float(hp["contractive_weight"]) * penalty
        return loss


def _mlp(widths: list[int], last: nn.Module) -> nn.Sequential:
    """Linear layers through ``widths``, ReLU between them, ``last`` after the final one."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths, widths[1:], strict=False)):
        layers += [nn.Linear(a, b), nn.ReLU() if i < len(widths) - 2 else last]
    return nn.Sequential(*layers)


class Layerwise(Pretraining):
    """Greedy layer-wise pretraining (Bengio et al., 2007; stacked denoising autoencoders,
    Vincent et al., 2010): the pretraining phase is cut into one stage per encoder block,
    each with its own learning-rate schedule. In stage k the blocks before k are fixed (no
    gradient), block k sees their output corrupted by masking noise (``noise`` 0.25; 0 gives
    plain autoencoders) and a linear decoder maps its output back to its clean input, loss
    the mean squared error. Denoising by default because a block wider than its input can
    otherwise learn the identity."""

    name = "layerwise"
    summary = "greedy layer-wise pretraining: each block a denoising autoencoder in turn"
    defaults = {**Pretraining.shared_defaults, "noise": 0.25}
    params = {
        **Pretraining.shared_params,
        "noise": Float(0, 1, high_open=True, help="fraction of inputs zeroed"),
    }

    @classmethod
    def search_space(cls, trial):
        return {
            **super().search_space(trial),
            "noise": trial.suggest_float("layerwise.noise", 0.0, 0.5),
        }

    def prepare(self, context: RunContext) -> None:
        shapes = block_shapes(context)
        self.stages = len(shapes) - 1
        self.modules = nn.ModuleList(
            nn.Linear(size(out), size(into)) for into, out in zip(shapes, shapes[1:], strict=False)
        ).to(context.device)

    def pretrain_stages(self) -> int:
        return self.stages

    def stage(self, progress: float) -> int:
        """The block trained at ``progress`` through the pretraining phase."""
        return min(int(progress * self.stages), self.stages - 1)

    def pretrain_loss(
        self, model: Model, x_unlabeled: Tensor, progress: float, generator: torch.Generator
    ) -> Tensor:
        k = self.stage(progress)
        with torch.no_grad():
            clean = model.encoder[:k](x_unlabeled)
        hidden = model.encoder[k](mask(clean, float(self.hparams["noise"]), generator))
        reconstruction = self.modules[k](hidden.flatten(1)).view_as(clean)
        return F.mse_loss(reconstruction, clean)
