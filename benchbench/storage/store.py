"""The results database: SQLAlchemy Core tables, SQLite by default, any SQLAlchemy URL else.

``runs`` holds one row per run id (the key columns for queries, the whole result as JSON);
``suites`` names each suite that was planned (its key, display name and source);
``memberships`` says which place of which suite a run fills — replaced whole each time the
suite is planned, so a leaderboard shows the suite as it is now — and a run shared by two
tracks is trained once; ``tunings`` which tuned hyperparameters a place used; ``claims``
which process is training which run, with a heartbeat, so that several ``benchbench run``
processes on one database share the work instead of repeating it. Optuna's studies live in
the same database, in Optuna's own tables.

Every result is committed as soon as it arrives: an interrupted suite loses nothing it
finished, and a rerun skips it. Locks held by other processes are waited for and transient
errors retried (:mod:`benchbench.storage.database`); a database that cannot be used is named in one
line.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..errors import BenchbenchError
from ..spec import RunResult, RunSpec, json_safe
from . import database

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(16), primary_key=True),
    Column("status", String(16), nullable=False),
    Column("task", String(128), nullable=False),
    Column("arch", String(128), nullable=False),
    Column("regularizer", String(128), nullable=False),
    Column("ssl", String(128), nullable=False),
    Column("finetune", String(128), nullable=False),
    Column("seed", Integer, nullable=False),
    Column("device", String(32), nullable=False),
    Column("test_accuracy", Float),
    Column("best_val_accuracy", Float),
    Column("time_to_target_s", Float),
    Column("train_seconds", Float),
    Column("samples_per_s", Float),
    Column("data_wait_fraction", Float),
    Column("params", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("result", Text, nullable=False),
)

suites = Table(
    "suites",
    metadata,
    Column("suite", String(160), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("source", Text, nullable=False),
    Column("planned_at", DateTime(timezone=True), nullable=False),
)
"""One row per planned suite: its key (what memberships name), display name and source."""

memberships = Table(
    "memberships",
    metadata,
    Column("suite", String(160), primary_key=True),
    Column("track", String(128), primary_key=True),
    Column("task", String(128), primary_key=True),
    Column("candidate", String(128), primary_key=True),
    Column("seed", Integer, primary_key=True),
    Column("baseline", Boolean, nullable=False),
    Column("run_id", String(16), nullable=False),
)

tunings = Table(
    "tunings",
    metadata,
    Column("suite", String(160), primary_key=True),
    Column("track", String(128), primary_key=True),
    Column("task", String(128), primary_key=True),
    Column("candidate", String(128), primary_key=True),
    Column("summary", Text, nullable=False),
)
"""Which tuning each suite place ran with (the study's summary as JSON); no row: defaults."""

claims = Table(
    "claims",
    metadata,
    Column("run_id", String(16), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("heartbeat", Float, nullable=False),
)
"""Runs being trained right now, by whom (host:pid:token), and when that process last said
it was alive (Unix seconds). A claim whose heartbeat is older than its time to live belongs
to a process that died: another may take the run over."""

_COLUMNS = [c.name for c in runs.columns if c.name not in ("created_at", "result")]
_T = TypeVar("_T")

CLAIM_TTL_SECONDS = 120.0
"""A claim not renewed for this long is a dead process's; runners renew every 30 s."""


def default_url(out_dir: Path) -> str:
    """``sqlite:///<out>/benchbench.db``."""
    return f"sqlite:///{Path(out_dir).resolve() / 'benchbench.db'}"


def storage_url(out: Path, storage: str | None) -> str:
    """The database ``storage`` names, else the one in the output folder ``out``."""
    return storage or default_url(out)


def prepare_out(out: Path) -> Path:
    """The output folder, created and checked writable (one clear line if it is not)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".benchbench-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise BenchbenchError(
            f"output folder {out} is not writable ({exc.strerror or exc}); "
            "choose another with --out"
        ) from exc
    return out


def open_results(out: Path, storage: str | None) -> Store:
    """The results database of ``out`` or ``storage``, for reading; one clear line if
    ``out`` holds none."""
    if storage is None and not (Path(out) / "benchbench.db").exists():
        raise BenchbenchError(
            f"no results database in {out}: pass the --out folder of 'benchbench run' "
            "(or --storage URL)"
        )
    return Store(storage_url(Path(out), storage), writable=False)


def _run_row(data: Mapping[str, Any], created_at: datetime) -> dict[str, Any]:
    """The ``runs`` row of a result (as a dict): its key columns and the whole as JSON."""
    data = json_safe(dict(data))
    row = {name: data.get(name) for name in _COLUMNS}
    row["data_wait_fraction"] = (data.get("loader") or {}).get("data_wait_fraction")
    row["created_at"] = created_at
    row["result"] = json.dumps(data, sort_keys=True)
    return row


class Store:
    """Results, suites, memberships, tunings and claims in one database.

    ``writable=False`` opens for reading only (a read-only file is then fine).
    ``patience_seconds`` is how long a write keeps retrying a locked or unreachable
    database before it gives up with :class:`BenchbenchError`; SQLite statements each wait
    ``busy_seconds`` for a lock.
    """

    def __init__(
        self,
        url: str,
        writable: bool = True,
        patience_seconds: float = 600.0,
        busy_seconds: float = database.SQLITE_BUSY_SECONDS,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.display_url = database.display(url)
        self.patience_seconds, self.on_wait = patience_seconds, on_wait
        database.check_sqlite_file(url, writable)
        path = database.sqlite_path(url)
        existed = path is not None and path.exists()
        try:
            self.engine = database.engine(url, busy_seconds)
        except (SQLAlchemyError, ImportError) as exc:
            raise BenchbenchError(
                f"cannot open storage {self.display_url}: {database.reason(exc)}"
            ) from exc
        if existed:
            database.check_integrity(self.engine, url)
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                break
            except (SQLAlchemyError, OSError) as exc:
                if attempt < 2 and isinstance(exc, SQLAlchemyError):
                    time.sleep(0.5 * (attempt + 1))  # another process creating the tables
                    continue
                raise BenchbenchError(
                    f"cannot open storage {self.display_url}: {database.reason(exc)}"
                ) from exc

    def _retry(self, action: Callable[[], _T], what: str, replaces: bool = False) -> _T:
        return database.retrying(
            action,
            f"storage {self.display_url}: {what}",
            self.patience_seconds,
            self.on_wait,
            replaces,
        )

    # -- results ---------------------------------------------------------------------------

    def stored_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of ``run_ids`` already have a result."""
        wanted = list(dict.fromkeys(run_ids))

        def read() -> set[str]:
            found: set[str] = set()
            with self.engine.connect() as conn:
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    query = select(runs.c.run_id).where(runs.c.run_id.in_(chunk))
                    found.update(conn.scalars(query))
            return found

        return self._retry(read, "reading stored runs")

    def save(self, result: RunResult, owner: str | None = None) -> None:
        """Insert or replace one result, committed at once; releases ``owner``'s claim on
        it in the same transaction."""
        row = _run_row(result.to_dict(), datetime.now(timezone.utc))

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(delete(runs).where(runs.c.run_id == result.run_id))
                conn.execute(runs.insert().values(**row))
                if owner is not None:
                    conn.execute(
                        delete(claims).where(
                            claims.c.run_id == result.run_id, claims.c.owner == owner
                        )
                    )

        self._retry(write, f"saving run {result.run_id}")

    def results(
        self, run_ids: Iterable[str] | None = None, statuses: Iterable[str] | None = None
    ) -> list[RunResult]:
        """Stored results, all or those of ``run_ids``, of any status or of ``statuses``."""
        query = select(runs.c.result)
        if run_ids is not None:
            query = query.where(runs.c.run_id.in_(list(run_ids)))
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))

        def read() -> list[str]:
            with self.engine.connect() as conn:
                return list(conn.scalars(query))

        return [RunResult.from_dict(json.loads(t)) for t in self._retry(read, "reading runs")]

    def made_by_other_code(self, specs: Iterable[RunSpec]) -> list[tuple[RunResult, RunSpec]]:
        """Stored results of the same runs as ``specs`` made by other code (one config id,
        another run id), each with its spec: stale results, which a suite does not reuse."""
        by_config = {spec.config_id: spec for spec in specs}
        tasks = sorted({spec.task for spec in by_config.values()})
        query = select(runs.c.run_id, runs.c.result).where(runs.c.task.in_(tasks))

        def read() -> list[tuple[str, str]]:
            with self.engine.connect() as conn:
                return [tuple(row) for row in conn.execute(query)]

        stale = []
        for run_id, text in self._retry(read, "reading stored runs"):
            result = RunResult.from_dict(json.loads(text))
            spec = by_config.get(result.spec().config_id)
            if spec is not None and spec.run_id != run_id:
                stale.append((result, spec))
        return stale

    # -- suites and their places -----------------------------------------------------------

    def set_places(self, suite: str, name: str, source: str, planned: Iterable[Any]) -> None:
        """Record a suite (its key, display name and source) and the places of its planned
        runs, replacing every place the suite held before: a candidate, task or seed taken
        out of the suite file leaves its leaderboard."""
        rows = [
            {
                "suite": suite,
                "track": p.track,
                "task": p.task,
                "candidate": p.candidate,
                "seed": p.seed,
                "baseline": p.baseline,
                "run_id": p.spec.run_id,
            }
            for p in planned
        ]
        now = datetime.now(timezone.utc)

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(delete(memberships).where(memberships.c.suite == suite))
                conn.execute(delete(suites).where(suites.c.suite == suite))
                conn.execute(
                    insert(suites).values(suite=suite, name=name, source=source, planned_at=now)
                )
                if rows:
                    conn.execute(memberships.insert(), rows)

        self._retry(write, f"recording suite {name}", replaces=True)

    def suite_names(self) -> dict[str, tuple[str, str]]:
        """Every suite with places: key -> (display name, source). Suites recorded before
        suites had keys are their own name and source."""

        def read() -> dict[str, tuple[str, str]]:
            with self.engine.connect() as conn:
                keys = set(conn.scalars(select(memberships.c.suite).distinct()))
                known = {row.suite: (row.name, row.source) for row in conn.execute(select(suites))}
            return {key: known.get(key, (key, key)) for key in sorted(keys)}

        return self._retry(read, "reading suites")

    def suites(self) -> list[str]:
        """The keys of every suite with places."""
        return list(self.suite_names())

    def find_suite(self, wanted: str) -> str:
        """The key of the suite ``wanted`` names: a key, a file path or a display name; one
        clear error if none or several match."""
        known = self.suite_names()
        if wanted in known:
            return wanted
        path = Path(wanted)
        if path.is_file():
            from ..running.suite import file_key

            key = file_key(path)
            if key in known:
                return key
        named = [key for key, (name, _) in known.items() if name == wanted]
        if len(named) == 1:
            return named[0]
        if named:
            sources = ", ".join(known[k][1] for k in named)
            raise BenchbenchError(
                f"several suites are named {wanted!r} ({sources}); pass the suite file's path"
            )
        names = sorted({name for name, _ in known.values()})
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise BenchbenchError(
            f"no suite {wanted!r} in {self.display_url}{hint} "
            f"(stored suites: {', '.join(names) or 'none'})"
        )

    def only_suite(self, wanted: str | None) -> str:
        """The key of the suite ``wanted`` names, or of the only suite stored when it is
        None; one clear line otherwise."""
        if wanted:
            return self.find_suite(wanted)
        names = self.suite_names()
        if len(names) != 1:
            listing = ", ".join(n for n, _ in names.values()) or "none"
            raise BenchbenchError(f"name the suite to report on (stored suites: {listing})")
        return next(iter(names))

    def frame(self, suite: str | None = None) -> pd.DataFrame:
        """Suite memberships joined with their runs, one row per place: the membership
        columns (``suite`` is the key), ``suite_name``, every scalar field of the stored
        result, ``data_wait_fraction``, ``source_train_seconds``, ``busy`` and ``code`` (the
        run's code identity as JSON).

        Metrics are read from the stored JSON, so a metric added to results later needs no
        change of the table schema."""
        query = select(memberships, runs.c.result)
        query = query.join_from(memberships, runs, memberships.c.run_id == runs.c.run_id)
        if suite is not None:
            query = query.where(memberships.c.suite == suite)

        def read() -> list[dict[str, Any]]:
            with self.engine.connect() as conn:
                return [dict(row) for row in conn.execute(query).mappings()]

        names = self.suite_names()
        rows = []
        for row in self._retry(read, "reading the leaderboard's runs"):
            result = json.loads(row.pop("result"))
            scalars = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
            scalars["data_wait_fraction"] = (result.get("loader") or {}).get("data_wait_fraction")
            scalars["source_train_seconds"] = (result.get("source") or {}).get("train_seconds")
            scalars["busy"] = (result.get("machine") or {}).get("busy")
            scalars["code"] = json.dumps(result.get("code") or {}, sort_keys=True)
            row["suite_name"] = names.get(row["suite"], (row["suite"], ""))[0]
            rows.append({**scalars, **row})
        return pd.DataFrame(rows)

    # -- tunings ---------------------------------------------------------------------------

    def set_tunings(self, suite: str, places: Mapping[tuple[str, str, str], Any]) -> None:
        """Record, for one suite, the tuning summary (a dict, or None for defaults) of each
        (track, task, candidate) place, replacing what the suite held before."""
        rows = [
            {
                "suite": suite,
                "track": track,
                "task": task,
                "candidate": candidate,
                "summary": json.dumps(json_safe(summary), sort_keys=True),
            }
            for (track, task, candidate), summary in places.items()
            if summary is not None
        ]

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(delete(tunings).where(tunings.c.suite == suite))
                if rows:
                    conn.execute(tunings.insert(), rows)

        self._retry(write, "recording tunings", replaces=True)

    def tunings(self, suite: str | None = None) -> pd.DataFrame:
        """One row per tuned place: suite, track, task, candidate and the summary's fields."""
        query = select(tunings)
        if suite is not None:
            query = query.where(tunings.c.suite == suite)

        def read() -> list[dict[str, Any]]:
            with self.engine.connect() as conn:
                return [
                    {
                        **{k: v for k, v in row.items() if k != "summary"},
                        **json.loads(row["summary"]),
                    }
                    for row in conn.execute(query).mappings()
                ]

        return pd.DataFrame(self._retry(read, "reading tunings"))

    # -- result sets: what export writes and import merges ------------------------------

    def rows(self, suite: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every row of a result set as ``(table, row)``: the runs (with ``created_at`` and
        the whole result), then suites, places and tunings; one suite's (its places' runs)
        or the whole database's."""
        place_query = select(memberships)
        run_query = select(runs.c.created_at, runs.c.result)
        if suite is not None:
            place_query = place_query.where(memberships.c.suite == suite)
            run_query = run_query.where(
                runs.c.run_id.in_(select(memberships.c.run_id).where(memberships.c.suite == suite))
            )
        named = {
            "suites": select(suites)
            if suite is None
            else select(suites).where(suites.c.suite == suite),
            "places": place_query,
            "tunings": select(tunings)
            if suite is None
            else select(tunings).where(tunings.c.suite == suite),
        }

        def read() -> list[tuple[str, dict[str, Any]]]:
            with self.engine.connect() as conn:
                out = [
                    ("runs", {"created_at": row.created_at, "result": json.loads(row.result)})
                    for row in conn.execute(run_query)
                ]
                for table, query in named.items():
                    out.extend((table, dict(row)) for row in conn.execute(query).mappings())
            return out

        yield from self._retry(read, "reading the result set")

    def merge(self, rows: Iterable[tuple[str, dict[str, Any]]]) -> dict[str, int]:
        """Add a result set's rows (as :meth:`rows` gives them) without duplicates: a run
        whose id is stored is the same run and is skipped; a suite place, suite or tuning
        that exists is kept, unless the place's run is missing here and the incoming one is
        stored (machines that shared a suite's runs fill each other's places). Returns the
        counts: runs added and present, places added and kept, suites and tunings added."""
        counts = dict.fromkeys(
            ("runs", "runs_present", "places", "places_kept", "suites", "tunings"), 0
        )
        pending: dict[str, list[dict[str, Any]]] = {"suites": [], "places": [], "tunings": []}
        batch: list[dict[str, Any]] = []
        for table, row in rows:
            if table == "runs":
                batch.append(row)
                if len(batch) >= 200:
                    self._add_runs(batch, counts)
                    batch = []
            else:
                pending[table].append(row)
        self._add_runs(batch, counts)

        def write() -> None:
            with self.engine.begin() as conn:
                for name, table, keys in (
                    ("suites", suites, ("suite",)),
                    ("tunings", tunings, ("suite", "track", "task", "candidate")),
                ):
                    for row in pending[name]:
                        where = [table.c[k] == row[k] for k in keys]
                        if conn.scalar(select(table.c.suite).where(*where)) is None:
                            conn.execute(insert(table).values(**row))
                            counts[name] += 1
                for row in pending["places"]:
                    keys = ("suite", "track", "task", "candidate", "seed")
                    where = [memberships.c[k] == row[k] for k in keys]
                    held = conn.scalar(select(memberships.c.run_id).where(*where))
                    if held is None:
                        conn.execute(insert(memberships).values(**row))
                        counts["places"] += 1
                    elif held != row["run_id"]:
                        stored = set(
                            conn.scalars(
                                select(runs.c.run_id).where(
                                    runs.c.run_id.in_([held, row["run_id"]])
                                )
                            )
                        )
                        if held not in stored and row["run_id"] in stored:
                            conn.execute(
                                update(memberships).where(*where).values(run_id=row["run_id"])
                            )
                            counts["places"] += 1
                        else:
                            counts["places_kept"] += 1

        self._retry(write, "merging a result set", replaces=True)
        return counts

    def _add_runs(self, batch: list[dict[str, Any]], counts: dict[str, int]) -> None:
        """Insert the runs of ``batch`` (``created_at`` and ``result``) not stored yet."""
        if not batch:
            return
        by_id = {row["result"]["run_id"]: row for row in batch}

        def write() -> None:
            with self.engine.begin() as conn:
                present = set(
                    conn.scalars(select(runs.c.run_id).where(runs.c.run_id.in_(list(by_id))))
                )
                new = [
                    _run_row(r["result"], r["created_at"])
                    for i, r in by_id.items()
                    if i not in present
                ]
                if new:
                    conn.execute(runs.insert(), new)
                counts["runs"] += len(new)
                counts["runs_present"] += len(present)

        self._retry(write, "adding runs", replaces=True)

    # -- claims ----------------------------------------------------------------------------

    def claim(self, run_id: str, owner: str, ttl: float = CLAIM_TTL_SECONDS) -> str | None:
        """Claim a run for ``owner``. Returns None when ``owner`` holds it now (a fresh
        claim, its own, or one taken over from a process whose heartbeat stopped more than
        ``ttl`` seconds ago), else the live owner that holds it."""
        now = time.time()

        def take() -> str | None:
            try:
                with self.engine.begin() as conn:
                    conn.execute(insert(claims).values(run_id=run_id, owner=owner, heartbeat=now))
                return None
            except IntegrityError:
                pass
            with self.engine.begin() as conn:
                taken = conn.execute(
                    update(claims)
                    .where(
                        claims.c.run_id == run_id,
                        (claims.c.owner == owner) | (claims.c.heartbeat < now - ttl),
                    )
                    .values(owner=owner, heartbeat=now)
                ).rowcount
                if taken:
                    return None
                holder = conn.scalar(select(claims.c.owner).where(claims.c.run_id == run_id))
            return holder or take()  # released in between: try again

        return self._retry(take, f"claiming run {run_id}")

    def claim_owners(self) -> set[str]:
        """Every process that holds claims now."""

        def read() -> set[str]:
            with self.engine.connect() as conn:
                return set(conn.scalars(select(claims.c.owner).distinct()))

        return self._retry(read, "reading claims")

    def heartbeat(self, owner: str) -> None:
        """Say that ``owner`` is alive: renew all its claims."""

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(
                    update(claims).where(claims.c.owner == owner).values(heartbeat=time.time())
                )

        self._retry(write, "renewing claims")

    def release(self, owner: str, run_ids: Iterable[str] | None = None) -> None:
        """Drop ``owner``'s claims (on ``run_ids``, or all of them)."""
        query = delete(claims).where(claims.c.owner == owner)
        if run_ids is not None:
            query = query.where(claims.c.run_id.in_(list(run_ids)))

        def write() -> None:
            with self.engine.begin() as conn:
                conn.execute(query)

        self._retry(write, "releasing claims")
