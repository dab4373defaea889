"""The plugin manager and the registry of components it fills.

Plugins come from the ``benchbench`` entry-point group (unless
``BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD=1``) and from modules named with ``-p MODULE``, as in
pytest (importable from the current folder too); ``-p no:NAME`` blocks an entry-point
plugin. A plugin that fails to import, whose hooks fail, or that breaks the components'
contract is reported by name and left out *entirely* (registration is all or nothing); the
others keep working. Names are unique across kinds, since hyperparameters are addressed as
``<name>.<key>``. Each registered component remembers the plugin, distribution and version it
came from, and every result records the active plugins, so a leaderboard says exactly what it
ran with. Observer hooks are isolated: one that raises is a warning naming its plugin.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import inspect
import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

import pluggy

import benchbench.hookspecs as hookspecs  # not 'from ..': that would fingerprint all of __init__

from ..errors import BenchbenchError, one_line
from .config import ENTRY_POINT_GROUP, PluginConfig, warn_not_loaded
from .registry import Origin, Registry


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus entry-point loading that survives broken plugins, and the
    registry the registration hooks fill."""

    def __init__(self, config: PluginConfig) -> None:
        super().__init__(hookspecs.PROJECT)
        self.add_hookspecs(hookspecs)
        self.config = config
        self.origins: dict[str, Origin] = {}
        self.errors: list[tuple[str, str]] = []
        self._registry: Registry | None = None

    def _register_plugin(self, plugin: ModuleType | object, origin: Origin) -> None:
        problem = hook_problems(plugin)
        if problem:  # a misspelled or unmarked hook would otherwise be silently never called
            raise _PluginFailed(problem)
        try:
            self.register(plugin, name=origin.plugin)
        except (pluggy.PluginValidationError, ValueError) as exc:
            raise _PluginFailed(str(exc)) from exc
        self.origins[origin.plugin] = origin

    def load_entry_points(self) -> None:
        """Load every ``benchbench`` entry point that is not blocked; report failures."""
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            if self.is_blocked(ep.name) or self.get_plugin(ep.name) is not None:
                continue
            dist = getattr(ep, "dist", None)
            origin = Origin(ep.name, dist.name if dist else None, dist.version if dist else None)
            try:
                self._register_plugin(ep.load(), origin)
            except Exception as exc:  # a broken plugin must not take the others down
                self.errors.append((ep.name, f"{type(exc).__name__}: {exc}"))

    def load_module(self, name: str) -> None:
        """Load a plugin module named with ``-p``; failure is the user's to fix, so it raises.

        The current folder is searched too (``-p my_plugin`` beside ``my_plugin.py`` works
        from any entry point), and a module an installed entry point already loaded is used
        as installed, under its distribution's identity."""
        if os.getcwd() not in sys.path and "" not in sys.path:
            sys.path.append(os.getcwd())
        module_name, _, attr = name.partition(":")
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:
            raise BenchbenchError(
                f"cannot import plugin module {module_name!r} (-p): {exc}"
            ) from exc
        plugin: Any = module
        if attr:  # a class by reference: plugins=[InputNoise] in Python
            found: Any = module
            for part in attr.split("."):
                found = getattr(found, part, None)
            if not isinstance(found, type):
                raise BenchbenchError(f"plugin {name!r}: {module_name} has no class {attr}")
            plugin = ClassPlugin(found)
        if self.is_registered(plugin) or (attr and self.get_plugin(name) is not None):
            return
        try:
            self._register_plugin(plugin, Origin(name))
        except _PluginFailed as exc:
            raise BenchbenchError(f"plugin module {name!r} (-p): {exc}") from exc

    @property
    def registry(self) -> Registry:
        """The registry, built on first use by calling each plugin's registration hooks.

        Plugins register in a fixed order (benchbench's own distribution, then installed
        ones by name, then ``-p`` modules as given), each all or nothing: one whose hook
        raises, or that adds a class breaking the contract or taking a name, is rolled back
        and reported in ``errors``; a ``-p`` module's failure raises, as the user named it."""
        if self._registry is None:
            registry = Registry()
            for plugin_name in self._registration_order():
                origin = self.origins.get(plugin_name, Origin(plugin_name))
                registry._origin = origin
                snapshot = registry._snapshot()
                try:
                    for hook_name in (
                        "benchbench_register_components",
                        "benchbench_register_suites",
                        "benchbench_register_trackers",
                        "benchbench_register_executors",
                    ):
                        for impl in getattr(self.hook, hook_name).get_hookimpls():
                            if impl.plugin_name == plugin_name:
                                impl.function(**{arg: registry for arg in impl.argnames})
                except Exception as exc:
                    registry._restore(snapshot)
                    message = one_line(exc)
                    if not isinstance(exc, BenchbenchError | ValueError | TypeError):
                        message = f"{type(exc).__name__}: {message}"
                    if origin.distribution is None:
                        raise BenchbenchError(
                            f"plugin module {plugin_name!r} (-p): {message}"
                        ) from None
                    if origin.describe() not in message:
                        message = f"{message} ({origin.describe()})"
                    self.errors.append((plugin_name, message))
                    self.unregister(name=plugin_name)
                    self.origins.pop(plugin_name, None)
            self._registry = registry
        return self._registry

    def _registration_order(self) -> list[str]:
        """benchbench's own plugins, then installed ones by name, then ``-p`` modules as
        given; a plugin whose ``benchbench_register_components`` is marked ``trylast`` after
        all of them (one that builds components from what a user declared, and must see
        which names are taken rather than take them)."""
        last = {
            impl.plugin_name
            for impl in self.hook.benchbench_register_components.get_hookimpls()
            if impl.trylast
        }

        def key(name: str) -> tuple[int, int, str]:
            origin = self.origins.get(name, Origin(name))
            if origin.distribution is None:
                return (name in last, 2, "")
            return (name in last, 0 if origin.distribution == "benchbench" else 1, name)

        names = [name for name, _ in self.list_name_plugin() if name in self.origins]
        return sorted(names, key=key)  # stable: -p modules keep the order given

    def active_plugins(self) -> list[dict[str, Any]]:
        """The loaded plugins with distribution and version, for every result's provenance."""
        return [
            {"plugin": o.plugin, "distribution": o.distribution, "version": o.version}
            for o in sorted(self.origins.values(), key=lambda o: o.plugin)
        ]


