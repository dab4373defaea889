"""Plugins: entry-point discovery and the registry they fill.

- :mod:`.config`: which plugins to load (importable without torch);
- :mod:`.registry`: the registry of components, suites, trackers and executors;
- :mod:`.manager`: the plugin manager (pluggy), which loads the plugins and has them fill
  the registry;
- :mod:`.observers`: the isolation of observer hooks (one that raises is a warning).

What ``benchbench list`` and ``show`` say is :mod:`benchbench.inventory`. The names below
are re-exported here, imported on first use, so that ``benchbench.plugins`` stays a stable
import path for plugin authors' tests and costs nothing to import.
"""

from __future__ import annotations

from ..public import lazy_exports

_PUBLIC = {
    "AUTOLOAD_ENV": "config",
    "ENTRY_POINT_GROUP": "config",
    "PluginConfig": "config",
    "KINDS": "registry",
    "Entry": "registry",
    "Origin": "registry",
    "PluginManager": "manager",
    "Registry": "registry",
    "get_plugin_manager": "manager",
    "hook_problems": "manager",
    "load_plugins": "manager",
    "notify": "observers",
}
__all__ = sorted(_PUBLIC)


__getattr__ = lazy_exports(__name__, _PUBLIC)
