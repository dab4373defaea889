"""The median as an SQL aggregate, so that a leaderboard's medians come from the same one
pass over a suite's places as its sums: PostgreSQL's own ``percentile_cont(0.5)``, and on
SQLite (which has none) :class:`Median`, registered on every connection by
:func:`register`. Both ignore NULLs, take infinity as a value (the time of a seed that never
reached the target) and give a non-finite median where the middle touches it."""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

SQLITE_NAME = "benchbench_median"


class median(FunctionElement):  # noqa: N801 (an SQL function, named as SQL names them)
    """``median(x)``: the median of the non-NULL values of ``x`` in a group (the mean of the
    middle two for an even count)."""

    type = Float()
    inherit_cache = True
    name = "median"


@compiles(median, "postgresql")
def _percentile(element: median, compiler: Any, **kw: Any) -> str:
    value = compiler.process(element.clauses, **kw)
    return f"percentile_cont(0.5) WITHIN GROUP (ORDER BY CAST({value} AS DOUBLE PRECISION))"


@compiles(median)
def _registered(element: median, compiler: Any, **kw: Any) -> str:
    return f"{SQLITE_NAME}({compiler.process(element.clauses, **kw)})"


class Median:
    """SQLite's aggregate: collects a group's values, sorts them once at the end."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def step(self, value: float | None) -> None:
        if value is not None:
            self.values.append(value)

    def finalize(self) -> float | None:
        values = sorted(self.values)
        if not values:
            return None
        middle = values[(len(values) - 1) // 2 : len(values) // 2 + 1]
        if math.inf in middle:
            return math.inf
        return float(sum(middle) / len(middle))


def register(dbapi_connection: Any, _record: Any = None) -> None:
    """Give an SQLite connection :class:`Median` (an engine's ``connect`` event)."""
    dbapi_connection.create_aggregate(SQLITE_NAME, 1, Median)


def finite(value: Any) -> float | None:
    """A median as the leaderboard shows it: None where it is missing or not finite."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None
