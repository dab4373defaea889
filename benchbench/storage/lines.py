"""One line of an exported result set, checked: its JSON, its table's fields, and for a run
that its id is the hash of its own spec and that its numbers agree with each other
(:func:`contradiction`). The importing process (:mod:`.files`) and its worker processes
(:mod:`.checkers`) check lines with the same code."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson

from ..budget import Budget
from ..errors import BenchbenchError, one_line
from ..kinds import LATER_KINDS
from ..spec import LEGACY_OPTIMIZER, STATUSES, RunResult, RunSpec
from .schema import prepare_run

FORMAT = "benchbench-results"
FORMAT_VERSION = 1
TABLES = ("runs", "suites", "places", "tunings")
DATES = {"runs": "created_at", "suites": "planned_at"}


def prepare_chunk(
    path: Path, chunk: list[tuple[int, str]], sent: set[str]
) -> list[tuple[str, Any]]:
    """A worker's share of :func:`~benchbench.storage.files.prepared`
    (:mod:`~benchbench.storage.checkers`): each run's result JSON, when it is the line's own, is
    handed back as where it lies in the line (the caller holds the line), and each blob once
    (``sent``: the digests handed back before; the caller stores a blob with the first run that
    names it, in order)."""
    done: list[tuple[str, Any]] = []
    for number, line in chunk:
        table, row, held = _checked(line, path, number)
        if table != "runs":
            done.append((table, row))
            continue
        values, text, blobs = prepare_run(row["result"], row["created_at"], "" if held else None)
        blobs = {d: b for d, b in blobs.items() if d not in sent}
        sent.update(blobs)
        done.append((table, (values, held or text, blobs)))
    return done


def line_json(line: str, path: Path, number: int) -> Any:
    """One line's JSON (orjson: several times faster than the standard library on result
    lines, and strict: no NaN or Infinity, no nesting beyond 1,024 levels)."""
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BenchbenchError(f"{path}, line {number}: not JSON ({one_line(exc, 120)})") from exc


_FIELDS = {
    "runs": {"created_at": str, "result": dict},
    "suites": {"suite": str, "name": str, "source": str, "planned_at": str},
    "places": {
        "suite": str,
        "track": str,
        "task": str,
        "candidate": str,
        "seed": int,
        "baseline": bool,
        "run_id": str,
    },
    "tunings": {"suite": str, "track": str, "task": str, "candidate": str, "summary": str},
}
"""What each row must hold, with the type of each value."""
_SUFFIX = '}, "table": "runs"}'


def _default(field: Any) -> Any:
    """A dataclass field's default; None for a required one (every result holds those)."""
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


_SPEC_DEFAULTS = {f.name: _default(f) for f in dataclasses.fields(RunSpec)}
_RESULT_REQUIRED = [
    f.name
    for f in dataclasses.fields(RunResult)
    if f.default is dataclasses.MISSING
    and f.default_factory is dataclasses.MISSING
    and f.name not in LATER_KINDS  # a result stored before them lacks them
]
_LIMITS = ("epochs", "steps", "seconds", "eval_every")


def spec_identity(result: dict[str, Any]) -> str:
    """The run id a stored result's own spec hashes to: what ``RunResult.from_dict(result)
    .spec().run_id`` gives, several times faster (no copy of the result, no dataclasses on
    the way, the JSON by orjson where it is the standard library's to the byte), which an
    import of a million runs notices. A result missing a field a
    :class:`~benchbench.RunResult` needs, or with a budget a :class:`~benchbench.Budget`
    refuses, raises."""
    missing = [name for name in _RESULT_REQUIRED if name not in result]
    if missing:
        raise KeyError(f"missing {', '.join(missing)}")
    if result["status"] not in STATUSES:
        raise ValueError(f"status {result['status']!r} is not one of {', '.join(STATUSES)}")
    data = {name: result.get(name, default) for name, default in _SPEC_DEFAULTS.items()}
    data["budget"] = _budget(data["budget"])
    data["hparams"], data["code"] = dict(data["hparams"]), dict(data["code"])
    for key in ("data", "numerics", "code"):
        if not data[key]:
            del data[key]
    retired = data["hparams"].get(LEGACY_OPTIMIZER)  # as RunSpec.to_dict and from_dict do
    if "optimizer" not in result and retired is not None:
        data["optimizer"] = retired
    if retired == data["optimizer"]:
        del data["optimizer"]
    return hashlib.sha256(_canonical(data).encode()).hexdigest()[:16]


_NOT_AS_PYTHON = re.compile(r"[0-9][eE]|0\.0000|\x7f")
"""What orjson may write otherwise than ``json.dumps``: floats below 1e-4 or in exponent
form (``1e-05`` against ``0.00001``, ``2.5e-07`` against ``2.5e-7``), and DEL, which the
standard library escapes. (Control characters both escape alike; NaN and infinities cannot
come from a parsed file; text outside ASCII is checked apart.)"""


def _canonical(data: dict[str, Any]) -> str:
    """``json.dumps(data, sort_keys=True, separators=(",", ":"))``, the text a run id hashes
    (:mod:`benchbench.spec`): orjson's compact sorted JSON where it is the same text, the
    standard library where it might not be (such text costs only time, never another id)."""
    text = orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode()
    if text.isascii() and not _NOT_AS_PYTHON.search(text):
        return text
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=1024)
def _budget_of(items: tuple[tuple[str, Any], ...]) -> tuple[tuple[str, Any], ...]:
    budget = Budget.from_dict(dict(items))  # refuses what a spec could not hold
    return tuple((k, getattr(budget, k)) for k in _LIMITS if getattr(budget, k) is not None)


