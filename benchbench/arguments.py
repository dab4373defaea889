"""One checker for the arguments of every entry point: the Python API's functions check their
keyword arguments here before doing anything, and the command passes its flags' values
through them unchecked, so a bad value gets the same :class:`~benchbench.BenchbenchError`
sentence from both, each phrased for its caller (``--seeds 0`` or ``seeds=0``, see
:mod:`benchbench.phrasing`).

:data:`RULES` holds what an argument of a given name may be wherever it appears (``seeds``,
``steps``, ``eval_every``...); a function adds its own (the choices it knows) with
:func:`checked`."""

from __future__ import annotations

import inspect
import numbers
import os
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from .errors import BenchbenchError
from .phrasing import option

_T = TypeVar("_T", bound=Callable[..., Any])


@dataclass(frozen=True)
class Rule:
    """What one argument may be: a whole number or a number within bounds, or one of
    ``choices``, or of a ``kind`` (:data:`KINDS`: text, a flag, a path, a list of names, a
    mapping). ``None`` passes when ``optional`` (it means the default)."""

    whole: bool = False
    least: float | None = None
    above: float | None = None
    most: float | None = None
    choices: tuple[str, ...] = ()
    kind: str = ""
    optional: bool = True

    def refusal(self, name: str, value: Any) -> str | None:
        """The sentence refusing ``value`` for ``name``, or None when it is allowed."""
        if value is None:
            return None if self.optional else f"{option(name)} must be given, got None"
        if self.kind:
            fits, what = KINDS[self.kind]
            if not fits(value):
                return f"{option(name)} must be {what}, got {_shown(value)}"
            return None
        if self.choices:
            if value in self.choices:
                return None
            return f"{option(name)} must be one of {', '.join(self.choices)}, got {value!r}"
        number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        fits = number and (not self.whole or float(value).is_integer())
        if fits:
            fits = (
                (self.least is None or value >= self.least)
                and (self.above is None or value > self.above)
                and (self.most is None or value <= self.most)
            )
        if fits:
            return None
        shown = f"{value:g}" if number else repr(value)
        return f"{option(name)} must be {self.describe()}, got {shown}"

    def describe(self) -> str:
        """``a whole number of at least 1``, ``a number above 0 and at most 1``..."""
        bounds = [
            f"at least {self.least:g}" if self.least is not None else "",
            f"above {self.above:g}" if self.above is not None else "",
            f"at most {self.most:g}" if self.most is not None else "",
        ]
        said = " and ".join(b for b in bounds if b)
        if self.whole:
            return "a whole number" + (f" of {said}" if said else "")
        return "a number" + (f" {said}" if said else "")


