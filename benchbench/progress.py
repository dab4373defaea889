"""What a long call shows while it works: a progress bar and note lines on stderr, both
silenced with ``progress=False``. The command line and the Python API show the same."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class Console:
    """Notes (one line each) and at most one progress bar at a time, on stderr; a note
    written while a bar is shown goes above it."""

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self._bar: Any = None

    def note(self, line: str) -> None:
        """Show one line as it is (the caller adds the ``benchbench:`` prefix where it belongs)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(line, file=sys.stderr)
        else:
            print(line, file=sys.stderr, flush=True)

    @contextmanager
    def bar(self, total: int | None, unit: str, leave: bool = True) -> Iterator[Any]:
        """A tqdm bar of ``total`` steps (None: a count without an end) named ``unit``
        (disabled, but still counting, when silenced)."""
        from tqdm import tqdm

        with tqdm(
            total=total,
            unit=unit,
            file=sys.stderr,
            dynamic_ncols=True,
            leave=leave,
            disable=not self.enabled,
        ) as bar:
            self._bar = bar
            try:
                yield bar
            finally:
                self._bar = None
