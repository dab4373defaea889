"""Result sets as files: export a results database (or one suite of it) with every run's
spec, curve, code identity and provenance, and import such files into another database.

The file is JSON Lines (gzip-compressed when its name ends in ``.gz``): a header line
``{"format": "benchbench-results", "format_version": 1, ...}``, then one line per row:
``{"table": "runs", "row": {"created_at": ..., "result": {...}}}``, then the suites, their
places and their tunings. Import merges without duplicates, because a run id is the hash of
everything that made the run (:mod:`benchbench.running.identity`): the same id is the same run, so
importing a file twice adds nothing, and several machines' files merge into one leaderboard.
This is how a plugin author publishes numbers beside the published leaderboard.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import functools
import gzip
import hashlib
import itertools
import json
import os
import re
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

import orjson

from ..budget import Budget
from ..errors import BenchbenchError, one_line
from ..paths import DEFAULT_OUT, PathLike
from ..spec import STATUSES, RunResult, RunSpec, json_safe
from .schema import prepare_run

FORMAT = "benchbench-results"
FORMAT_VERSION = 1
TABLES = ("runs", "suites", "places", "tunings")
_DATES = {"runs": "created_at", "suites": "planned_at"}


def write(store: Any, path: Path, suite: str | None = None) -> dict[str, int]:
    """Write ``store``'s result set (one suite's, or all) to ``path``; the row counts."""
    from ..running.identity import core_identity

    counts = dict.fromkeys(TABLES, 0)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with _open(partial, "wt") as out:
        header = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "exported_by": core_identity(),
            "exported_at": datetime.now(timezone.utc).isoformat(),
            "source": store.display_url,
            "suite": suite,
        }
        out.write(json.dumps(header) + "\n")
        for table, row in store.rows(suite):
            if table in _DATES and row[_DATES[table]] is not None:
                row = {**row, _DATES[table]: _utc(row[_DATES[table]]).isoformat()}
            out.write(json.dumps({"table": table, "row": json_safe(row)}, sort_keys=True) + "\n")
            counts[table] += 1
    partial.replace(path)
    return counts


def read(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """The rows of an exported file, checked line by line as they stream: a file that is not
    one, or is damaged, or comes from a newer format, or holds a run that contradicts
    itself, is one clear error naming the line. A run's row keeps its JSON text
    (``text``) when the file holds it in the exporter's canonical form, so an import need
    not write it again."""
    path = Path(path)
    for number, line in _numbered(path):
        yield _row(line, path, number)


PARALLEL_AFTER = 2000
"""Lines an import checks in its own process before it hands the rest of a file to worker
processes (a small file never starts one)."""
_CHUNK = 1000


def prepared(path: Path, workers: int | None = None) -> Iterator[tuple[str, Any]]:
    """:func:`read`'s rows, in order, each run as a :data:`~.schema.PreparedRun` (what the
    database stores of it). Past the first :data:`PARALLEL_AFTER` lines, ``workers``
    processes (None: one per CPU, at most four) check and prepare chunks of lines while
    this one reads the file and the caller writes: checking a run (its JSON, its id's hash,
    its self-consistency) costs more than storing it. A bounded number of chunks is in
    flight, so memory does not grow with the file."""
    path = Path(path)
    numbered = _numbered(path)
    count = min(4, len(os.sched_getaffinity(0))) if workers is None else workers
    for number, line in itertools.islice(numbered, PARALLEL_AFTER if count >= 1 else None):
        yield _prepared(*_row(line, path, number))
    first = list(itertools.islice(numbered, _CHUNK))
    if not first:  # a small file: no worker started
        return
    from .checkers import Checkers

    def chunks() -> Iterator[list[tuple[int, str]]]:
        chunk = first
        while chunk:
            held.append(chunk)
            yield chunk
            chunk = list(itertools.islice(numbered, _CHUNK))

    held: collections.deque[list[tuple[int, str]]] = collections.deque()
    checkers = Checkers(count, path)
    try:
        for rows in checkers.run(chunks()):
            for (_, line), (table, row) in zip(held.popleft(), rows, strict=True):
                if table == "runs" and isinstance(row[1], slice):  # the JSON stayed here
                    row = (row[0], line[row[1]], row[2])
                yield table, row
    finally:
        checkers.close()


def _prepared(table: str, row: dict[str, Any]) -> tuple[str, Any]:
    if table == "runs":
        return table, prepare_run(row["result"], row["created_at"], row.get("text"))
    return table, row


def prepare_chunk(
    path: Path, chunk: list[tuple[int, str]], sent: set[str]
) -> list[tuple[str, Any]]:
    """A worker's share of :func:`prepared` (:mod:`.checkers`): each run's result JSON,
    when it is the line's own, is handed back as where it lies in the line (the caller
    holds the line), and each blob once (``sent``: the digests handed back before; the
    caller stores a blob with the first run that names it, in order)."""
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


def _numbered(path: Path) -> Iterator[tuple[int, str]]:
    """The lines after an exported file's header, with their line numbers; one clear error
    for a file that is not one, is damaged, or comes from a newer format."""
    if not path.is_file():
        raise BenchbenchError(f"no result file {path}")
    if not is_result_file(path):
        raise BenchbenchError(
            f"{path} is not a benchbench result set (write one with 'benchbench export'; "
            "a results database is read with 'benchbench leaderboard --source')"
        )
    try:
        with _open(path, "rt") as lines:
            header = _json(next(lines), path, 1)
            version = header.get("format_version", 0) if isinstance(header, dict) else None
            if not isinstance(version, int) or isinstance(version, bool):
                raise BenchbenchError(f"{path}, line 1: format_version must be a whole number")
            if version > FORMAT_VERSION:
                raise BenchbenchError(
                    f"{path} has result format {version}; this benchbench "
                    f"reads up to {FORMAT_VERSION}: upgrade benchbench to import it"
                )
            for number, line in enumerate(lines, start=2):
                if line.strip():
                    yield number, line
    except (OSError, EOFError, UnicodeDecodeError, zlib.error) as exc:
        # gzip.BadGzipFile is an OSError; garbage inside a gzip stream is a zlib.error
        raise BenchbenchError(f"cannot read {path}: {one_line(exc, 200)}") from exc


def import_file(
    store: Any,
    path: Path,
    on_conflict: str = "keep",
    on_runs: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Merge an exported file into ``store`` in one transaction (see :meth:`Store.merge
    <benchbench.storage.merge.Merge.merge>`), checked and prepared by :func:`prepared`;
    the counts."""
    return store.merge(prepared(path), on_conflict, on_runs)


