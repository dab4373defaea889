"""The executor built into the core, registered through the same hook as a plugin's: the
plugin manager loads this module by name before any entry point (and whether or not
entry points are loaded), so ``local`` is always there, as pytest's own plugins are."""

from __future__ import annotations

from typing import Any

from ..hookspecs import hookimpl


@hookimpl
def benchbench_register_executors(registry: Any) -> None:
    from .local import LocalExecutor

    registry.add_executor(LocalExecutor)
