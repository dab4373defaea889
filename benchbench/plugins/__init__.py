"""Plugins: entry-point discovery and the registry they fill.

- :mod:`.config`: which plugins to load (importable without torch);
- :mod:`.manager`: the plugin manager (pluggy), the registry of components and suites, and
  the isolation of observer hooks;
- :mod:`.listing`: the cached listing behind ``benchbench list``;
- :mod:`.catalog`: what ``benchbench show NAME`` says of a component.

The names below are re-exported here, imported on first use, so that ``benchbench.plugins``
stays a stable import path for plugin authors' tests and costs nothing to import.
"""

from __future__ import annotations

import importlib
from typing import Any

_PUBLIC = {
    "AUTOLOAD_ENV": "config",
    "ENTRY_POINT_GROUP": "config",
    "PluginConfig": "config",
    "KINDS": "manager",
    "Entry": "manager",
    "Origin": "manager",
    "PluginManager": "manager",
    "Registry": "manager",
    "get_plugin_manager": "manager",
    "hook_problems": "manager",
    "notify": "manager",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
