"""The loop's own settings: their defaults and declarations (``benchbench show loop``), its
share of every search space, the learning-rate schedule, and the seeds it derives for each
purpose from a run's seed. (The optimizer is a component: :mod:`benchbench.optimizers`.)"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

import torch

from ..data.streams import DATA_PATHS
from ..params import Bool, Choice, Float, Int, Param
from ..phrasing import option
from .views import tta_problem

LOOP_DEFAULTS: Mapping[str, Any] = {
    "lr": 3e-3,
    "batch_size": 128,
    "schedule": "cosine",
    "warmup": 0.0,
    "cooldown": 0.2,
    "data_path": "auto",
    "workers": 0,
    "pin_memory": None,
    "prefetch_factor": 2,
    "precision": "fp32",
    "channels_last": False,
    "compile": "none",
    "compile_warmup": False,
    "tf32": False,
    "cudnn_benchmark": False,
    "tta": 0,
}
"""Settings of the loop itself; a task's ``trainer_defaults`` and the spec override them.
``data_path`` to ``prefetch_factor`` choose how data reaches the loop (see
:mod:`benchbench.data.streams`); the last five how the loop computes (:func:`autocast`,
:func:`apply_backends`). A spec made before a setting existed trains with its default, which
computes as the loop did then."""

SCHEDULES = ("cosine", "constant", "linear", "trapezoid", "step")
"""The learning-rate schedules' shapes (:func:`lr_factor`): those AlgoPerf's submissions use."""
STEP_DROPS = ((0.5, 0.1), (0.75, 0.01))
"""``step``: the factor from each point of the decay on (a tenth at half, a hundredth at
three quarters), as the classic ResNet and wide-ResNet recipes drop theirs."""
COMPILE_MODES = ("none", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDA_ONLY = ("tf32", "cudnn_benchmark")
"""Settings that mean something only on a CUDA device; asking for them on the CPU is refused."""

LOOP_PARAMS: Mapping[str, Param] = {
    "lr": Float(0, low_open=True, help="peak learning rate"),
    "batch_size": Int(1, help="labeled examples per step"),
    "schedule": Choice(*SCHEDULES, help="learning-rate decay over the budget (see lr_factor)"),
    "warmup": Float(0, 1, high_open=True, help="fraction of the budget warming up linearly"),
    "cooldown": Float(
        0, 1, low_open=True, help="trapezoid: the last fraction of the budget, decaying to 0"
    ),
    "data_path": Choice(*DATA_PATHS, help="how batches reach the loop (auto: fastest)"),
    "workers": Int(0, help="DataLoader worker processes (memory and disk paths)"),
    "pin_memory": Bool(optional=True, help="pinned host memory (null: on for CUDA)"),
    "prefetch_factor": Int(1, help="batches each DataLoader worker loads ahead"),
    "precision": Choice(
        "fp32", "bf16", "fp16", help="autocast (fp16 with a gradient scaler); fp32 weights"
    ),
    "channels_last": Bool(help="images and convolution weights in channels-last format"),
    "compile": Choice(*COMPILE_MODES, help="torch.compile mode of the model (time on clock)"),
    "compile_warmup": Bool(help="compile on a warm-up pass before the clock starts"),
    "tf32": Bool(help="TensorFloat-32 matrix products and convolutions (CUDA)"),
    "cudnn_benchmark": Bool(help="cuDNN autotunes its convolution algorithms (CUDA)"),
    "tta": Int(
        0, 2, help="test-time augmentation: 0 none, 1 mirror images, 2 and 1-position shifts"
    ),
}
"""What each loop setting may be (:mod:`benchbench.params`)."""

RETIRED_PARAMS: Mapping[str, Param] = {
    "optimizer": Choice("adamw", "sgd", help="the optimizer, before optimizers were components"),
    "momentum": Float(0, 1, low_open=True, high_open=True, help="SGD's momentum, likewise"),
}
"""Loop settings that specs stored before the optimizer kind carry (their optimizer, and
SGD's ``momentum``): such a spec still trains and verifies as it did, its ``momentum`` going
to the optimizer that declares one; a new spec never has them."""


def loop_search_space(trial: Any) -> dict[str, Any]:
    """The loop's share of every run's search space: the learning rate. (Weight decay is a
    regularizer, ``weight-decay``, so that ``none`` means no regularization at all.)"""
    return {"lr": trial.suggest_float("lr", 1e-4, 3e-2, log=True)}


def lr_factor(progress: float, schedule: str, warmup: float, cooldown: float = 0.2) -> float:
    """Multiplier of the base learning rate at ``progress`` (0..1) through the budget.

    A linear warm-up over the first ``warmup`` fraction, then, over the rest:

    - ``cosine``: half a cosine down to 0;
    - ``constant``: 1;
    - ``linear``: a straight line down to 0;
    - ``trapezoid`` (warmup-stable-decay): 1 until the last ``cooldown`` fraction of the
      budget, then a straight line down to 0;
    - ``step``: 1, a tenth from half way, a hundredth from three quarters
      (:data:`STEP_DROPS`).

    Progress is measured by whichever budget limit is closest, so seconds-only budgets decay
    on time.
    """
    if progress < warmup:
        return (progress + 1e-8) / warmup
    rest = min((progress - warmup) / (1.0 - warmup), 1.0)
    if schedule == "constant":
        return 1.0
    if schedule == "linear":
        return 1.0 - rest
    if schedule == "trapezoid":
        return min(1.0, (1.0 - progress) / cooldown)
    if schedule == "step":
        return min((factor for point, factor in STEP_DROPS if rest >= point), default=1.0)
    return 0.5 * (1.0 + math.cos(math.pi * rest))


def derived_seed(seed: int, purpose: int) -> int:
    """A seed for one purpose (data order, component randomness) derived from the run's seed,
    so that a component that draws random numbers never changes the data order."""
    return seed * 1_000_003 + purpose


def setting_problem(hp: Mapping[str, Any], device: str, task: Any) -> str | None:
    """Why these loop settings cannot run on ``device`` for ``task`` (its class; one line),
    or None: CUDA-only settings on the CPU, channels-last without images, a trapezoid whose
    warm-up runs into its cool-down, test-time augmentation the task's inputs do not allow."""
    modality = task.modality
    tta = tta_problem(int(hp.get("tta", 0)), modality, getattr(task, "flips", False), task.name)
    if tta:
        return tta
    if hp.get("schedule") == "trapezoid" and hp["warmup"] + hp["cooldown"] > 1:
        return (
            f"schedule trapezoid: warmup {hp['warmup']:g} and cooldown {hp['cooldown']:g} "
            "overlap (they may share the budget, at most 1 together)"
        )
    if not device.startswith("cuda"):
        asked = [name for name in CUDA_ONLY if hp.get(name)]
        if asked:
            what = "is a CUDA setting" if len(asked) == 1 else "are CUDA settings"
            return (
                f"{', '.join(asked)} {what} and this run trains on {device} "
                f"(use {option('device', 'cuda')}, or leave it out)"
            )
    if hp.get("compile_warmup") and hp.get("compile", "none") == "none":
        return "compile_warmup warms up a compiled model: set compile too, or leave it out"
    if hp.get("channels_last") and modality != "image":
        return f"channels_last is a memory format for images; this task's inputs are {modality}"
    return None


def autocast(hp: Mapping[str, Any], device: Any) -> contextlib.AbstractContextManager:
    """The autocast context of the ``precision`` setting (nothing for fp32): forward passes
    and losses in bf16 or fp16 where autocast deems it safe; weights and optimizer state stay
    float32."""
    precision = hp.get("precision", "fp32")
    if precision == "fp32":
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device.type, dtype=dtype)


def apply_backends(hp: Mapping[str, Any], device: Any) -> dict[str, Any]:
    """Set this process's CUDA backend flags from ``tf32`` and ``cudnn_benchmark`` (before a
    CUDA run; every run sets them, so one run's choice never leaks into the next) and return
    what was in force, for the result."""
    if device.type != "cuda":
        return {}
    tf32, tuned = bool(hp.get("tf32", False)), bool(hp.get("cudnn_benchmark", False))
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = tuned
    return {"tf32": tf32, "cudnn_benchmark": tuned}
