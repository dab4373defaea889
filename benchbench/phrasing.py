"""Messages phrased for whoever called: one sentence, spelled with the command's flags for a
shell user (``--seeds 0``, "run the same command to resume") and with keyword arguments for a
Python caller (``seeds=0``, "call bb.run(...) again to resume").

The command line marks its calls with :func:`command_line`; everything else is a Python
caller. An error or note that names an option builds it with :func:`option`, so the command
and the API refuse the same value with the same sentence, each in the caller's words."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from .paths import environment

_CALLER: ContextVar[str] = ContextVar("benchbench_caller", default="")
_ENV = "BENCHBENCH_CALLER"
"""Carries the caller to the worker processes started meanwhile (they phrase runs' errors)."""
_UNSET: Any = object()


@contextmanager
def command_line() -> Iterator[None]:
    """Phrase what is raised or noted inside for the ``benchbench`` command (in this
    process, and in the worker processes it starts meanwhile)."""
    token = _CALLER.set("cli")
    try:
        with environment({_ENV: "cli"}):
            yield
    finally:
        _CALLER.reset(token)


def from_command_line() -> bool:
    """Whether the ``benchbench`` command made this call (else a Python caller did)."""
    return (_CALLER.get() or os.environ.get(_ENV, "python")) == "cli"


def option(name: str, value: Any = _UNSET) -> str:
    """An option as the caller writes it: ``--eval-every 0`` on the command line,
    ``eval_every=0`` in Python (without ``value``: ``--eval-every`` and ``eval_every``)."""
    if from_command_line():
        flag = "--" + name.replace("_", "-")
        return flag if value is _UNSET else f"{flag} {value}"
    return name if value is _UNSET else f"{name}={value!r}"


def flag(name: str) -> str:
    """A switch turned on as the caller writes it: ``--retry-failed`` or ``retry_failed=True``."""
    return option(name) if from_command_line() else f"{name}=True"


def again(function: str) -> str:
    """How the caller resumes: run the same command, or call ``bb.FUNCTION(...)`` again."""
    if from_command_line():
        return "run the same command"
    return f"call bb.{function}(...) again"


def either(command: str, python: str) -> str:
    """``command`` for a shell user, ``python`` for a Python caller: a way to do something
    that each spells differently ('benchbench tune quick' against bb.tune('quick'))."""
    return command if from_command_line() else python
