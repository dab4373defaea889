"""Calling the observer hooks (``benchbench_run_started``, ``benchbench_eval_point``,
``benchbench_run_finished``) so that one plugin's failure is a warning naming it, never a
failed run: observers log, they do not train."""

from __future__ import annotations

import warnings
from typing import Any

from ..errors import BenchbenchWarning, one_line


def notify(hook: Any, **kwargs: Any) -> None:
    """Call every implementation of an observer hook; one that raises is a warning naming its
    plugin, never a failed run or a stopped suite (observers log, they do not train)."""
    for impl in hook.get_hookimpls():
        try:
            impl.function(*[kwargs[arg] for arg in impl.argnames])
        except Exception as exc:
            message = one_line(exc)
            warnings.warn(
                f"plugin {impl.plugin_name!r}: its {hook.name} raised "
                f"{type(exc).__name__}: {message} (ignored)",
                BenchbenchWarning,
                stacklevel=2,
            )
