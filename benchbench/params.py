"""Declared types and ranges of hyperparameters, checked before anything trains.

A component declares, next to its ``defaults``, what each hyperparameter may be::

    defaults = {"alpha": 0.1}
    params = {"alpha": Float(0, 1, help="weight of the uniform distribution")}

A hyperparameter without a declaration is typed by its default (an int default takes
integers, a float one numbers, a bool one true/false, a string any string). The loop's own
settings are declared the same way (:data:`benchbench.training.settings.LOOP_PARAMS`). A value
outside its declaration is refused when a run, a suite or a tuning is planned, in one line
naming the key, the value and what is allowed: a typo must not cost a training run.
"""

from __future__ import annotations

import math
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_TYPES = ("int", "float", "bool", "str", "any")


@dataclass(frozen=True)
class Param:
    """What one hyperparameter may be: a type, and a range or a set of choices."""

    type: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple[Any, ...] | None = None
    optional: bool = False
    """None is allowed too (it means 'decide for me')."""
    help: str = ""

    def __post_init__(self) -> None:
        if self.type not in _TYPES:
            raise ValueError(f"Param type must be one of {_TYPES}, got {self.type!r}")

    def describe(self) -> str:
        """What is allowed, in words: ``a number in (0, 1]``, ``one of 'adamw', 'sgd'``."""
        if self.choices is not None:
            text = "one of " + ", ".join(show_value(c) for c in self.choices)
        elif self.type == "bool":
            text = "true or false"
        elif self.type == "str":
            text = "a string"
        elif self.type == "any":
            text = "any value"
        else:
            text = "an integer" if self.type == "int" else "a number"
            text += _interval(self)
        return text + (" or null" if self.optional else "")

    def check(self, value: Any) -> bool:
        """True when ``value`` is allowed."""
        if value is None:
            return self.optional or self.type == "any"
        if self.choices is not None:
            return any(value == c and type(value) is type(c) for c in self.choices)
        if self.type == "any":
            return True
        if self.type == "bool":
            return isinstance(value, bool)
        if self.type == "str":
            return isinstance(value, str)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        if self.type == "int" and not isinstance(value, int):
            return False
        if not math.isfinite(value):
            return False
        if self.low is not None and (value < self.low or (self.low_open and value == self.low)):
            return False
        return not (
            self.high is not None and (value > self.high or (self.high_open and value == self.high))
        )


def Float(  # noqa: N802 (reads as a type in a declaration)
    low: float | None = None,
    high: float | None = None,
    *,
    low_open: bool = False,
    high_open: bool = False,
    optional: bool = False,
    help: str = "",
) -> Param:
    """A real number in [low, high] (either end may be open or absent); ints are accepted,
    ``optional`` admits None, and ``help`` is what ``benchbench show`` says it means."""
    return Param("float", low, high, low_open, high_open, None, optional, help)


def Int(  # noqa: N802
    low: int | None = None, high: int | None = None, *, optional: bool = False, help: str = ""
) -> Param:
    """An integer in [low, high] (either end may be absent); ``optional`` admits None."""
    return Param("int", low, high, optional=optional, help=help)


def Choice(*choices: Any, optional: bool = False, help: str = "") -> Param:  # noqa: N802
    """One of the given values (compared with their types: 1 is not '1')."""
    kind = {type(c) for c in choices}
    name = kind.pop().__name__ if len(kind) == 1 else "any"
    return Param(
        name if name in _TYPES else "any", choices=tuple(choices), optional=optional, help=help
    )


def Bool(*, optional: bool = False, help: str = "") -> Param:  # noqa: N802
    """True or false (not 0 or 1); ``optional`` admits None."""
    return Param("bool", optional=optional, help=help)


def inferred(default: Any) -> Param:
    """The declaration a hyperparameter gets from its default when it has none."""
    if isinstance(default, bool):
        return Bool()
    if isinstance(default, int):
        return Int()
    if isinstance(default, float):
        return Float()
    if isinstance(default, str):
        return Param("str")
    return Param("any")


def schema(defaults: Mapping[str, Any], declared: Mapping[str, Param]) -> dict[str, Param]:
    """Every hyperparameter of ``defaults`` with its declaration (declared, else inferred)."""
    return {k: declared.get(k) or inferred(v) for k, v in defaults.items()}


def check_declarations(
    owner: str, defaults: Mapping[str, Any], declared: Mapping[str, Param]
) -> None:
    """Raise ``ValueError`` when a declaration names no hyperparameter or refuses its own
    default: the component's author made a mistake, caught when it registers."""
    stray = sorted(set(declared) - set(defaults))
    if stray:
        raise ValueError(f"{owner} declares params {stray} that are not in its defaults")
    for key, param in declared.items():
        if not isinstance(param, Param):
            raise ValueError(f"{owner}.params[{key!r}] must be a benchbench.Param")
        if not param.check(defaults[key]):
            raise ValueError(
                f"{owner}'s default {key}={show_value(defaults[key])} is not {param.describe()}"
            )


def refusal(key: str, value: Any, param: Param) -> str | None:
    """One line refusing ``key=value``, or None when the value is allowed."""
    if param.check(value):
        return None
    return (
        f"hyperparameter {key}={show_value(value)} is not allowed: {key} must be {param.describe()}"
    )


def _interval(param: Param) -> str:
    low, high = param.low, param.high
    if low is None and high is None:
        return ""
    if high is None:
        return f" {'>' if param.low_open else '>='} {show_value(low)}"
    if low is None:
        return f" {'<' if param.high_open else '<='} {show_value(high)}"
    left = "(" if param.low_open else "["
    right = ")" if param.high_open else "]"
    return f" in {left}{show_value(low)}, {show_value(high)}{right}"


_BOUNDED = reprlib.Repr()
_BOUNDED.maxstring = _BOUNDED.maxother = 80
_BOUNDED.maxlevel = 3


def show_value(value: Any) -> str:
    """A value as a message shows it, bounded: a huge or deeply nested value (from a
    suite file) is abbreviated, never expanded in full."""
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**30 else f"{value:.3g}"
    return _BOUNDED.repr(value)
