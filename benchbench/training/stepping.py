"""What the loop hands an optimizer beside the gradients: parameter groups that name their
parameters, and, for a step that evaluates the loss again (SAM's), the closure that does it
as the first pass did."""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch


def named_groups(
    groups: list[dict[str, Any]], *modules: tuple[str, torch.nn.Module]
) -> list[dict[str, Any]]:
    """``groups`` with each parameter's name beside it (``param_names``, as ``torch.optim``
    keeps them; ``prefix`` + its name in its module), so that an optimizer can tell the head
    from the encoder. A parameter of none of ``modules`` is named ``""``."""
    names = {
        id(p): f"{prefix}{name}"
        for prefix, module in modules
        for name, p in module.named_parameters()
    }
    return [
        {**group, "param_names": [names.get(id(p), "") for p in group["params"]]}
        for group in groups
    ]


@contextlib.contextmanager
def buffers_kept(model: torch.nn.Module) -> Iterator[None]:
    """The model's buffers (batch-norm statistics) as they were before: a step's second pass
    at other weights must not count the batch twice. Kept through the backward pass, which
    reads them."""
    saved = [(buffer, buffer.clone()) for buffer in model.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def closure(
    optimizer: torch.optim.Optimizer,
    loss: Callable[[], tuple[torch.Tensor, int]],
    model: torch.nn.Module,
    generator: torch.Generator,
    drawn: torch.Tensor | None,
    autocast: Callable[[], contextlib.AbstractContextManager],
) -> Callable[[], torch.Tensor]:
    """The loss again at the optimizer's current weights, as ``torch.optim`` closures do
    (gradients zeroed, the loss backpropagated and returned): ``loss()`` is the first pass's
    on the same batch, the generator is put back where the first pass found it (``drawn``),
    so augmentations and masks are drawn alike, and the model's buffers stay as the first
    pass left them."""

    def again() -> torch.Tensor:
        if drawn is not None:
            generator.set_state(drawn)
        optimizer.zero_grad(set_to_none=True)
        with buffers_kept(model):
            with autocast():
                value, _ = loss()
            value.backward()
        return value.detach()

    return again


def warmed(
    batches: Iterator[Any],
    model: torch.nn.Module,
    loss: Callable[[Any, float], tuple[torch.Tensor, int]],
    generator: torch.Generator,
    autocast: Callable[[], contextlib.AbstractContextManager],
    sync: Callable[[], None],
) -> tuple[Iterator[Any], float]:
    """A compiled model's warm-up off the training clock (the ``compile_warmup`` loop
    setting, as airbench warms up before it times): one forward and backward pass on the
    first batch, which compiles both, then the weights, buffers, gradients and generator put
    back as they were. Returns the same batches, the first included, and the seconds the
    warm-up took (the run's ``compile_seconds``)."""
    started = time.perf_counter()
    first = next(batches)
    kept = {k: v.clone() for k, v in model.state_dict().items()}
    drawn = generator.get_state()
    with autocast():
        value, _ = loss(first, 0.0)
    value.backward()
    model.zero_grad(set_to_none=True)
    model.load_state_dict(kept)
    generator.set_state(drawn)
    sync()
    return itertools.chain([first], batches), time.perf_counter() - started
