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

import contextlib
import gzip
import json
import tempfile
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ..errors import BenchbenchError
from ..paths import DEFAULT_OUT, PathLike
from ..spec import RunResult, json_safe

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
    """The rows of an exported file, checked line by line: a file that is not one, or is
    damaged, or comes from a newer format, is one clear error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise BenchbenchError(f"no result file {path}")
    if not is_result_file(path):
        raise BenchbenchError(
            f"{path} is not a benchbench result set (write one with 'benchbench export'; "
            "a results database is read with 'benchbench leaderboard --source')"
        )
    try:
        with _open(path, "rt") as lines:
            header = json.loads(next(lines))
            if header.get("format_version", 0) > FORMAT_VERSION:
                raise BenchbenchError(
                    f"{path} has result format {header['format_version']}; this benchbench "
                    f"reads up to {FORMAT_VERSION}: upgrade benchbench to import it"
                )
            for number, line in enumerate(lines, start=2):
                if line.strip():
                    yield _row(_json(line, path, number), path, number)
    except (OSError, EOFError, UnicodeDecodeError) as exc:  # gzip.BadGzipFile is an OSError
        raise BenchbenchError(f"cannot read {path}: {exc}") from exc


def import_file(store: Any, path: Path) -> dict[str, int]:
    """Merge an exported file into ``store`` (see :meth:`Store.merge
    <benchbench.storage.merge.Merge.merge>`); the counts."""
    return store.merge(read(path))


def is_result_file(path: Path) -> bool:
    """Whether ``path`` is an exported result set (rather than, say, an SQLite file)."""
    try:
        with _open(Path(path), "rt") as lines:
            return json.loads(lines.readline()).get("format") == FORMAT
    except (OSError, EOFError, UnicodeDecodeError, ValueError, AttributeError):
        return False


@contextlib.contextmanager
def merged(sources: Sequence[str]) -> Iterator[Any]:
    """A read-only view of several sources at once: result files and database URLs (or
    SQLite files), merged into a temporary database as :func:`import_file` would."""
    from .store import Store, default_url

    with tempfile.TemporaryDirectory(prefix="benchbench-sources-") as folder:
        store = Store(default_url(Path(folder)))
        for source in sources:
            if is_result_file(Path(source)):
                store.merge(read(Path(source)))
                continue
            url = source if "://" in source else f"sqlite:///{Path(source).resolve()}"
            if "://" not in source and not Path(source).is_file():
                raise BenchbenchError(f"no result file or database {source}")
            store.merge(Store(url, writable=False).rows())
        try:
            yield store
        finally:
            store.engine.dispose()


def _open(path: Path, mode: str) -> IO[str]:
    if path.name.endswith(".gz") or path.name.endswith(".gz.partial"):
        return gzip.open(path, mode, encoding="utf-8")
    return path.open(mode.replace("t", ""), encoding="utf-8")


def _json(line: str, path: Path, number: int) -> Any:
    try:
        return json.loads(line)
    except ValueError as exc:
        raise BenchbenchError(f"{path}, line {number}: not JSON ({exc})") from exc


def _row(record: Any, path: Path, number: int) -> tuple[str, dict[str, Any]]:
    """One checked ``(table, row)``; a run's id must be the hash of its own spec, so a
    damaged or edited run can never pass for another."""
    where = f"{path}, line {number}"
    if not isinstance(record, dict) or record.get("table") not in TABLES:
        raise BenchbenchError(f"{where}: not a row of {', '.join(TABLES)}")
    table, row = record["table"], record.get("row")
    if not isinstance(row, dict):
        raise BenchbenchError(f"{where}: the {table} row is missing")
    if table in _DATES and row.get(_DATES[table]) is not None:
        row[_DATES[table]] = _utc(datetime.fromisoformat(row[_DATES[table]]))
    if table == "runs":
        try:
            result = RunResult.from_dict(row["result"])
            spec_id = result.spec().run_id
        except (KeyError, TypeError, ValueError) as exc:
            raise BenchbenchError(f"{where}: not a run result ({exc})") from exc
        if spec_id != result.run_id:
            raise BenchbenchError(
                f"{where}: run {result.run_id} does not match its own spec (it hashes to "
                f"{spec_id}): the file was edited or damaged"
            )
    return table, row


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
) -> list[dict[str, int]]:
    """Merge exported result ``files`` into the results database of ``out`` (or
    ``storage``), each file checked whole first: a run already stored (same run id: same
    spec, same code) is skipped, so importing twice adds nothing. Per file, the number of
    runs and places added and kept."""
    from .store import Store, prepare_out, storage_url

    for path in files:
        for _ in read(Path(path)):  # the whole file checked before the database changes
            pass
    where = prepare_out(Path(out)) if storage is None else Path(out)
    store = Store(storage_url(where, storage))
    return [import_file(store, Path(path)) for path in files]


def reading(
    out: PathLike, storage: str | None, sources: Sequence[str] = ()
) -> contextlib.AbstractContextManager[Any]:
    """The results to read: ``sources`` merged (exported files, databases), else the
    database of ``out`` or ``storage``."""
    from .store import open_results

    if sources:
        return merged(list(sources))
    return contextlib.nullcontext(open_results(Path(out), storage))
