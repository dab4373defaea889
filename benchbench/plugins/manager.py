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
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

import benchbench.hookspecs as hookspecs  # not 'from ..': that would fingerprint all of __init__

from ..components import SSL, Architecture, Component, Finetune, Regularizer
from ..errors import BenchbenchError, BenchbenchWarning, one_line, unknown_name
from ..spec import KIND_NAMES
from ..tasks import Task
from .config import ENTRY_POINT_GROUP, PluginConfig, warn_not_loaded

KINDS: dict[str, type[Component]] = dict(
    zip(KIND_NAMES, (Task, Architecture, Regularizer, SSL, Finetune), strict=True)
)
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
    tracked: dict[str, tuple[type[Any], Origin]] = field(default_factory=dict)
    _origin: Origin = field(default_factory=lambda: Origin("?"))

    def add(self, cls: type[Component]) -> None:
        """Register a component class; its kind follows from its base class.

        Raises ``ValueError`` naming the class and what is wrong when it breaks the contract
        (:meth:`~benchbench.Component.validate_class`), or when its name is taken by a
        component of any kind from another class."""
        kind = next(
            (k for k, base in KINDS.items() if isinstance(cls, type) and issubclass(cls, base)),
            None,
        )
        if kind is None:
            raise TypeError(f"{cls!r} is not a subclass of a benchbench component kind")
        try:
            cls.validate_class()
        except ValueError as exc:
            raise ValueError(f"{kind} {getattr(cls, 'name', '?')!r}: {exc}") from None
        for other_kind, entries in self.entries.items():
            existing = entries.get(cls.name)
            if existing is None or existing.cls is cls:
                continue
            same = f"two {kind} components are named {cls.name!r}"
            what = (
                same
                if other_kind == kind
                else (
                    f"{kind} {cls.name!r} has the name of {other_kind} {cls.name!r} (names are "
                    "unique across kinds: hyperparameters are addressed by name)"
                )
            )
            blocks = " or ".join(
                f"-p no:{o.plugin}" for o in (existing.origin, self._origin) if o.distribution
            )
            raise ValueError(
                f"{what}: one from {existing.origin.describe()}, one from "
                f"{self._origin.describe()}; rename one"
                + (f" or block one with {blocks}" if blocks else "")
            )
        self.entries[kind][cls.name] = Entry(kind, cls.name, cls, self._origin)

    def add_suite(self, path: Path) -> None:
        """Register a suite file (TOML or YAML); its name is the file's stem."""
        path = Path(path)
        existing = self.suites.get(path.stem)
        if existing is not None and existing[0] != path:
            raise ValueError(f"two suites are named {path.stem!r}: {existing[0]} and {path}")
        self.suites[path.stem] = (path, self._origin)

    def add_tracker(self, cls: type[Any]) -> None:
        """Register an experiment tracker (a :class:`~benchbench.Tracker` subclass), chosen
        with ``--log NAME``."""
        from ..tracking import Tracker

        if not (isinstance(cls, type) and issubclass(cls, Tracker)) or not cls.name:
            raise TypeError(f"{cls!r} is not a benchbench Tracker subclass with a name")
        existing = self.tracked.get(cls.name)
        if existing is not None and existing[0] is not cls:
            raise ValueError(f"two trackers are named {cls.name!r}")
        self.tracked[cls.name] = (cls, self._origin)

    @property
    def trackers(self) -> dict[str, type[Any]]:
        """The registered trackers' classes by name."""
        return {name: cls for name, (cls, _) in self.tracked.items()}

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

    def _snapshot(self) -> tuple[dict[str, dict[str, Entry]], dict[str, Any], dict[str, Any]]:
        return {k: dict(v) for k, v in self.entries.items()}, dict(self.suites), dict(self.tracked)

    def _restore(self, snapshot: tuple[dict, dict, dict]) -> None:
        self.entries, self.suites, self.tracked = snapshot


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
        try:
            module = importlib.import_module(name)
        except Exception as exc:
            raise BenchbenchError(f"cannot import plugin module {name!r} (-p): {exc}") from exc
        if self.is_registered(module):
            return
        try:
            self._register_plugin(module, Origin(name))
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
        def key(name: str) -> tuple[int, str]:
            origin = self.origins.get(name, Origin(name))
            if origin.distribution is None:
                return (2, "")
            return (0 if origin.distribution == "benchbench" else 1, name)

        names = [name for name, _ in self.list_name_plugin() if name in self.origins]
        return sorted(names, key=key)  # stable: -p modules keep the order given

    def active_plugins(self) -> list[dict[str, Any]]:
        """The loaded plugins with distribution and version, for every result's provenance."""
        return [
            {"plugin": o.plugin, "distribution": o.distribution, "version": o.version}
            for o in sorted(self.origins.values(), key=lambda o: o.plugin)
        ]


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


def load_plugins(modules: Sequence[str] = ()) -> PluginManager:
    """The plugin manager for the ``-p`` ``modules`` (and the entry points unless
    ``BENCHBENCH_DISABLE_PLUGIN_AUTOLOAD`` is set), its registry built now so that a plugin
    that does not load is named (a warning) before any work."""
    pm = get_plugin_manager(PluginConfig.from_env(tuple(modules)))
    _ = pm.registry
    warn_not_loaded(pm.errors)
    return pm
