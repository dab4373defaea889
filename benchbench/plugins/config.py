"""Which plugins to load, and the warning for one that did not load: importable without
torch, so the command line starts fast."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

AUTOLOAD_ENV = "BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD"
ENTRY_POINT_GROUP = "benchbench"


@dataclass(frozen=True)
class PluginConfig:
    """Which plugins to load; picklable, so worker processes load exactly the same ones."""

    modules: tuple[str, ...] = ()
    autoload: bool = True

    @classmethod
    def from_env(cls, modules: tuple[str, ...] = ()) -> PluginConfig:
        """``-p`` modules plus autoloading unless ``BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set."""
        disabled = os.environ.get(AUTOLOAD_ENV, "").strip().lower() in ("1", "true", "yes")
        return cls(modules=tuple(modules), autoload=not disabled)


def warn_not_loaded(errors: Iterable[tuple[str, str]]) -> None:
    """A :class:`~benchbench.errors.BenchbenchWarning` per plugin that failed to load, with
    why."""
    from ..errors import BenchbenchWarning

    for plugin, error in errors:
        warnings.warn(f"plugin {plugin!r} was not loaded: {error}", BenchbenchWarning, stacklevel=3)
