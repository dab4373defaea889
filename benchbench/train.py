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
from torch import Tensor

from .budget import BudgetClock
from .components import SSL, Architecture, Finetune, Model, Regularizer, count_parameters
from .data.streams import DeviceStream, batches
from .profiling import LoaderProfile
from .spec import RunResult, RunSpec
from .tasks import Splits, Task

LOOP_DEFAULTS: Mapping[str, Any] = {
    "optimizer": "adamw",
    "lr": 3e-3,
    "weight_decay": 5e-4,
    "momentum": 0.9,
    "batch_size": 128,
    "schedule": "cosine",
    "warmup": 0.0,
}
"""Hyperparameters of the loop itself; a task's ``trainer_defaults`` and the spec override them."""

_EVAL_BATCH = 2048


def loop_search_space(trial: Any) -> dict[str, Any]:
    """The loop's share of every run's search space: learning rate and weight decay."""
    return {
        "lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-2, log=True),
    }


@dataclass
class RunComponents:
    """The built components of one run."""

    task: Task
    arch: Architecture
    regularizer: Regularizer
    ssl: SSL
    finetune: Finetune


def _check_loop_hparams(hp: Mapping[str, Any]) -> None:
    unknown = set(hp) - set(LOOP_DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown training hyperparameter(s) {sorted(unknown)} "
            f"(the loop has: {', '.join(sorted(LOOP_DEFAULTS))}; "
            "a component's are named <component>.<name>)"
        )
    if hp["optimizer"] not in ("adamw", "sgd"):
        raise ValueError(f"optimizer must be 'adamw' or 'sgd', got {hp['optimizer']!r}")
    if hp["schedule"] not in ("cosine", "constant"):
        raise ValueError(f"schedule must be 'cosine' or 'constant', got {hp['schedule']!r}")
    if not 0 <= hp["warmup"] < 1:
        raise ValueError(f"warmup is a fraction of the budget in [0, 1), got {hp['warmup']!r}")


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


def _optimizer(hp: Mapping[str, Any], groups: list[dict[str, Any]]) -> torch.optim.Optimizer:
    if hp["optimizer"] == "sgd":
        return torch.optim.SGD(
            groups,
            lr=hp["lr"],
            momentum=hp["momentum"],
            nesterov=True,
            weight_decay=hp["weight_decay"],
        )
    return torch.optim.AdamW(groups, lr=hp["lr"], weight_decay=hp["weight_decay"])


@torch.inference_mode()
def accuracy(model: Model, x: Tensor, y: Tensor) -> float:
    """Fraction of ``x`` the model classifies as ``y``, in eval mode, in large batches."""
    was_training = model.training
    model.eval()
    correct = 0
    for xb, yb in zip(batches(x, _EVAL_BATCH), batches(y, _EVAL_BATCH), strict=True):
        correct += int((model(xb).argmax(dim=-1) == yb).sum())
    model.train(was_training)
    return correct / len(y)


def _generator(device: torch.device, seed: int, stream: int) -> torch.Generator:
    """A generator for one purpose (data order, augmentation), derived from the run's seed, so
    that adding a component that draws random numbers never changes the data order."""
    return torch.Generator(device=device).manual_seed(seed * 1_000_003 + stream)


