"""What one run is (:class:`RunSpec`) and what it produced (:class:`RunResult`).

A spec is frozen and JSON-serialisable; its ``run_id`` is a hash of its canonical JSON, so the
same spec is the same run on every machine, and a suite that is run again skips what is stored.
Hyperparameters in a spec are fully resolved (defaults included), so a change of a default
is a new run, never a silent reuse of an old one. For a task that reads files, ``data`` is a
fingerprint of their contents: other data is another run, and a run that failed on missing or
damaged files is not mistaken for the run on the repaired ones. ``code`` says which code
runs it (:mod:`benchbench.identity`): each component's distribution and version or source
fingerprint, and benchbench's own; other code is another run, so a stored result is reused
only when all of these match.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from .budget import Budget
from .kinds import DEFAULT_COMPONENTS, KIND_NAMES  # noqa: F401 - where callers find them

STATUSES = ("ok", "diverged", "failed", "timed-out")


@dataclass(frozen=True)
class RunSpec:
    """One training run: components by name, hyperparameters, seed, budget and device.

    Its first fields are the component kinds (:mod:`benchbench.kinds`), in order, each
    defaulting to its kind's default component (``tests/test_spec.py`` holds them to it).

    ``hparams`` is flat: loop hyperparameters by bare name (``lr``, ``batch_size``) and a
    component's as ``<component>.<name>`` (``label-smoothing.alpha``).
    """

    task: str
    arch: str
    regularizer: str = "none"
    ssl: str = "supervised"
    finetune: str = "full"
    optimizer: str = "adamw"
    hparams: Mapping[str, Any] = field(default_factory=dict)
    seed: int = 0
    budget: Budget = field(default_factory=lambda: Budget(epochs=1))
    device: str = "cpu"
    data: str | None = None
    """Fingerprint of the task's data files (:mod:`benchbench.data.fingerprint`); None for
    tasks whose data is bundled or generated."""
    numerics: str | None = None
    """How CPU kernels compute (:mod:`benchbench.host.numerics`): ``portable`` (the same bits
    on every x86 machine) or ``native``; None in specs made before the modes existed."""
    code: Mapping[str, str] = field(default_factory=dict)
    """The code that runs it, ``{"benchbench": ..., "<kind>:<name>": ...}``
    (:mod:`benchbench.identity`), filled in by
    :func:`~benchbench.planning.resolve.resolve_spec`; empty in a spec made by hand."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict; :meth:`~benchbench.RunSpec.from_dict` inverts it. ``data``,
        ``numerics`` and ``code`` are left out when empty, and ``optimizer`` when the
        hyperparameters name it as the loop setting it was
        (:func:`~benchbench.spec.legacy_optimizer`), so specs from before them keep the ids
        they had."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["hparams"] = dict(sorted(self.hparams.items()))
        data["budget"] = self.budget.to_dict()
        data["code"] = dict(sorted(self.code.items()))
        for key in ("data", "numerics", "code"):
            if not data[key]:
                del data[key]
        if self.hparams.get(LEGACY_OPTIMIZER) == self.optimizer:
            del data["optimizer"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        """The spec a :meth:`to_dict` dict describes."""
        data = legacy_optimizer(data)
        data["budget"] = Budget.from_dict(data["budget"])
        return cls(**data)

    @property
    def run_id(self) -> str:
        """The stable 16-hex-digit id, the SHA-256 of the spec's canonical JSON, code
        included."""
        return _hash(self.to_dict())

    @property
    def config_id(self) -> str:
        """The id of the spec without its ``code``: the same run made by any code. Two
        results with one config id and different run ids were made by different code."""
        data = self.to_dict()
        data.pop("code", None)
        return _hash(data)

    def component_hparams(self, component: str) -> dict[str, Any]:
        """The hyperparameters addressed to one component, without the name prefix."""
        prefix = component + "."
        return {k[len(prefix) :]: v for k, v in self.hparams.items() if k.startswith(prefix)}

    def loop_hparams(self) -> dict[str, Any]:
        """The hyperparameters of the training loop itself (names without a dot)."""
        return {k: v for k, v in self.hparams.items() if "." not in k}


@dataclass
class RunResult:
    """Everything a run measured; one row of the results database and of
    :func:`~benchbench.results`. Its fields (:data:`~benchbench.spec.RESULT_FIELDS` says each)."""

    run_id: str
    status: str
    task: str
    arch: str
    regularizer: str
    ssl: str
    finetune: str
    optimizer: str
    seed: int
    hparams: dict[str, Any]
    budget: dict[str, Any]
    device: str
    data: str | None = None
    numerics: str | None = None
    test_accuracy: float | None = None
    test_ece: float | None = None
    best_val_accuracy: float | None = None
    final_val_accuracy: float | None = None
    time_to_target_s: float | None = None
    time_to_target_steps: int | None = None
    time_to_target_samples: int | None = None
    train_seconds: float = 0.0
    eval_seconds: float = 0.0
    steps: int = 0
    epochs: float = 0.0
    samples_seen: int = 0
    samples_per_s: float | None = None
    params: int | None = None
    model_bytes: int | None = None
    latency_batch1_ms: float | None = None
    latency_batch1024_ms: float | None = None
    pretrain_steps: int = 0
    pretrain_seconds: float = 0.0
    pretrain_loss: float | None = None
    chance_accuracy: float | None = None
    source: dict[str, Any] = field(default_factory=dict)
    curve: list[dict[str, Any]] = field(default_factory=list)
    loader: dict[str, Any] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    error_component: str | None = None
    provenance: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_spec(cls, spec: RunSpec, status: str, **values: Any) -> RunResult:
        """A result carrying the spec's identity, with the measured ``values``."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {status!r}")
        identity = {**spec.to_dict(), "optimizer": spec.optimizer}
        return cls(run_id=spec.run_id, status=status, **identity, **values)

    @classmethod
    def failed(cls, spec: RunSpec, exc: BaseException, component: str | None = None) -> RunResult:
        """A ``failed`` result for ``spec`` with the exception as one line: a user's error
        (missing data) as its own words, anything else with its type; ``component`` (or
        the exception's own ``component``) names where it came from."""
        from .errors import BenchbenchError, one_line

        message = one_line(exc)
        error = message if isinstance(exc, BenchbenchError) else f"{type(exc).__name__}: {message}"
        component = getattr(exc, "component", None) or component
        return cls.for_spec(spec, "failed", error=error, error_component=component)

    def __repr__(self) -> str:
        """``RunResult(digits/mlp/none seed 0: ok, test 0.975, 0.2 s)``: what a notebook
        shows; every field is an attribute (:meth:`to_dict` for all of them)."""
        what = "/".join(
            [self.task, self.arch, self.regularizer]
            + [
                v
                for v, d in (
                    (self.ssl, "supervised"),
                    (self.finetune, "full"),
                    (self.optimizer, "adamw"),
                )
                if v != d
            ]
        )
        said = [self.status]
        if self.test_accuracy is not None:
            said.append(f"test {self.test_accuracy:.3f}")
        said.append(f"{self.train_seconds:.3g} s")
        if self.error:
            said.append(self.error if len(self.error) <= 80 else self.error[:77] + "...")
        return f"RunResult({what} seed {self.seed}: {', '.join(said)})"

    def to_dict(self) -> dict[str, Any]:
        """Every field, as plain values (JSON-able but for non-finite floats)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResult:
        data = legacy_optimizer(data)
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})

    def spec(self) -> RunSpec:
        """The spec this result came from."""
        names = {f.name for f in fields(RunSpec)}
        return RunSpec.from_dict({k: v for k, v in self.to_dict().items() if k in names})


RESULT_FIELDS = {
    "run_id": "the run's identity: a hash of its spec, code, data and numerics mode",
    "status": "ok, diverged (a non-finite loss), failed (an exception, missing data, a "
    "crash) or timed-out",
    "task": "the task's name",
    "arch": "the architecture's name",
    "regularizer": "the regularizer's name (none: no regularizer)",
    "ssl": "the semi- or self-supervised method's name (supervised: none)",
    "finetune": "the fine-tune strategy's name (full: every parameter trains)",
    "optimizer": "the optimizer's name (adamw unless the run chose another)",
    "seed": "the seed of everything random in the run",
    "hparams": "every hyperparameter the run trained with: the loop's by name, a "
    "component's as COMPONENT.NAME",
    "budget": "the budget it trained under (epochs, steps, seconds, eval_every)",
    "device": "where it trained: cpu, cuda or cuda:N",
    "data": "the fingerprint of the task's data files (None for generated data)",
    "numerics": "portable or native (benchbench.host.numerics)",
    "test_accuracy": "accuracy on the test split at the end of training (0-1)",
    "test_ece": "expected calibration error on the test split (15 bins)",
    "best_val_accuracy": "the best validation accuracy of its eval points",
    "final_val_accuracy": "the validation accuracy at its last eval point",
    "time_to_target_s": "training seconds until validation accuracy first reached the task's "
    "target (None: never)",
    "time_to_target_steps": "optimizer steps until then",
    "time_to_target_samples": "training samples seen until then",
    "train_seconds": "training seconds (evaluation not counted)",
    "eval_seconds": "seconds spent on evaluation",
    "steps": "optimizer steps taken",
    "epochs": "epochs of the training split seen",
    "samples_seen": "training samples seen",
    "samples_per_s": "training throughput",
    "params": "the model's parameters",
    "model_bytes": "the model's parameters and buffers, in bytes",
    "latency_batch1_ms": "inference latency of a batch of 1, milliseconds (of the evaluated "
    "model: with its test-time views when the run has tta)",
    "latency_batch1024_ms": "inference latency of a batch of 1024, milliseconds",
    "pretrain_steps": "steps of a self-supervised pretraining phase",
    "pretrain_seconds": "seconds of that phase",
    "pretrain_loss": "its final loss",
    "chance_accuracy": "1 / classes: what a diverged seed counts as in a leaderboard's mean",
    "source": "what a transfer task's source model measured (its accuracy and training seconds)",
    "curve": "the eval points: steps, epochs, seconds, samples, loss, validation accuracy",
    "loader": "where training time went: data-wait share, throughputs, verdict and advice",
    "code": "the code identity: the benchbench version and each component's origin",
    "machine": "conditions of the timings (benchbench.host.cpus): cores, threads, load, "
    "other processes' CPU use and the busy flag",
    "error": "why it did not end ok, in one line (None when it did)",
    "error_component": "the component the error came from, where known",
    "provenance": "what it ran with: host, platform, device and its name, benchbench, torch "
    "and Python versions, active plugins, torch threads, wall seconds",
}
"""What each field of :class:`RunResult` (and each column of :func:`~benchbench.results`)
holds, in order; the reference lists them from here."""


LEGACY_OPTIMIZER = "optimizer"
"""The loop setting that chose the optimizer before optimizers were components (``adamw`` or
``sgd``, with a ``momentum`` setting for SGD): specs stored then carry it in their
hyperparameters."""


def legacy_optimizer(data: Mapping[str, Any]) -> dict[str, Any]:
    """A spec's or result's dict with its ``optimizer``: as given, else (stored before
    optimizers were components) the loop setting that chose it, else ``adamw``."""
    data = dict(data)
    if "optimizer" not in data:
        data["optimizer"] = data.get("hparams", {}).get(LEGACY_OPTIMIZER, "adamw")
    return data


def _hash(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value