def is_result_file(path: Path) -> bool:
    """Whether ``path`` is an exported result set (rather than, say, an SQLite file)."""
    try:
        with _open(Path(path), "rt") as lines:
            return json.loads(lines.readline()).get("format") == FORMAT
    except (OSError, EOFError, UnicodeDecodeError, ValueError, AttributeError, zlib.error):
        return False


@contextlib.contextmanager
def merged(sources: Sequence[str]) -> Iterator[Any]:
    """A read-only view of several sources at once: result files and database URLs (or
    SQLite files), merged into a temporary database as :func:`import_file` would. Sources
    that hold one run with different numbers are one clear error naming it: which copy
    is right is for an import's ``on_conflict`` to decide, never for the order of the
    sources."""
    from .store import Store, default_url

    with tempfile.TemporaryDirectory(prefix="benchbench-sources-") as folder:
        store = Store(default_url(Path(folder)))
        for source in sources:
            if is_result_file(Path(source)):
                rows = read(Path(source))
            else:
                url = source if "://" in source else f"sqlite:///{Path(source).resolve()}"
                if "://" not in source and not Path(source).is_file():
                    raise BenchbenchError(f"no result file or database {source}")
                rows = Store(url, writable=False).rows()
            try:
                store.merge(rows, on_conflict="fail")
            except BenchbenchError as exc:
                raise BenchbenchError(
                    f"{source}: {exc}".replace(
                        "nothing was imported", "import the sources with --on-conflict to choose"
                    )
                ) from None
        try:
            yield store
        finally:
            store.engine.dispose()


