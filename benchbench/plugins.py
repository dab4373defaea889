"""The plugin manager and the registry of components it fills.

Plugins come from the ``benchbench`` entry-point group (unless
``BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD=1``) and from modules named with ``-p MODULE``, as in
pytest; ``-p no:NAME`` blocks an entry-point plugin. A plugin that fails to import, or whose
hooks fail, is reported by name and left out; the others keep working. Each registered
component remembers the plugin, distribution and version it came from, and every result
records the active plugins, so a leaderboard says exactly what it ran with.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .components import SSL, Architecture, Component, Finetune, Regularizer
from .errors import BenchbenchError, unknown_name
from .plugin_config import AUTOLOAD_ENV, ENTRY_POINT_GROUP, PluginConfig  # noqa: F401
from .tasks import Task

KINDS: dict[str, type[Component]] = {
    "task": Task,
    "arch": Architecture,
    "regularizer": Regularizer,
    "ssl": SSL,
    "finetune": Finetune,
}
"""Component kinds by name, each with its base class."""


@dataclass(frozen=True)
class Origin:
    """Where a plugin came from: its name, and its distribution and version if installed."""

    plugin: str
    distribution: str | None = None
    version: str | None = None

    def describe(self) -> str:
        if self.distribution:
            return f"{self.distribution} {self.version} ({self.plugin})"
        return f"-p {self.plugin}"


@dataclass(frozen=True)
class Entry:
    """A registered component class and its origin."""

    kind: str
    name: str
    cls: type[Component]
    origin: Origin


@dataclass
class Registry:
    """Components by kind and name, and suite files by name."""

    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    suites: dict[str, tuple[Path, Origin]] = field(default_factory=dict)
    _origin: Origin = field(default_factory=lambda: Origin("?"))

    def add(self, cls: type[Component]) -> None:
        """Register a component class; its kind follows from its base class."""
        kind = next(
            (k for k, base in KINDS.items() if isinstance(cls, type) and issubclass(cls, base)),
            None,
        )
        if kind is None:
            raise TypeError(f"{cls!r} is not a subclass of a benchbench component kind")
        cls.validate_class()
        existing = self.entries[kind].get(cls.name)
        if existing is not None and existing.cls is not cls:
            raise BenchbenchError(
                f"two {kind} components are named {cls.name!r}: one from "
                f"{existing.origin.describe()}, one from {self._origin.describe()}"
            )
        self.entries[kind][cls.name] = Entry(kind, cls.name, cls, self._origin)

    def add_suite(self, path: Path) -> None:
        """Register a suite file (TOML or YAML); its name is the file's stem."""
        path = Path(path)
        existing = self.suites.get(path.stem)
        if existing is not None and existing[0] != path:
            raise BenchbenchError(f"two suites are named {path.stem!r}: {existing[0]} and {path}")
        self.suites[path.stem] = (path, self._origin)

    def get(self, kind: str, name: str) -> type[Component]:
        """The class of a component, or a clear error suggesting close names."""
        if kind not in KINDS:
            raise unknown_name("component kind", kind, KINDS)
        entry = self.entries[kind].get(name)
        if entry is None:
            raise unknown_name(kind, name, self.entries[kind])
        return entry.cls

    def build(self, kind: str, name: str, hparams: dict[str, Any] | None = None) -> Any:
        """An instance of a component from its hyperparameters."""
        return self.get(kind, name)(**(hparams or {}))

    def __iter__(self) -> Iterator[Entry]:
        for kind in KINDS:
            yield from sorted(self.entries[kind].values(), key=lambda e: e.name)


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
        unknown = [
            name
            for name in dir(plugin)
            if name.startswith("benchbench_") and not hasattr(hookspecs, name)
        ]
        if unknown:  # a misspelled hook would otherwise be silently never called
            raise _PluginFailed(f"unknown hook(s) {unknown}; see benchbench.hookspecs")
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
        """Load a plugin module named with ``-p``; failure is the user's to fix, so it raises."""
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise BenchbenchError(f"cannot import plugin module {name!r} (-p): {exc}") from exc
        try:
            self._register_plugin(module, Origin(name))
        except _PluginFailed as exc:
            raise BenchbenchError(f"plugin module {name!r} (-p): {exc}") from exc

    @property
    def registry(self) -> Registry:
        """The registry, built on first use by calling each plugin's registration hooks."""
        if self._registry is None:
            registry = Registry()
            for hook_name in ("benchbench_register_components", "benchbench_register_suites"):
                for impl in getattr(self.hook, hook_name).get_hookimpls():
                    registry._origin = self.origins.get(impl.plugin_name, Origin(impl.plugin_name))
                    try:
                        impl.function(**{arg: registry for arg in impl.argnames})
                    except BenchbenchError:
                        raise
                    except Exception as exc:
                        self.errors.append((impl.plugin_name, f"{type(exc).__name__}: {exc}"))
            self._registry = registry
        return self._registry

    def active_plugins(self) -> list[dict[str, Any]]:
        """The loaded plugins with distribution and version, for every result's provenance."""
        return [
            {"plugin": o.plugin, "distribution": o.distribution, "version": o.version}
            for o in sorted(self.origins.values(), key=lambda o: o.plugin)
        ]


class _PluginFailed(Exception):
    pass


def get_plugin_manager(config: PluginConfig | None = None) -> PluginManager:
    """A new manager with the configured plugins loaded (no module-level singleton).

    ``-p no:NAME`` blocks the entry-point plugin ``NAME``; other ``-p`` values are modules.
    """
    config = config or PluginConfig.from_env()
    pm = PluginManager(config)
    for name in config.modules:
        if name.startswith("no:"):
            pm.set_blocked(name[3:])
    if config.autoload:
        pm.load_entry_points()
    for name in config.modules:
        if not name.startswith("no:"):
            pm.load_module(name)
    return pm
