"""The executor a command asked for, opened: its name looked up among the registered ones,
its options checked against its declarations, the placement every executor gets checked,
and the device its runs will use resolved where they train."""

from __future__ import annotations

from typing import Any

from ..arguments import check
from ..plugins.registry import Registry
from .base import Executor, Placement
from .options import choose_options


def open_executor(
    registry: Registry,
    name: str,
    placement: Placement,
    device: str,
    options: Any = None,
    storage_url: str | None = None,
) -> tuple[Executor, str, str | None]:
    """The executor ``name`` with ``options`` (a dict, or its own options dataclass), placing
    runs as ``placement`` says, and the device the runs will use (``auto`` and ``cuda``
    resolved where they train). With ``storage_url`` (tuning: trials report to the study
    there from where they run) it is first asked whether its places can reach that database:
    a refusal raises, a doubt comes back as the third value, a warning line.

    :raises ~benchbench.BenchbenchError: an unknown executor or option, a bad value, what the
        executor cannot do (nothing was started).
    """
    cls = registry.executor(name)
    values = choose_options(name, cls.options, options, registry.executors)
    if not 0 < placement.gpus_per_run <= 1:
        check("gpus_per_run", placement.gpus_per_run)
    note = cls.check_storage(storage_url, values) if storage_url else None
    executor = cls(placement, **values)
    return executor, executor.use_device(device), note
