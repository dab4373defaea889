"""The registry the plugins' registration hooks fill: components by kind and name, suite
files, experiment trackers and executors, each remembering the plugin (and distribution and
version) it came from."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import benchbench.kinds as kinds  # not 'from ..': that would fingerprint all of __init__

from ..components import KEBAB_NAME, Component
from ..errors import unknown_name

KINDS: dict[str, type[Component]] = {kind.name: kind.base_class() for kind in kinds.KINDS}
"""Component kinds by name, each with its base class (declared in :mod:`benchbench.kinds`)."""


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
    """Components by kind and name, suite files, trackers and executors by name."""

    entries: dict[str, dict[str, Entry]] = field(
        default_factory=lambda: {kind: {} for kind in KINDS}
    )
    suites: dict[str, tuple[Path, Origin]] = field(default_factory=dict)
    tracked: dict[str, tuple[type[Any], Origin]] = field(default_factory=dict)
    placing: dict[str, tuple[type[Any], Origin]] = field(default_factory=dict)
    """Executors by name, with where each came from."""
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
        from ..tracking.base import Tracker

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

    def add_executor(self, cls: type[Any]) -> None:
        """Register an executor (a :class:`~benchbench.Executor` subclass), chosen with
        ``--executor NAME``. Raises ``ValueError`` naming what is wrong when it breaks the
        contract (a name, a one-line summary, its options declared as
        :class:`~benchbench.ExecutorOption` and taken by its ``__init__``), or when another
        executor has its name."""
        from ..executors.base import Executor
        from ..executors.options import check_declarations

        if not (isinstance(cls, type) and issubclass(cls, Executor)):
            raise TypeError(f"{cls!r} is not a benchbench Executor subclass")
        name = getattr(cls, "name", "")
        if not isinstance(name, str) or not KEBAB_NAME.match(name):
            raise ValueError(f"executor {cls.__qualname__}: name {name!r} must be kebab-case")
        summary = cls.summary.strip() if isinstance(cls.summary, str) else ""
        if not summary or "\n" in summary:
            raise ValueError(f"executor {name!r}: give it a one-line summary")
        check_declarations(name, cls.options)
        takes = inspect.signature(cls.__init__).parameters
        if not any(p.kind is p.VAR_KEYWORD for p in takes.values()):
            missing = [o.name for o in cls.options if o.name not in takes]
            if missing:
                raise ValueError(
                    f"executor {name!r}: its __init__ does not take its option(s) "
                    f"{', '.join(missing)} (it is called as cls(placement, **options))"
                )
        existing = self.placing.get(name)
        if existing is not None and existing[0] is not cls:
            raise ValueError(
                f"two executors are named {name!r}: one from {existing[1].describe()}, one "
                f"from {self._origin.describe()}"
            )
        self.placing[name] = (cls, self._origin)

    @property
    def executors(self) -> dict[str, type[Any]]:
        """The registered executors' classes by name."""
        return {name: cls for name, (cls, _) in self.placing.items()}

    def executor(self, name: str) -> type[Any]:
        """The executor class called ``name``, or a clear error suggesting close names."""
        found = self.placing.get(name)
        if found is None:
            raise unknown_name("executor", name, self.placing)
        return found[0]

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

    def _snapshot(self) -> tuple[dict[str, dict[str, Entry]], dict, dict, dict]:
        entries = {k: dict(v) for k, v in self.entries.items()}
        return entries, dict(self.suites), dict(self.tracked), dict(self.placing)

    def _restore(self, snapshot: tuple[dict, dict, dict, dict]) -> None:
        self.entries, self.suites, self.tracked, self.placing = snapshot
