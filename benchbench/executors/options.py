"""The options an executor declares (``--partition``, ``--address``...): each declared once, as
an :class:`ExecutorOption`, from which the command line's flags, the Python API's
``executor_options`` and the documentation's tables follow, and checked in one place
(:func:`choose_options`), so the command and the API refuse a value with the same sentence."""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .. import phrasing
from ..errors import BenchbenchError
from ..kinds import KIND_NAMES
from ..params import show_value

TYPES = {"str": str, "int": int, "float": float, "bool": bool}
"""The types an option's value may have (a ``bool`` option is a flag)."""

RESERVED = frozenset(
    {
        *KIND_NAMES, "data_dir", "device", "download", "epochs", "eval_every",
        "executor", "executor_options", "gpus_per_run", "help", "hparams",
        "json", "log", "numerics", "out", "parallel", "plugins", "progress", "pruner",
        "retry_failed", "sampler", "seconds", "seed", "seeds", "set",
        "steps", "storage", "threads", "timeout", "trials", "tuned", "worker",
        "workers",
    }
)  # fmt: skip
"""Names an executor's option may not take: the options ``run`` and ``tune`` have already
(every executor gets ``workers``, ``timeout``, ``threads`` and ``gpus_per_run`` through its
:class:`~benchbench.executors.Placement`)."""

_NAME = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")


@dataclass(frozen=True)
class ExecutorOption:
    """One option of an executor: its keyword ``name`` (``cpus_per_run``; the flag is
    ``--cpus-per-run``), the ``type`` of its value (``str``, ``int``, ``float``, or ``bool``
    for a flag), what it means (``help``), its ``default``, whether it may be given several
    times (``multiple``: the value is a tuple), the ``metavar`` the help shows and, for
    numbers, the smallest value allowed (``minimum``)."""

    name: str
    type: type = str
    help: str = ""
    default: Any = None
    multiple: bool = False
    metavar: str | None = None
    minimum: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise ValueError(f"option name {self.name!r} must be a snake_case Python name")
        if self.type not in TYPES.values():
            raise ValueError(f"option {self.name!r}: type must be str, int, float or bool")
        if self.multiple and self.type is bool:
            raise ValueError(f"option {self.name!r}: a flag cannot be given several times")
        if self.multiple:  # given several times: a tuple, empty when not given
            object.__setattr__(self, "default", tuple(self.default or ()))
        if "\n" in self.help:
            raise ValueError(f"option {self.name!r}: keep its help to one line")

    @property
    def flag(self) -> str:
        """The option on the command line: ``--cpus-per-run``."""
        return "--" + self.name.replace("_", "-")

    @property
    def said(self) -> str:
        """The option as the caller writes it: ``--cpus-per-run`` on the command line, the
        key ``cpus_per_run`` of ``executor_options`` in Python."""
        return phrasing.option(self.name)

    def parse(self, value: Any) -> Any:
        """``value`` (given in Python, or the command line's text) as this option holds it;
        one :class:`~benchbench.BenchbenchError` line when it cannot be."""
        if value is None:
            return self.default
        if self.multiple:
            items = (value,) if isinstance(value, str) or not _is_sequence(value) else value
            return tuple(self._one(item) for item in items)
        return self._one(value)

    def _one(self, value: Any) -> Any:
        if self.type is bool:
            if isinstance(value, bool):
                return value
            raise BenchbenchError(f"{self.said} is a flag: true or false, got {show_value(value)}")
        if self.type is str:
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                return str(value)
            raise BenchbenchError(f"{self.said} takes text, got {show_value(value)}")
        number = _number(value, self.type)
        if number is None:
            kind = "a whole number" if self.type is int else "a number"
            raise BenchbenchError(f"{self.said} must be {kind}, got {show_value(value)}")
        if self.minimum is not None and number < self.minimum:
            raise BenchbenchError(
                f"{self.said} must be at least {show_value(self.minimum)}, got {show_value(number)}"
            )
        return number

    def describe(self) -> dict[str, Any]:
        """The declaration as JSON-able values (what ``benchbench list --json`` and the
        command line's flags are made from)."""
        return {
            "name": self.name,
            "flag": self.flag,
            "type": self.type.__name__,
            "help": self.help,
            "default": self.default if not isinstance(self.default, tuple) else list(self.default),
            "multiple": self.multiple,
            "metavar": self.metavar,
            "minimum": self.minimum,
        }


def _is_sequence(value: Any) -> bool:
    return isinstance(value, list | tuple | set | frozenset)


def _number(value: Any, kind: type) -> int | float | None:
    """``value`` as an int or float, from a number or its text; None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = int(value.strip()) if kind is int else float(value.strip())
        except ValueError:
            return None
    if kind is int:
        return value if isinstance(value, int) else None
    return float(value) if isinstance(value, int | float) else None


def check_declarations(name: str, options: Any) -> None:
    """What :meth:`~benchbench.plugins.registry.Registry.add_executor` checks of an
    executor's declared options: :class:`ExecutorOption` each, unique names, none that the
    commands already have."""
    if not isinstance(options, tuple | list):
        raise ValueError(f"executor {name!r}: options must be a tuple of ExecutorOption")
    seen: set[str] = set()
    for option in options:
        if not isinstance(option, ExecutorOption):
            raise ValueError(f"executor {name!r}: {option!r} is not an ExecutorOption")
        if option.name in RESERVED:
            raise ValueError(
                f"executor {name!r}: option {option.flag} is one every run already has; "
                "use the run's own (Placement) or another name"
            )
        if option.name in seen:
            raise ValueError(f"executor {name!r} declares {option.flag} twice")
        seen.add(option.name)


def as_mapping(given: Any) -> dict[str, Any]:
    """``executor_options`` as a dict: a mapping, an executor's own options dataclass
    (every field), or None."""
    if given is None:
        return {}
    if dataclasses.is_dataclass(given) and not isinstance(given, type):
        return {f.name: getattr(given, f.name) for f in dataclasses.fields(given)}
    if isinstance(given, Mapping):
        return dict(given)
    raise BenchbenchError(
        f"executor_options must be a dict of option values, got {type(given).__name__}"
    )


def choose_options(
    executor: str, declared: tuple[ExecutorOption, ...], given: Any, others: Mapping[str, Any]
) -> dict[str, Any]:
    """Every option ``executor`` declares, with its value: the one ``given`` (checked by
    its declaration), else its default. An option of another executor (``others``: every
    executor's class by name) says which one to choose; an unknown one suggests close
    names."""
    values = as_mapping(given)
    known = {option.name: option for option in declared}
    for name, value in values.items():
        if name in known or value is None or value == () or value is False:
            continue  # an option left at nothing belongs to no executor in particular
        flag = phrasing.option(str(name))
        owners = sorted(
            other
            for other, cls in others.items()
            if any(option.name == name for option in cls.options)
        )
        if owners:
            raise BenchbenchError(
                f"{flag} is an option of the {' and '.join(owners)} executor: add "
                f"{phrasing.option('executor', owners[0])}"
            )
        close = difflib.get_close_matches(str(name), list(known), n=1)
        takes = ", ".join(option.said for option in declared) or "none"
        hint = f"did you mean {known[close[0]].said}?" if close else f"its options: {takes}"
        raise BenchbenchError(f"executor {executor} has no option {flag}; {hint}")
    return {name: option.parse(values.get(name)) for name, option in known.items()}
