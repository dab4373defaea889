"""Worker processes that never import the caller's ``__main__``.

multiprocessing's ``spawn`` starts a fresh interpreter and, before anything else, imports
the parent's main module again (as ``__mp_main__``) so that objects defined there can be
unpickled. For benchbench that is only harm: a script that calls ``bb.run(...)`` at module
level, without an ``if __name__ == "__main__":`` guard, starts its whole body again in
every worker (which starts workers of its own, and fails); a script read from standard
input makes the workers look for a file called ``<stdin>``; a notebook's workers import
whatever its kernel's main module is. Nothing benchbench sends a worker comes from the
caller's main module (runs travel as specs: names and values; plugins as module names), so
the processes of :func:`context` skip that import: the caller's code runs once, in the
caller, whatever Python it runs in.
"""

from __future__ import annotations

import multiprocessing.context
import multiprocessing.spawn
import threading
from typing import Any

_starting = threading.local()
_original = multiprocessing.spawn.get_preparation_data


def _preparation_data(name: str) -> dict[str, Any]:
    """What a spawned child is told before it starts: the parent's sys.path, working folder
    and so on, without the main module to import when one of :func:`context`'s processes is
    being started by this thread."""
    data = _original(name)
    if getattr(_starting, "no_main", False):
        data.pop("init_main_from_name", None)
        data.pop("init_main_from_path", None)
    return data


multiprocessing.spawn.get_preparation_data = _preparation_data  # read at each start


class _Process(multiprocessing.context.SpawnProcess):
    """A spawned process whose child does not import the parent's main module."""

    def start(self) -> None:
        _starting.no_main = True
        try:
            super().start()
        finally:
            _starting.no_main = False


class _Context(multiprocessing.context.SpawnContext):
    Process = _Process


_CONTEXT = _Context()


def context() -> multiprocessing.context.SpawnContext:
    """A ``spawn`` context whose processes (pools' workers, managers) never import the
    caller's ``__main__``."""
    return _CONTEXT
