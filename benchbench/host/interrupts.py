"""Ctrl-C and SIGTERM while runs are under way: the first asks to stop, the second quits.

Inside :class:`StopSignals`, the first SIGINT or SIGTERM does not raise: it sets
:attr:`StopSignals.requested <benchbench.host.interrupts.StopSignals.requested>`, which the loops
that hand out runs check, so they end their workers, store every finished result and say what is
left. A second signal exits at once (status 128 + the signal), since what was stored is already
committed and the workers end themselves when their parent is gone (:func:`die_with_parent`).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopSignals:
    """A context in which the first SIGINT/SIGTERM requests a stop and the second exits."""

    def __init__(
        self, message: str = "stopping: ending the workers, storing what finished"
    ) -> None:
        self.message = message
        self.signum: int | None = None
        self._event = threading.Event()
        self._previous: dict[int, Any] = {}

    @property
    def requested(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    @property
    def exit_code(self) -> int:
        """128 + the signal, as shells report a process ended by it (130 for Ctrl-C)."""
        return 128 + (self.signum or signal.SIGINT)

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking at once when a stop is requested."""
        return self._event.wait(seconds)

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask for a stop, as the first signal does."""
        self.signum = signum
        self._event.set()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            sys.stderr.write("\nbenchbench: stopped at once\n")
            sys.stderr.flush()
            os._exit(128 + signum)
        self.request(signum)
        sys.stderr.write(f"\nbenchbench: {self.message} (Ctrl-C again to quit at once)\n")
        sys.stderr.flush()

    def __enter__(self) -> StopSignals:
        if threading.current_thread() is threading.main_thread():
            for signum in _SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()


def die_with_parent(poll_seconds: float = 1.0) -> None:
    """Make this (worker) process end when its parent does, even when the parent was
    killed with SIGKILL and could not end it: on Linux the kernel sends SIGKILL at once
    (``PR_SET_PDEATHSIG``); everywhere, a daemon thread notices the new parent within
    ``poll_seconds`` and exits."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:  # the parent died before the line above
        os._exit(1)

    def watch() -> None:
        while True:
            threading.Event().wait(poll_seconds)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()