def _core_origin(plugin: str) -> Origin:
    """Where the core's own plugins come from: benchbench's distribution."""
    try:
        return Origin(plugin, "benchbench", importlib.metadata.version("benchbench"))
    except importlib.metadata.PackageNotFoundError:  # a source tree on the path
        return Origin(plugin, "benchbench", None)


class _PluginFailed(Exception):
    pass


def hook_problems(plugin: ModuleType | object) -> str | None:
    """What would make a plugin's hook silently never called: a ``benchbench_*`` name that is
    no hook, a hook function without ``@benchbench.hookimpl``, or a function whose name is
    a near miss of a hook's (``benchbech_register_components``); None when there is none."""
    hooks = [n for n in dir(hookspecs) if n.startswith("benchbench_")]
    for name in dir(plugin):
        value = getattr(plugin, name, None)
        if not callable(value) or inspect.isclass(value):
            continue
        marked = hasattr(value, f"{hookspecs.PROJECT}_impl")
        if name.startswith("benchbench_") and name not in hooks:
            close = difflib.get_close_matches(name, hooks, n=1, cutoff=0.8)
            hint = f": did you mean {close[0]}?" if close else "; see benchbench.hookspecs"
            return f"{name} is not a benchbench hook{hint}"
        if name in hooks and not marked:
            return f"{name} is not marked @benchbench.hookimpl, so it would never be called"
        if not name.startswith("benchbench_"):
            close = difflib.get_close_matches(name, hooks, n=1, cutoff=0.9)
            if close or (marked and name not in hooks):
                hint = f": did you mean {close[0]}?" if close else ""
                return f"{name} is not a benchbench hook{hint}"
    return None


class ClassPlugin:
    """A plugin of one class, named by reference (``plugins=[InputNoise]`` in Python,
    ``my_module:InputNoise``): it registers the class by what it is, a component, a tracker
    or an executor."""

    def __init__(self, cls: type) -> None:
        from ..components import Component
        from ..executors.base import Executor
        from ..tracking.base import Tracker

        if not issubclass(cls, (Component, Tracker, Executor)):
            raise BenchbenchError(
                f"plugin {cls.__qualname__}: not a component, tracker or executor class"
            )
        self.cls = cls

    @hookspecs.hookimpl
    def benchbench_register_components(self, registry: Any) -> None:
        from ..components import Component

        if issubclass(self.cls, Component):
            registry.add(self.cls)

    @hookspecs.hookimpl
    def benchbench_register_trackers(self, registry: Any) -> None:
        from ..tracking.base import Tracker

        if issubclass(self.cls, Tracker):
            registry.add_tracker(self.cls)

    @hookspecs.hookimpl
    def benchbench_register_executors(self, registry: Any) -> None:
        from ..executors.base import Executor

        if issubclass(self.cls, Executor):
            registry.add_executor(self.cls)


BUILTIN_PLUGINS = {"local": "benchbench.executors.builtin"}
"""The core's own plugins, by plugin name: registered first in every manager, whether or not
entry points are loaded (named, not imported here: they sit above the plugin layer)."""


def get_plugin_manager(config: PluginConfig | None = None) -> PluginManager:
    """A new manager with the core's own plugins and the configured ones loaded (no
    module-level singleton).

    ``-p no:NAME`` blocks the entry-point plugin ``NAME``; other ``-p`` values are modules.
    """
    config = config or PluginConfig.from_env()
    pm = PluginManager(config)
    for name, module in BUILTIN_PLUGINS.items():
        pm._register_plugin(importlib.import_module(module), _core_origin(name))
    for name in config.modules:
        if name.startswith("no:"):
            pm.set_blocked(name[3:])
    if config.autoload:
        pm.load_entry_points()
    for name in config.modules:
        if not name.startswith("no:"):
            pm.load_module(name)
    return pm


def load_plugins(modules: Sequence[str] = ()) -> PluginManager:
    """The plugin manager for the ``-p`` ``modules`` (and the entry points unless
    ``BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set), its registry built now so that a plugin
    that does not load is named (a warning) before any work."""
    pm = get_plugin_manager(PluginConfig.from_env(tuple(modules)))
    _ = pm.registry
    warn_not_loaded(pm.errors)
    return pm
