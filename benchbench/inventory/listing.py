"""A cache of what ``benchbench list`` shows, so listing does not import every plugin.

Loading the plugins imports torch (2-3 s); the listing itself is a few kilobytes of names,
summaries and origins. It is kept under the data folder, keyed by everything that could
change it: the ``benchbench`` entry points (names, targets, distributions and versions), the
``-p`` modules, whether autoloading is on, and the size and modification time of every file
of benchbench and of each plugin's package (an editable install changes without a new
version). Any doubt (a plugin whose files cannot be found without importing it) means no
cache: the plugins are loaded as before.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

from ..arguments import checked
from ..paths import default_data_dir
from ..plugins.config import ENTRY_POINT_GROUP, PluginConfig
from ..spec import KIND_NAMES

_SUFFIXES = {".py", ".toml", ".yaml", ".yml"}
KEPT = 8
"""Listings kept in the cache: one per installation and set of ``-p`` modules, the newest
(the command line reads one to make ``run``'s and ``tune``'s executor flags)."""
LISTED_KINDS = (*KIND_NAMES, "suite", "tracker", "executor")
"""What ``benchbench list --kind`` takes."""


def _files(module: str) -> list[Path] | None:
    """The source and suite files of a top-level module or package, found without importing
    it; None when they cannot be found that way."""
    top = module.split(".")[0].split(":")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin in (None, "built-in", "frozen"):
        return None
    if not spec.submodule_search_locations:
        return [Path(spec.origin)]
    return sorted(
        path
        for folder in spec.submodule_search_locations
        for path in Path(folder).rglob("*")
        if path.suffix in _SUFFIXES
    )


def listing_key(modules: tuple[str, ...], autoload: bool) -> str | None:
    """A key that changes whenever the listing may; None when one cannot be made."""
    parts: list[Any] = [sorted(modules), autoload]
    targets = ["benchbench", *(m for m in modules if not m.startswith("no:"))]
    if autoload:
        for ep in sorted(
            importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name
        ):
            dist = getattr(ep, "dist", None)
            parts.append([ep.name, ep.value, dist and dist.name, dist and dist.version])
            targets.append(ep.value)
    for target in targets:
        files = _files(target)
        if files is None:
            return None
        for path in files:
            try:
                stat = path.stat()
            except OSError:
                return None
            parts.append([str(path), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def cached_listing(
    modules: tuple[str, ...], autoload: bool, build: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """The listing ``build()`` makes, from the cache when its key matches."""
    key = listing_key(modules, autoload)
    if key is None:
        return build()
    path = default_data_dir() / "listing" / f"{key}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    listing = build()
    if listing.get("errors"):
        return listing  # a plugin may load once its dependency is installed: never cached
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = sorted(path.parent.glob("*.json"), key=_modified, reverse=True)
        for old in kept[KEPT - 1 :]:  # the newest: an installation, with a few -p module sets
            old.unlink(missing_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps(listing))
        os.replace(partial, path)
    except OSError:
        pass  # a read-only data folder: list works, only slower
    return listing


def _modified(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def listing(config: PluginConfig) -> dict[str, Any]:
    """What ``benchbench list`` shows: ``rows`` (kind, name, summary, from, plugin,
    distribution, version, defaults; an executor's ``options``) of every component, suite,
    tracker and executor, and ``errors``: the plugins that failed to load, with why; from
    the cache when nothing changed."""
    return cached_listing(config.modules, config.autoload, lambda: _build(config))


def _build(config: PluginConfig) -> dict[str, Any]:
    from ..plugins.manager import get_plugin_manager

    pm = get_plugin_manager(config)
    registry = pm.registry

    def row(kind: str, name: str, summary: str, origin: Any, defaults: dict) -> dict:
        return {
            "kind": kind,
            "name": name,
            "summary": summary,
            "from": origin.describe(),
            "plugin": origin.plugin,
            "distribution": origin.distribution,
            "version": origin.version,
            "defaults": defaults,
        }

    rows = [row(e.kind, e.name, e.cls.summary, e.origin, dict(e.cls.defaults)) for e in registry]
    rows += [
        row("suite", name, _suite_summary(name, registry), origin, {})
        for name, (_, origin) in sorted(registry.suites.items())
    ]
    rows += [
        row("tracker", name, cls.summary, origin, {})
        for name, (cls, origin) in sorted(registry.tracked.items())
    ]
    rows += [
        {
            **row("executor", name, cls.summary, origin, {o.name: o.default for o in cls.options}),
            "options": [option.describe() for option in cls.options],
        }
        for name, (cls, origin) in sorted(registry.placing.items())
    ]
    return {"rows": json.loads(json.dumps(rows, default=str)), "errors": pm.errors}


def _suite_summary(name: str, registry: Any) -> str:
    """A suite's description's first sentence, or why it cannot be read."""
    from ..errors import BenchbenchError
    from ..planning.suite import load_suite

    try:
        description = load_suite(name, registry).description
    except BenchbenchError as exc:
        return f"unreadable: {exc}"
    return " ".join(description.split()).split(". ")[0].rstrip(".")


@checked()
def catalog(kind: str | None = None, *, plugins: Sequence[str] = ()) -> pd.DataFrame:
    """Every registered component, suite, tracker and executor (of ``kind``: ``task``,
    ``arch``, ``regularizer``, ``ssl``, ``finetune``, ``suite``, ``tracker`` or
    ``executor``) as a DataFrame, one row each: its ``kind``, ``name``, ``summary``, the
    plugin and distribution it came from (``from``, ``plugin``, ``distribution``,
    ``version``) and its ``defaults`` (an executor's: its options', with their declarations
    in ``options``, None for the others): the rows of ``benchbench list --json``. Served
    from a cache while nothing installed changes, so it imports neither the plugins nor
    torch; a plugin that fails to load is a :class:`~benchbench.errors.BenchbenchWarning`."""
    import pandas as pd

    rows = catalog_rows(kind, plugins)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    return pd.DataFrame([[r.get(c) for c in columns] for r in rows], columns=columns, dtype=object)


def catalog_rows(kind: str | None = None, plugins: Sequence[str] = ()) -> list[dict[str, Any]]:
    """:func:`~benchbench.catalog` as JSON-able rows (what ``benchbench list --json`` prints)."""
    from ..errors import unknown_name
    from ..plugins.config import warn_not_loaded

    if kind is not None and kind not in LISTED_KINDS:
        raise unknown_name("kind", kind, LISTED_KINDS)
    found = listing(PluginConfig.from_env(tuple(plugins)))
    warn_not_loaded(found["errors"])
    return [r for r in found["rows"] if kind is None or r["kind"] == kind]
