"""The one training loop every run goes through.

Each step takes the next batch (timed as data wait), lets the regularizer turn it into a loss,
and steps the optimizer; the budget clock ends the run when any limit is reached. At every
eval point the clock is paused, validation accuracy joins the curve, and time-to-target is
noted the first time it reaches the task's target. The test split is scored once, at the end,
on the final model.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from ..budget import BudgetClock
from ..components import (
    SSL,
    Architecture,
    Finetune,
    Model,
    Regularizer,
    RunContext,
    count_parameters,
    set_trainable,
)
from ..data.streams import DATA_PATHS, DeviceStream, batches, make_stream, materialize
from ..params import Bool, Choice, Float, Int, Param
from ..plugins.manager import notify
from ..spec import RunResult, RunSpec
from ..tasks import Splits, Task
from .metrics import (
    LATENCY_BATCH,
    accuracy,
    correct_fraction,
    expected_calibration_error,
    inference_latency_ms,
    model_bytes,
    predict,
)
from .profiling import LoaderProfile, measure_loader

LOOP_DEFAULTS: Mapping[str, Any] = {
    "optimizer": "adamw",
    "lr": 3e-3,
    "momentum": 0.9,
    "batch_size": 128,
    "schedule": "cosine",
    "warmup": 0.0,
    "data_path": "auto",
    "workers": 0,
    "pin_memory": None,
    "prefetch_factor": 2,
}
"""Settings of the loop itself; a task's ``trainer_defaults`` and the spec override them. The
last four choose how data reaches the loop (see :mod:`benchbench.data.streams`)."""

LOOP_PARAMS: Mapping[str, Param] = {
    "optimizer": Choice("adamw", "sgd", help="AdamW, or SGD with Nesterov momentum"),
    "lr": Float(0, low_open=True, help="peak learning rate"),
    "momentum": Float(0, 1, low_open=True, high_open=True, help="SGD's Nesterov momentum"),
    "batch_size": Int(1, help="labeled examples per step"),
    "schedule": Choice("cosine", "constant", help="learning-rate decay over the budget"),
    "warmup": Float(0, 1, high_open=True, help="fraction of the budget warming up linearly"),
    "data_path": Choice(*DATA_PATHS, help="how batches reach the loop (auto: fastest)"),
    "workers": Int(0, help="DataLoader worker processes (memory and disk paths)"),
    "pin_memory": Bool(optional=True, help="pinned host memory (null: on for CUDA)"),
    "prefetch_factor": Int(1, help="batches each DataLoader worker loads ahead"),
}
"""What each loop setting may be (:mod:`benchbench.params`)."""

_EVAL_BATCH = 2048


def loop_search_space(trial: Any) -> dict[str, Any]:
    """The loop's share of every run's search space: the learning rate. (Weight decay is a
    regularizer, ``weight-decay``, so that ``none`` means no regularization at all.)"""
    return {"lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True)}


@dataclass
class RunComponents:
    """The built components of one run."""

    task: Task
    arch: Architecture
    regularizer: Regularizer
    ssl: SSL
    finetune: Finetune


def lr_factor(progress: float, schedule: str, warmup: float) -> float:
    """Multiplier of the base learning rate at ``progress`` (0..1) through the budget.

    Linear warm-up over the first ``warmup`` fraction, then constant or a cosine decay to 0.
    Progress is measured by whichever budget limit is closest, so seconds-only budgets decay
    on time.
    """
    if progress < warmup:
        return (progress + 1e-8) / warmup
    if schedule == "constant":
        return 1.0
    rest = (progress - warmup) / (1.0 - warmup)
    return 0.5 * (1.0 + math.cos(math.pi * min(rest, 1.0)))


def _optimizer(
    hp: Mapping[str, Any], groups: list[dict[str, Any]], weight_decay: float
) -> torch.optim.Optimizer:
    if hp["optimizer"] == "sgd":
        return torch.optim.SGD(
            groups,
            lr=hp["lr"],
            momentum=hp["momentum"],
            nesterov=True,
            weight_decay=weight_decay,
        )
    return torch.optim.AdamW(groups, lr=hp["lr"], weight_decay=weight_decay)


def _seed(seed: int, purpose: int) -> int:
    """A seed for one purpose (data order, component randomness) derived from the run's seed,
    so that a component that draws random numbers never changes the data order."""
    return seed * 1_000_003 + purpose


def _pretraining_inputs(splits: Splits) -> torch.Tensor:
    """What self-supervised pretraining sees: every training input, without its label (the
    labeled inputs and the unlabeled split)."""
    parts = [splits.train.x] if splits.unlabeled is None else [splits.train.x, splits.unlabeled]
    return torch.cat(parts)


EXPLODE_FACTOR = 10.0
EXPLODE_STEPS = 20
"""A loss counts as exploded when it stays above ``EXPLODE_FACTOR`` x max(1, its first
value) for ``EXPLODE_STEPS`` steps in a row: far above where any healthy run starts, for
long enough that a spike is not mistaken for it."""


class _Divergence:
    """Notices a loss that is not finite, or that explodes (see ``EXPLODE_FACTOR``). On the
    CPU it looks every step (``.item()`` is free); on an accelerator ``.item()`` would sync
    every step, so it accumulates on the device and looks when asked. Returns the reason."""

    def __init__(self, device: torch.device) -> None:
        self.every_step = device.type == "cpu"
        self.nonfinite = torch.zeros((), dtype=torch.bool, device=device)
        self.streak = torch.zeros((), dtype=torch.int64, device=device)
        self.exploded = torch.zeros((), dtype=torch.bool, device=device)
        self.ceiling: torch.Tensor | float | None = None
        self.steps = self.over = 0

    def __call__(self, loss: torch.Tensor, check: bool) -> str | None:
        self.steps += 1
        if self.every_step:
            value = loss.item()
            if not math.isfinite(value):
                return f"non-finite loss at step {self.steps}"
            if self.ceiling is None:
                self.ceiling = EXPLODE_FACTOR * max(1.0, value)
            self.over = self.over + 1 if value > self.ceiling else 0
            return self._exploded(value) if self.over >= EXPLODE_STEPS else None
        value = loss.detach()
        self.nonfinite |= ~torch.isfinite(value)
        if self.ceiling is None:
            self.ceiling = EXPLODE_FACTOR * value.clamp(min=1.0)
        self.streak = (self.streak + 1) * (value > self.ceiling)
        self.exploded |= self.streak >= EXPLODE_STEPS
        if not check:
            return None
        if bool(self.nonfinite):
            return f"non-finite loss by step {self.steps}"
        return self._exploded(value.item()) if bool(self.exploded) else None

    def _exploded(self, value: float) -> str:
        return (
            f"loss exploded: above {float(self.ceiling):.3g} ({EXPLODE_FACTOR:g}x its start) "
            f"for {EXPLODE_STEPS} steps in a row, {value:.3g} at step {self.steps}"
        )


class _Loop:
    """One run's state: model, optimizer, stream, clock, curve; :meth:`run` trains it."""

    def __init__(
        self,
        spec: RunSpec,
        parts: RunComponents,
        splits: Splits,
        device: torch.device,
        hook: Any,
        on_eval: Callable[[dict[str, Any]], None] | None,
        initial_encoder: Mapping[str, torch.Tensor] | None = None,
        score_test: bool = True,
    ) -> None:
        self.spec, self.parts, self.device = spec, parts, device
        self.score_test = score_test
        self.hook, self.on_eval = hook, on_eval
        self.hp = hp = spec.loop_hparams()
        task = parts.task
        self.model = parts.arch.build(task.input_shape, task.num_classes).to(device).train()
        if initial_encoder is not None and parts.finetune.uses_pretrained:
            self.model.encoder.load_state_dict(initial_encoder)
        self.generator = torch.Generator(device=device).manual_seed(_seed(spec.seed, 1))
        self.context = RunContext(self.model, task, self.generator, device)
        parts.ssl.prepare(self.context)
        self.sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
        started = time.perf_counter()
        self.data = make_stream(
            splits.train,
            path=hp["data_path"],
            batch_size=int(hp["batch_size"]),
            seed=_seed(spec.seed, 0),
            device=device,
            workers=int(hp["workers"]),
            pin_memory=hp["pin_memory"],
            prefetch_factor=int(hp["prefetch_factor"]),
        )
        self.unlabeled = (
            self._unlabeled_stream(splits.unlabeled, 2) if parts.ssl.uses_unlabeled else None
        )
        self.pretraining = (
            self._unlabeled_stream(_pretraining_inputs(splits), 3)
            if parts.ssl.uses_pretraining
            else None
        )
        self.splits = splits
        self.val = materialize(splits.val, int(hp["workers"]))
        self.test = materialize(splits.test, int(hp["workers"])) if score_test else None
        self.prepare_seconds = time.perf_counter() - started
        self.clock = BudgetClock(spec.budget, self.data.stream.steps_per_epoch, self.sync)
        self.curve: list[dict[str, Any]] = []
        self.target_point: dict[str, Any] | None = None
        self.data_wait = self.eval_seconds = 0.0
        self.pretrain = {"steps": 0, "seconds": 0.0, "loss": None}
        self.divergence: str | None = None

    def _unlabeled_stream(self, x_u: torch.Tensor | None, purpose: int) -> DeviceStream:
        """Unlabeled batches (with dummy labels) of ``ratio`` x the labeled batch size, on
        the device, in an order of their own (``purpose`` keeps it apart from the others)."""
        ssl, task, device = self.parts.ssl, self.parts.task, self.device
        if x_u is None:
            raise ValueError(
                f"ssl {ssl.name!r} trains on unlabeled data, but task {task.name!r} "
                "has none (use a semi-supervised task)"
            )
        x_u = x_u.to(device)
        return DeviceStream(
            x_u,
            torch.zeros(len(x_u), dtype=torch.long, device=device),
            ssl.unlabeled_batch_size(int(self.hp["batch_size"])),
            torch.Generator(device=device).manual_seed(_seed(self.spec.seed, purpose)),
        )

    def run(self) -> RunResult:
        try:
            return self._run()
        finally:
            self.data.stream.close()

    def _run(self) -> RunResult:
        if self.hook is not None:
            notify(self.hook.benchbench_run_started, spec=self.spec, model=self.model)
        status = "ok"
        if self.pretraining is not None:
            status = self._pretrain()
        batches_ = iter(self.data.stream)
        if status == "ok":
            status = self._train(batches_)
        self.clock.pause()
        return self._result(status, batches_)

    def _pretrain(self) -> str:
        """The self-supervised phase: the first ``share`` of the budget trains the encoder and
        the method's modules on unlabeled batches, one learning-rate schedule per stage."""
        ssl, clock, hp, model = self.parts.ssl, self.clock, self.hp, self.model
        modules = ssl.pretrain_modules().to(self.device).train()
        params = [*model.encoder.parameters(), *modules.parameters()]
        optimizer = _optimizer(hp, [{"params": params, "lr": hp["lr"]}], 0.0)
        end, stages = ssl.pretrain_share(), max(1, ssl.pretrain_stages())
        batches_ = iter(self.pretraining)  # type: ignore[arg-type]
        diverged = _Divergence(self.device)
        clock.start()
        while clock.progress() < end:
            waited_from = time.perf_counter()
            x = next(batches_)[0]
            self.data_wait += time.perf_counter() - waited_from
            progress = clock.progress() / end
            stage_progress = progress * stages - min(int(progress * stages), stages - 1)
            factor = lr_factor(stage_progress, hp["schedule"], hp["warmup"])
            for group in optimizer.param_groups:
                group["lr"] = hp["lr"] * factor
            loss = ssl.pretrain_loss(model, x, progress, self.generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            clock.tick(len(x))
            done = clock.progress() >= end
            reason = diverged(loss, check=done or clock.steps % 25 == 0)
            if reason:
                self.divergence = f"pretraining: {reason}"
                return "diverged"
        clock.pause()
        self.pretrain = {"steps": clock.steps, "seconds": clock.seconds, "loss": loss.item()}
        model.zero_grad(set_to_none=True)
        return "ok"

    def _train(self, batches_: Any) -> str:
        """The supervised phase (after pretraining, if any): regularizer, joint unlabeled
        loss, and the finetune component's parameter groups and schedule."""
        parts, clock, hp = self.parts, self.clock, self.hp
        if parts.finetune.fits:
            return self._fit()
        parts.regularizer.prepare(self.context)
        optimizer = _optimizer(
            hp, parts.finetune.param_groups(self.model, hp["lr"]), parts.regularizer.weight_decay()
        )
        base_lrs = [group["lr"] for group in optimizer.param_groups]
        num_classes = parts.task.num_classes
        eval_interval = max(1, round(self.spec.budget.eval_every * clock.steps_per_epoch))
        start_progress, start_step = clock.progress(), clock.steps
        unlabeled = iter(self.unlabeled) if self.unlabeled is not None else None
        diverged = _Divergence(self.device)

        def phase_progress() -> float:
            return (clock.progress() - start_progress) / max(1e-12, 1.0 - start_progress)

        clock.start()
        while not clock.exhausted():
            waited_from = time.perf_counter()
            x, y = next(batches_)
            x_u = next(unlabeled)[0] if unlabeled is not None else None
            self.data_wait += time.perf_counter() - waited_from

            progress = phase_progress()
            factor = lr_factor(progress, hp["schedule"], hp["warmup"])
            for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
                group["lr"] = base * factor
            targets = F.one_hot(y, num_classes).to(x.dtype)
            x, targets = parts.regularizer.transform(x, targets, self.generator)
            logits, targets = parts.regularizer.forward(self.model, x, targets, self.generator)
            loss = parts.regularizer.loss(logits, targets)
            if x_u is not None:
                loss = loss + parts.ssl.unlabeled_loss(self.model, x_u, progress, self.generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            clock.tick(len(y))
            progress = phase_progress()
            parts.finetune.on_step(self.model, progress)
            parts.regularizer.on_step(self.model, progress)

            at_eval = (clock.steps - start_step) % eval_interval == 0 or clock.exhausted()
            reason = diverged(loss, check=at_eval)
            if reason:
                self.divergence = reason
                return "diverged"
            if at_eval:
                clock.pause()
                self._eval_point()
                if clock.exhausted():
                    break
                clock.start()
        return "ok"

    def _fit(self) -> str:
        """A closed-form fine-tuning phase: the finetune component fits a linear head on the
        frozen encoder's features of the labeled training split; no gradient step. The fit
        runs on the clock (it is the method's training time) and is followed by one eval
        point."""
        parts, clock = self.parts, self.clock
        set_trainable(self.model.encoder, False)
        clock.start()
        train = materialize(self.splits.train, int(self.hp["workers"]))
        x, y = train.x.to(self.device), train.y
        with torch.no_grad():
            features = torch.cat([self.model.features(xb) for xb in batches(x, _EVAL_BATCH)])
        weight, bias = parts.finetune.fit(features.cpu().numpy(), y.numpy(), parts.task.num_classes)
        head = torch.nn.Linear(weight.shape[1], weight.shape[0]).to(self.device)
        with torch.no_grad():
            head.weight.copy_(torch.as_tensor(weight))
            head.bias.copy_(torch.as_tensor(bias))
        self.model.head = head
        clock.pause()
        self._eval_point()
        return "ok"

    def _eval_point(self) -> None:
        """Validation accuracy at the current step, with the training clock paused."""
        started, clock = time.perf_counter(), self.clock
        val_accuracy = accuracy(self.model, self.val.x.to(self.device), self.val.y.to(self.device))
        point = {
            "step": clock.steps,
            "epoch": clock.epoch,
            "samples": clock.samples,
            "train_seconds": clock.seconds,
            "val_accuracy": val_accuracy,
        }
        self.curve.append(point)
        if self.target_point is None and val_accuracy >= self.parts.task.target_accuracy:
            self.target_point = point
        if self.hook is not None:
            notify(self.hook.benchbench_eval_point, spec=self.spec, point=dict(point))
        if self.on_eval is not None:
            self.on_eval(point)
        self.eval_seconds += time.perf_counter() - started

    def _deployment(self) -> dict[str, Any]:
        """What serving the trained model costs: its size and its inference latency at batch
        1 and at a large batch, measured off the clock on one validation input."""
        example = self.val.x[0].to(self.device)
        return {
            "model_bytes": model_bytes(self.model),
            "latency_batch1_ms": inference_latency_ms(
                self.model, example, 1, 20, self.sync, warmup=3
            ),
            "latency_batch1024_ms": inference_latency_ms(
                self.model, example, LATENCY_BATCH, 3, self.sync, warmup=1
            ),
        }

    def _result(self, status: str, batches_: Any) -> RunResult:
        clock, data, ttt = self.clock, self.data, self.target_point
        train_seconds = clock.seconds
        test_accuracy = test_ece = None
        if status == "ok" and self.test is not None:
            started = time.perf_counter()
            test_y = self.test.y.to(self.device)
            probs = predict(self.model, self.test.x.to(self.device))
            test_accuracy = correct_fraction(probs, test_y)
            test_ece = expected_calibration_error(probs, test_y)
            self.eval_seconds += time.perf_counter() - started
        prefetched = data.workers * int(self.hp["prefetch_factor"])
        loader_rate = measure_loader(batches_, skip=prefetched, sync=self.sync)
        loader = LoaderProfile.from_times(
            self.data_wait,
            train_seconds,
            clock.samples,
            loader_samples_per_s=loader_rate,
            data_path=data.path,
            workers=data.workers,
            pin_memory=data.pin_memory,
            prepare_seconds=self.prepare_seconds,
            device=self.device.type,
        )
        return RunResult.for_spec(
            self.spec,
            status,
            test_accuracy=test_accuracy,
            test_ece=test_ece,
            best_val_accuracy=max((p["val_accuracy"] for p in self.curve), default=None),
            final_val_accuracy=self.curve[-1]["val_accuracy"]
            if self.curve and status == "ok"
            else None,
            time_to_target_s=ttt["train_seconds"] if ttt else None,
            time_to_target_steps=ttt["step"] if ttt else None,
            time_to_target_samples=ttt["samples"] if ttt else None,
            train_seconds=train_seconds,
            eval_seconds=self.eval_seconds,
            steps=clock.steps,
            epochs=clock.epoch,
            samples_seen=clock.samples,
            samples_per_s=clock.samples / train_seconds
            if train_seconds > 0 and clock.samples
            else None,
            params=count_parameters(self.model),
            **self._deployment() if status == "ok" else {},
            curve=self.curve,
            loader=loader.to_dict(),
            pretrain_steps=self.pretrain["steps"],
            pretrain_seconds=self.pretrain["seconds"],
            pretrain_loss=self.pretrain["loss"],
            chance_accuracy=1.0 / self.parts.task.num_classes,
            error=self.divergence,
        )


def train_model(
    spec: RunSpec,
    parts: RunComponents,
    splits: Splits,
    device: torch.device,
    hook: Any = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
    initial_encoder: Mapping[str, torch.Tensor] | None = None,
    score_test: bool = True,
) -> tuple[RunResult, Model]:
    """Train ``parts`` on ``splits`` within ``spec.budget``, measure everything, and return
    the result with the trained model.

    The global RNG must be seeded by the caller (it initialises the model); ``hook`` is the
    plugin manager's hook relay for the lifecycle hooks, ``on_eval`` sees each eval point
    (tuning reports there and may raise to prune), and ``initial_encoder`` (a source model's
    encoder weights) replaces the fresh encoder unless the finetune strategy starts fresh.
    With ``score_test=False`` (tuning) the test split is never read.
    """
    loop = _Loop(spec, parts, splits, device, hook, on_eval, initial_encoder, score_test)
    return loop.run(), loop.model
