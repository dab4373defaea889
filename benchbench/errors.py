"""Errors a user can cause: the command line prints them as one line and exits non-zero."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class BenchbenchError(Exception):
    """A problem the user can fix (bad name, bad file, bad storage); never a bug in benchbench."""


class Stopped(KeyboardInterrupt):
    """A signal (Ctrl-C, SIGTERM) stopped a suite or a tuning after what had finished was
    stored; ``message`` says what was done and how to resume, ``exit_code`` is what a shell
    reports for a process ended by the signal (130 for Ctrl-C)."""

    def __init__(self, signum: int, message: str) -> None:
        super().__init__(message)
        self.signum, self.message = signum, message

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class BenchbenchWarning(UserWarning):
    """Something that runs but probably does not measure what was meant (a linear probe on a
    network nothing pretrained); the command line prints it as one line."""


def show_warnings_as_lines() -> None:
    """Print benchbench's warnings as one ``benchbench: warning: ...`` line each on stderr
    (the command line, pool workers); others as Python does. Installed once per process."""
    import sys
    import warnings

    python_show = warnings.showwarning
    if getattr(python_show, "benchbench", False):
        return

    def show(message, category, *args, **kwargs):  # type: ignore[no-untyped-def]
        if issubclass(category, BenchbenchWarning):
            print(f"benchbench: warning: {message}", file=sys.stderr, flush=True)
        else:
            python_show(message, category, *args, **kwargs)

    show.benchbench = True  # type: ignore[attr-defined]
    warnings.showwarning = show


def unknown_name(what: str, name: str, known: Iterable[str]) -> BenchbenchError:
    """An error for a name that is not registered, suggesting the closest known ones."""
    known = sorted(known)
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    listing = ", ".join(known) if known else "none are registered"
    return BenchbenchError(f"unknown {what} {name!r}{hint} (known: {listing})")


def one_line(exc: BaseException | str, most: int | None = None) -> str:
    """An exception's message (or a text) on one line, at most ``most`` characters."""
    text = " ".join(str(exc).split())
    return text if most is None else text[:most]