def train(
    spec: RunSpec,
    parts: RunComponents,
    splits: Splits,
    device: torch.device,
    hook: Any = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> RunResult:
    """Train ``parts`` on ``splits`` within ``spec.budget`` and measure everything.

    The global RNG must be seeded by the caller (it initialises the model); ``hook`` is the
    plugin manager's hook relay for the lifecycle hooks, and ``on_eval`` sees each eval point
    (tuning reports there and may raise to prune).
    """
    hp = spec.loop_hparams()
    _check_loop_hparams(hp)
    task = parts.task
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    model = parts.arch.build(task.input_shape, task.num_classes)
    parts.regularizer.prepare(model)
    model.to(device).train()
    optimizer = _optimizer(hp, parts.finetune.param_groups(model, hp["lr"]))
    base_lrs = [group["lr"] for group in optimizer.param_groups]

    stream = DeviceStream(
        splits.train.x.to(device),
        splits.train.y.to(device),
        int(hp["batch_size"]),
        _generator(device, spec.seed, 0),
    )
    component_generator = _generator(device, spec.seed, 1)
    val_x, val_y = splits.val.x.to(device), splits.val.y.to(device)
    clock = BudgetClock(spec.budget, stream.steps_per_epoch, sync)
    eval_interval = max(1, round(spec.budget.eval_every * stream.steps_per_epoch))
    total_steps = None if clock.max_steps == math.inf else int(clock.max_steps)

    if hook is not None:
        hook.benchbench_run_started(spec=spec, model=model)
    status, curve, ttt = "ok", [], None
    data_wait = eval_seconds = 0.0
    nonfinite = torch.zeros((), dtype=torch.bool, device=device)
    batches_ = iter(stream)
    clock.start()
    while not clock.exhausted():
        waited_from = time.perf_counter()
        x, y = next(batches_)
        data_wait += time.perf_counter() - waited_from

        factor = lr_factor(clock.progress(), hp["schedule"], hp["warmup"])
        for group, base in zip(optimizer.param_groups, base_lrs, strict=True):
            group["lr"] = base * factor
        targets = F.one_hot(y, task.num_classes).to(x.dtype)
        x, targets = parts.regularizer.transform(x, targets, component_generator)
        logits, targets = parts.regularizer.forward(model, x, targets, component_generator)
        loss = parts.regularizer.loss(logits, targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        clock.tick(len(y))
        parts.finetune.on_step(model, clock.steps, total_steps)

        at_eval = clock.steps % eval_interval == 0 or clock.exhausted()
        if device.type == "cpu":
            diverged = not math.isfinite(loss.item())
        else:  # .item() would sync the GPU every step: accumulate, check at eval points
            nonfinite |= ~torch.isfinite(loss.detach())
            diverged = at_eval and bool(nonfinite)
        if diverged:
            status = "diverged"
            break
        if at_eval:
            clock.pause()
            started = time.perf_counter()
            val_accuracy = accuracy(model, val_x, val_y)
            point = {
                "step": clock.steps,
                "epoch": clock.epoch,
                "samples": clock.samples,
                "train_seconds": clock.seconds,
                "val_accuracy": val_accuracy,
            }
            curve.append(point)
            if ttt is None and val_accuracy >= task.target_accuracy:
                ttt = point
            if hook is not None:
                hook.benchbench_eval_point(spec=spec, point=point)
            if on_eval is not None:
                on_eval(point)
            eval_seconds += time.perf_counter() - started
            if clock.exhausted():
                break
            clock.start()
    clock.pause()

    train_seconds = clock.seconds
    test_accuracy = None
    if status == "ok":
        started = time.perf_counter()
        test_accuracy = accuracy(model, splits.test.x.to(device), splits.test.y.to(device))
        eval_seconds += time.perf_counter() - started
    return RunResult.for_spec(
        spec,
        status,
        test_accuracy=test_accuracy,
        best_val_accuracy=max((p["val_accuracy"] for p in curve), default=None),
        final_val_accuracy=curve[-1]["val_accuracy"] if curve and status == "ok" else None,
        time_to_target_s=ttt["train_seconds"] if ttt else None,
        time_to_target_steps=ttt["step"] if ttt else None,
        time_to_target_samples=ttt["samples"] if ttt else None,
        train_seconds=train_seconds,
        eval_seconds=eval_seconds,
        steps=clock.steps,
        epochs=clock.epoch,
        samples_seen=clock.samples,
        samples_per_s=clock.samples / train_seconds if train_seconds > 0 else None,
        params=count_parameters(model),
        curve=curve,
        loader=LoaderProfile.from_times(data_wait, train_seconds, clock.samples).to_dict(),
    )
