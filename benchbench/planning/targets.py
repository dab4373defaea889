"""What is tuned and how: a candidate to tune (:class:`Target`: its components, fixed
hyperparameters and trial budget) and the protocol (:class:`TuningConfig`). Both are read from
suite files and used by the tuning loop (:mod:`benchbench.tuning.study`), so they live below
both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..budget import Budget
from ..spec import RunSpec
from .resolve import resolve_spec

if TYPE_CHECKING:
    from ..plugins.manager import PluginManager

SAMPLERS = ("tpe", "random")
PRUNERS = ("median", "hyperband", "none")
_KEYS = {"trials", "sampler", "pruner", "seed", "budget"}


@dataclass(frozen=True)
class TuningConfig:
    """The protocol: trials per candidate, sampler (seeded), pruner, and one trial's budget
    (the track's or the task's when ``None``). ``seed`` seeds the sampler and every trial's
    training run."""

    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    seed: int = 0
    budget: Budget | None = None

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise ValueError(f"tuning trials must be a positive integer, got {self.trials!r}")
        if self.sampler not in SAMPLERS:
            raise ValueError(f"tuning sampler must be one of {SAMPLERS}, got {self.sampler!r}")
        if self.pruner not in PRUNERS:
            raise ValueError(f"tuning pruner must be one of {PRUNERS}, got {self.pruner!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"tuning seed must be an integer, got {self.seed!r}")
        if self.budget is not None and not isinstance(self.budget, Budget):
            raise ValueError(
                f"tuning budget must be a table such as {{ steps = 100 }}, got {self.budget!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TuningConfig:
        """From a suite file's ``[tuning]`` table."""
        unknown = set(data) - _KEYS
        if unknown:
            listing = sorted(map(str, unknown))
            raise ValueError(f"unknown tuning key(s) {listing}; use {sorted(_KEYS)}")
        values = dict(data)
        if isinstance(values.get("budget"), Mapping):
            values["budget"] = Budget.from_dict(values["budget"])
        return cls(**values)

    def protocol(self) -> dict[str, Any]:
        """What makes two tunings comparable (the trial count is not: more trials resume)."""
        return {"sampler": self.sampler, "pruner": self.pruner, "seed": self.seed}


@dataclass(frozen=True)
class Target:
    """One candidate to tune: its components, its fixed hyperparameters, the trial budget."""

    task: str
    arch: str
    regularizer: str = "none"
    ssl: str = "supervised"
    finetune: str = "full"
    optimizer: str = "adamw"
    fixed: Mapping[str, Any] = field(default_factory=dict)
    budget: Budget | None = None
    device: str = "cpu"

    def key(self) -> str:
        """``task/arch/regularizer/ssl/finetune``, ``/optimizer`` after them unless it is the
        default (tunings stored before optimizers were components keep their keys)."""
        names = [self.task, self.arch, self.regularizer, self.ssl, self.finetune]
        return "/".join(names + ([self.optimizer] if self.optimizer != "adamw" else []))

    def spec(
        self,
        pm: PluginManager,
        hparams: Mapping[str, Any],
        seed: int,
        data_dir: Path | None = None,
    ) -> RunSpec:
        return resolve_spec(
            pm.registry,
            task=self.task,
            arch=self.arch,
            regularizer=self.regularizer,
            ssl=self.ssl,
            finetune=self.finetune,
            optimizer=self.optimizer,
            hparams={**hparams, **self.fixed},
            seed=seed,
            budget=self.budget,
            device=self.device,
            data_dir=data_dir,
        )