def _budget(data: Any) -> dict[str, Any]:
    """A stored budget as its spec holds it (a few budgets serve a whole result set)."""
    try:
        key = tuple(sorted(data.items()))
        hash(key)
    except (AttributeError, TypeError):
        return dict(_budget_of.__wrapped__(tuple(dict(data).items())))
    return dict(_budget_of(key))


def checked_row(line: str, path: Path, number: int) -> tuple[str, dict[str, Any]]:
    """One checked ``(table, row)``; a run's id must be the hash of its own spec, so a
    damaged or edited run can never pass for another, and its numbers must agree with each
    other (:func:`contradiction`)."""
    table, row, held = _checked(line, path, number)
    if table == "runs":
        row["text"] = line[held] if held else None
    return table, row


def _checked(line: str, path: Path, number: int) -> tuple[str, dict[str, Any], slice | None]:
    """:func:`checked_row`'s checks; for a run, where in ``line`` its result's JSON lies (or None:
    not in the exporter's form)."""
    where = f"{path}, line {number}"
    record = line_json(line, path, number)
    if not isinstance(record, dict) or record.get("table") not in TABLES:
        raise BenchbenchError(f"{where}: not a row of {', '.join(TABLES)}")
    table, row = record["table"], record.get("row")
    if not isinstance(row, dict):
        raise BenchbenchError(f"{where}: the {table} row is missing")
    for key, kind in _FIELDS[table].items():
        value = row.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise BenchbenchError(
                f"{where}: the {table} row's {key!r} must be {kind.__name__}, got "
                f"{type(value).__name__}"
            )
    if table in DATES:
        try:
            row[DATES[table]] = utc(datetime.fromisoformat(row[DATES[table]]))
        except ValueError as exc:
            raise BenchbenchError(f"{where}: {DATES[table]} is not a date ({exc})") from exc
    if table == "tunings":
        line_json(row["summary"], path, number)
    if table == "runs":
        result = row["result"]
        try:
            spec_id = spec_identity(result)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BenchbenchError(f"{where}: not a run result ({one_line(exc, 120)})") from exc
        if spec_id != result["run_id"]:
            raise BenchbenchError(
                f"{where}: run {result['run_id']} does not match its own spec (it hashes to "
                f"{spec_id}): the file was edited or damaged"
            )
        problem = contradiction(result)
        if problem:
            raise BenchbenchError(f"{where}: run {result['run_id']} contradicts itself: {problem}")
        return table, row, _result_text(line, record)
    return table, row, None


def _result_text(line: str, record: dict[str, Any]) -> slice | None:
    """Where the line holds the result's JSON exactly, when it is in the exporter's form
    ``{"row": {"created_at": ..., "result": R}, "table": "runs"}``; else None."""
    row = record["row"]
    if set(record) != {"row", "table"} or set(row) != {"created_at", "result"}:
        return None
    created = row["created_at"].isoformat()
    prefix = '{"row": {"created_at": ' + json.dumps(created) + ', "result": '
    end = len(line.rstrip("\n")) - len(_SUFFIX)
    if line.startswith(prefix) and line.startswith(_SUFFIX, end):
        return slice(len(prefix), end)
    return None


IMPLAUSIBLE_GAP = 0.3
"""How far a test accuracy may lie above the best validation accuracy of its own curve
before the two contradict each other. Validation and test are samples of one
distribution: in the published default set the test accuracy lies at most 0.11 above the
best validation point (10 labels per class on a transfer task); 0.3 is far outside chance."""


def contradiction(result: dict[str, Any]) -> str | None:
    """Why a result's numbers cannot all be true, or None: accuracies outside [0, 1]; a best
    or final validation accuracy, or a time-to-target, that is not what its own curve says;
    a test accuracy far above every validation point (:data:`IMPLAUSIBLE_GAP`). A check of
    consistency, not of truth: ``benchbench verify`` reruns the run."""
    accuracies = ("test_accuracy", "best_val_accuracy", "final_val_accuracy", "chance_accuracy")
    for name in accuracies:
        value = result.get(name)
        if value is not None and not (isinstance(value, int | float) and 0 <= value <= 1):
            return f"{name} {value!r} is not an accuracy"
    curve = result.get("curve") or []
    points = (isinstance(p, dict) and isinstance(p.get("val_accuracy"), int | float) for p in curve)
    if not all(points):
        return "its curve has points without a validation accuracy"
    values = [p["val_accuracy"] for p in curve]
    best = max(values, default=None)
    if result.get("best_val_accuracy") != best:
        return f"best_val_accuracy {result.get('best_val_accuracy')} but its curve's best is {best}"
    final = result.get("final_val_accuracy")
    if final is not None and (not values or final != values[-1]):
        return f"final_val_accuracy {final} but its curve ends at {values[-1] if values else None}"
    steps = result.get("time_to_target_steps")
    if steps is not None:
        hit = next((i for i, p in enumerate(curve) if p.get("step") == steps), None)
        if hit is None:
            return f"time_to_target_steps {steps} is no point of its curve"
        if any(v >= values[hit] for v in values[:hit]):
            return f"an earlier point of its curve already reached the target of step {steps}"
        if result.get("time_to_target_s") != curve[hit].get("train_seconds"):
            return "time_to_target_s is not the training time of its target point"
    elif result.get("time_to_target_s") is not None:
        return "time_to_target_s without time_to_target_steps"
    test = result.get("test_accuracy")
    if test is not None and best is not None and test - best > IMPLAUSIBLE_GAP:
        return (
            f"test accuracy {test:.4g} lies {test - best:.2f} above the best validation "
            f"accuracy of its own curve ({best:.4g})"
        )
    return None


def utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
