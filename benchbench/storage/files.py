"""Result sets as files: export a results database (or one suite of it) with every run's
spec, curve, code identity and provenance, and import such files into another database.

The file is JSON Lines (gzip-compressed when its name ends in ``.gz``): a header line
``{"format": "benchbench-results", "format_version": 1, ...}``, then one line per row:
``{"table": "runs", "row": {"created_at": ..., "result": {...}}}``, then the suites, their
places and their tunings. Import merges without duplicates, because a run id is the hash of
everything that made the run (:mod:`benchbench.identity`): the same id is the same run, so
importing a file twice adds nothing, and several machines' files merge into one leaderboard.
This is how a plugin author publishes numbers beside the published leaderboard.
"""

from __future__ import annotations

import collections
import contextlib
import gzip
import itertools
import json
import os
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from ..arguments import checked, choice
from ..errors import BenchbenchError, one_line
from ..paths import DEFAULT_OUT, PathLike
from ..phrasing import again, either, option
from ..spec import json_safe
from .lines import DATES, FORMAT, FORMAT_VERSION, TABLES, checked_row, line_json, utc
from .merge import ON_CONFLICT
from .schema import prepare_run


def write(store: Any, path: Path, suite: str | None = None) -> dict[str, int]:
    """Write ``store``'s result set (one suite's, or all) to ``path``; the row counts."""
    from ..identity import core_identity

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
            if table in DATES and row[DATES[table]] is not None:
                row = {**row, DATES[table]: utc(row[DATES[table]]).isoformat()}
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
        yield checked_row(line, path, number)


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
        yield _prepared(*checked_row(line, path, number))
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


def _numbered(path: Path) -> Iterator[tuple[int, str]]:
    """The lines after an exported file's header, with their line numbers; one clear error
    for a file that is not one, is damaged, or comes from a newer format."""
    if not path.is_file():
        raise BenchbenchError(f"no result file {path}")
    if not is_result_file(path):
        raise BenchbenchError(
            f"{path} is not a benchbench result set (write one with "
            f"{either('benchbench export', 'bb.export')}; a results database is read with "
            f"{either('benchbench leaderboard --source', 'bb.leaderboard(sources=...)')})"
        )
    try:
        with _open(path, "rt") as lines:
            header = line_json(next(lines), path, 1)
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
                        "nothing was imported",
                        f"import the sources with {option('on_conflict')} to choose",
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


@checked()
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


@checked(on_conflict=choice(ON_CONFLICT))
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
    from .store import Store, prepare_out, storage_url

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
            f"left out (nothing of it was kept); {again('import_results')}",
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