def _shown(value: Any) -> str:
    """A wrong value as the refusal shows it: its repr, shortened, and its type when the
    repr alone would not say (a string given for a list)."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _names(value: Any) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(v, str) for v in value)


def _plugins(value: Any) -> bool:
    """Module names, modules or classes (:func:`benchbench.plugins.config.plugin_names`)."""
    return isinstance(value, list | tuple) and all(
        isinstance(v, str | type) or (hasattr(v, "__name__") and hasattr(v, "__spec__"))
        for v in value
    )


def _path(value: Any) -> bool:
    return isinstance(value, str | os.PathLike)


KINDS: Mapping[str, tuple[Callable[[Any], bool], str]] = {
    "text": (lambda v: isinstance(v, str), "text (a name)"),
    "name_or_file": (_path, "a name, or a file's path (text or a pathlib.Path)"),
    "flag": (lambda v: isinstance(v, bool), "True or False"),
    "path": (_path, "a path (text or a pathlib.Path)"),
    "names": (_names, "a list of names, e.g. ['a', 'b']"),
    "plugins": (_plugins, "a list of plugin modules' names, modules or classes"),
    "mapping": (lambda v: isinstance(v, Mapping), "a dict of name -> value"),
}
"""What an argument of each kind may be, and how its refusal says it."""

ANNOTATED: Mapping[str, Rule] = {
    "str": Rule(kind="text", optional=False),
    "str | None": Rule(kind="text"),
    "bool": Rule(kind="flag", optional=False),
    "PathLike": Rule(kind="path", optional=False),
    "PathLike | None": Rule(kind="path"),
    "Sequence[str]": Rule(kind="names", optional=False),
    "Mapping[str, Any]": Rule(kind="mapping", optional=False),
    "Mapping[str, Any] | None": Rule(kind="mapping"),
}
"""The rule of an argument without one of its own, by its annotation: every API function
checks the types it declares, so a wrong one is a sentence, not a TypeError from inside."""


NAME_OR_FILE = ("suite", "task", "name")
"""Arguments that name a suite, task or component, or a suite file declaring one: a
``pathlib.Path`` is taken for them too, and passed on as text."""


def annotated(parameter: inspect.Parameter) -> Rule | None:
    """The rule :data:`ANNOTATED` gives ``parameter`` (each value of ``*args``), if any."""
    rule = ANNOTATED.get(str(parameter.annotation).replace("'", ""))
    if rule is not None and rule.kind == "text" and parameter.name in NAME_OR_FILE:
        return Rule(kind="name_or_file", optional=rule.optional)
    return rule


def whole(least: int | None = None) -> Rule:
    """A whole number, at least ``least``."""
    return Rule(whole=True, least=least)


def above(bound: float, most: float | None = None) -> Rule:
    """A number above ``bound`` (and at most ``most``)."""
    return Rule(above=bound, most=most)


def choice(values: Iterable[str]) -> Rule:
    """One of ``values``."""
    return Rule(choices=tuple(values))


RULES: Mapping[str, Rule] = {
    "seeds": whole(1),
    "seed": whole(0),
    "workers": whole(1),
    "threads": whole(1),
    "steps": whole(1),
    "trials": whole(1),
    "repeats": whole(1),
    "sample": whole(1),
    "worker": whole(0),
    "loader_workers": whole(0),
    "epochs": above(0),
    "seconds": above(0),
    "eval_every": above(0),
    "timeout": Rule(least=1),
    "gpus_per_run": above(0, most=1),
    "numerics": choice(("portable", "native")),
    "plugins": Rule(kind="plugins", optional=False),
}
"""What an argument of each name may be, in every function that takes it."""


def check(name: str, value: Any, rule: Rule | None = None) -> None:
    """Refuse ``value`` for ``name`` (by ``rule``, default its rule in :data:`RULES`) with a
    :class:`~benchbench.BenchbenchError`."""
    rule = rule or RULES.get(name)
    refusal = None if rule is None else rule.refusal(name, value)
    if refusal is not None:
        raise BenchbenchError(refusal)


def checked(renamed: Mapping[str, str] | None = None, **rules: Rule) -> Callable[[_T], _T]:
    """Check a function's arguments before its body runs: those named in :data:`RULES` and
    those given as ``rules`` here (a function's choices). ``renamed`` maps an old keyword to
    its new name: still taken, with a :class:`FutureWarning`, for one release."""

    def wrap(function: _T) -> _T:
        signature = inspect.signature(function)
        own = {
            name: rule
            for name, parameter in signature.parameters.items()
            if (rule := rules.get(name) or RULES.get(name) or annotated(parameter))
        }
        spread = {
            name
            for name, parameter in signature.parameters.items()
            if parameter.kind is inspect.Parameter.VAR_POSITIONAL
        }

        @wraps(function)
        def call(*args: Any, **kwargs: Any) -> Any:
            for old, new in (renamed or {}).items():
                if old in kwargs:
                    warnings.warn(
                        f"{function.__name__}({old}=...) is now {function.__name__}({new}=...); "
                        f"{old} will be removed in the next release",
                        FutureWarning,
                        stacklevel=2,
                    )
                    kwargs.setdefault(new, kwargs.pop(old))
            bound = signature.bind(*args, **kwargs)  # a missing argument: Python's TypeError
            for name, value in bound.arguments.items():
                if name in own:
                    for each in value if name in spread else (value,):
                        check(name, each, own[name])
                    if own[name].kind == "name_or_file" and isinstance(value, os.PathLike):
                        bound.arguments[name] = os.fspath(value)
            return function(*bound.args, **bound.kwargs)

        call.rules = own  # type: ignore[attr-defined]  # what the tests walk
        return call  # type: ignore[return-value]

    return wrap
