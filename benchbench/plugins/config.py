"""Which plugins to load, and the warning for one that did not load: importable without
torch, so the command line starts fast."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

AUTOLOAD_ENV = "BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD"
ENTRY_POINT_GROUP = "benchbench"


@dataclass(frozen=True)
class PluginConfig:
    """Which plugins to load; picklable, so worker processes load exactly the same ones."""

    modules: tuple[str, ...] = ()
    autoload: bool = True

    @classmethod
    def from_env(cls, modules: Iterable[Any] = ()) -> PluginConfig:
        """``-p`` modules (or what :func:`plugin_names` takes) plus autoloading unless
        ``BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set."""
        disabled = os.environ.get(AUTOLOAD_ENV, "").strip().lower() in ("1", "true", "yes")
        return cls(modules=plugin_names(modules), autoload=not disabled)


def plugin_names(plugins: Iterable[Any]) -> tuple[str, ...]:
    """What ``plugins=[...]`` names, as the command's ``-p`` values: a module name as given, a
    module object by its name, and a component, tracker or executor class by reference
    (``my_module:InputNoise``), so that worker processes load it from its module. A class
    of ``__main__`` (a script's or a notebook's) is ``__main__:InputNoise``: usable in this
    process only (:func:`check_shippable` says so where workers would need it)."""
    names = []
    for plugin in plugins:
        if isinstance(plugin, str):
            names.append(plugin)
        elif isinstance(plugin, type):
            names.append(f"{plugin.__module__}:{plugin.__qualname__}")
        elif hasattr(plugin, "__name__") and hasattr(plugin, "__spec__"):  # a module
            names.append(plugin.__name__)
        else:
            from ..errors import BenchbenchError

            raise BenchbenchError(
                f"plugins takes module names, modules and component classes, got {plugin!r}"
            )
    return tuple(names)


def check_shippable(modules: Iterable[str]) -> None:
    """Refuse, in one line, plugins that worker processes cannot load: classes or modules
    defined in ``__main__`` (the calling script or notebook, which workers never run)."""
    from ..errors import BenchbenchError

    for name in modules:
        module, _, attr = name.partition(":")
        if module == "__main__":
            what = attr or "this script's plugins"
            raise BenchbenchError(
                f"{what} is defined in __main__ (this script or notebook), which worker "
                "processes never run: put it in a module (my_plugins.py beside the script) "
                "and pass plugins=['my_plugins'], or train it in this process with "
                "bb.run_one(...)"
            )


def warn_not_loaded(errors: Iterable[tuple[str, str]]) -> None:
    """A :class:`~benchbench.errors.BenchbenchWarning` per plugin that failed to load, with
    why."""
    from ..errors import BenchbenchWarning

    for plugin, error in errors:
        warnings.warn(f"plugin {plugin!r} was not loaded: {error}", BenchbenchWarning, stacklevel=3)
