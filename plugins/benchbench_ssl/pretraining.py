"""What every self-supervised method shares: its share of the budget and its own modules."""

from __future__ import annotations

from torch import nn

from benchbench import SSL, Float, Int


class Pretraining(SSL):
    """A self-supervised pretraining phase on unlabeled inputs, then fine-tuning on labels.

    ``share`` is the fraction of the run's budget the phase spends (tuned: more pretraining
    leaves less fine-tuning); pretraining batches hold ``ratio`` x the labeled batch size.
    Subclasses build their heads or decoders in ``prepare`` into ``self.modules``.
    """

    shared_defaults = {"share": 0.5, "ratio": 2}
    shared_params = {
        "share": Float(0, 1, low_open=True, high_open=True, help="budget share of pretraining"),
        "ratio": Int(1, help="pretraining batch size, in labeled batch sizes"),
    }

    def __init__(self, **hparams) -> None:
        super().__init__(**hparams)
        self.modules: nn.Module = nn.ModuleList()

    @classmethod
    def search_space(cls, trial):
        return {"share": trial.suggest_float(f"{cls.name}.share", 0.1, 0.9)}

    def pretrain_modules(self) -> nn.Module:
        return self.modules