def _open(path: Path, mode: str) -> IO[str]:
    if path.name.endswith(".gz") or path.name.endswith(".gz.partial"):
        return gzip.open(path, mode, encoding="utf-8")
    return path.open(mode.replace("t", ""), encoding="utf-8")


def _json(line: str, path: Path, number: int) -> Any:
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
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
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


def _row(line: str, path: Path, number: int) -> tuple[str, dict[str, Any]]:
    """One checked ``(table, row)``; a run's id must be the hash of its own spec, so a
    damaged or edited run can never pass for another, and its numbers must agree with each
    other (:func:`contradiction`)."""
    table, row, held = _checked(line, path, number)
    if table == "runs":
        row["text"] = line[held] if held else None
    return table, row


def _checked(line: str, path: Path, number: int) -> tuple[str, dict[str, Any], slice | None]:
    """:func:`_row`'s checks; for a run, where in ``line`` its result's JSON lies (or None:
    not in the exporter's form)."""
    where = f"{path}, line {number}"
    record = _json(line, path, number)
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
    if table in _DATES:
        try:
            row[_DATES[table]] = _utc(datetime.fromisoformat(row[_DATES[table]]))
        except ValueError as exc:
            raise BenchbenchError(f"{where}: {_DATES[table]} is not a date ({exc})") from exc
    if table == "tunings":
        _json(row["summary"], path, number)
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


def _utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; they were written in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def export(
    to: PathLike,
    *,
    suite: str | None = None,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
) -> dict[str, int]:
    """Write the stored results (``suite``'s places, runs and tunings, or everything) with
    their specs, curves, code identity and provenance to one file (``.jsonl``, or ``.jsonl.gz``)
    that :func:`~benchbench.import_results` merges into another database; the number of runs,
    places, suites and tunings written."""
    from .store import open_results

    store = open_results(Path(out), storage)
    return write(store, Path(to), store.find_suite(suite) if suite else None)


def import_results(
    *files: PathLike,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    on_conflict: str = "keep",
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Merge exported result ``files`` into the results database of ``out`` (or
    ``storage``), each file in one transaction, checked as it streams (a damaged line leaves
    the database as it was). A run already stored with the same numbers is skipped, so
    importing twice adds nothing; one stored with other numbers is a conflict, listed, and
    ``on_conflict`` decides: ``keep`` the stored copy, ``replace`` it, or ``fail`` (nothing
    of the file is imported). Per file: runs added, present, in conflict (how many, of
    which kind, the first few described), replaced; places, suites and tunings added."""
    from ..progress import Console
    from .merge import ON_CONFLICT
    from .store import Store, prepare_out, storage_url

    if on_conflict not in ON_CONFLICT:
        raise BenchbenchError(
            f"on_conflict must be one of {', '.join(ON_CONFLICT)}, got {on_conflict!r}"
        )
    for path in files:
        if not is_result_file(Path(path)):
            next(read(Path(path)))  # the one-line reason
    where = prepare_out(Path(out)) if storage is None else Path(out)
    store = Store(storage_url(where, storage))
    console, counts = Console(progress), []
    with _stopped_by_signals(counts):
        for path in files:
            with console.bar(None, "run", leave=False) as bar:
                counts.append(import_file(store, Path(path), on_conflict, bar.update))
    return counts


@contextlib.contextmanager
def _stopped_by_signals(done: list[Any]) -> Iterator[None]:
    """Ctrl-C or SIGTERM during an import: the file being imported is rolled back (its
    transaction never commits) and the import ends with :class:`~benchbench.errors.Stopped`
    saying so."""
    import signal
    import threading

    from ..errors import Stopped

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise Stopped(
            signum,
            f"import stopped: {len(done)} files imported whole, the one being imported "
            "left out (nothing of it was kept); run the same command again",
        )

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def reading(
    out: PathLike, storage: str | None, sources: Sequence[str] = ()
) -> contextlib.AbstractContextManager[Any]:
    """The results to read: ``sources`` merged (exported files, databases), else the
    database of ``out`` or ``storage``."""
    from .store import open_results

    if sources:
        return merged(list(sources))
    return contextlib.nullcontext(open_results(Path(out), storage))
