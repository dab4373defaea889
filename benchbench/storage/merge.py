"""Result sets in and out: every row of a suite (or of the whole database) as export writes
it, and merging such rows without duplicates, as import does.

A merge is one transaction: a file that turns out to be damaged half-way, or a conflict
under ``on_conflict="fail"``, leaves the database as it was. Rows stream through in batches,
so memory does not grow with the file. A run id already stored is the same run (same spec,
code and numerics); if the two copies measured different numbers (:data:`~.schema.NUMBERS`
and the curve: a rerun under the same conditions repeats them), that is a conflict, listed
and decided by ``on_conflict``: ``keep`` the stored copy (the default), ``replace`` it, or
``fail``. Times are the machine's and never conflict.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Column, MetaData, Table, and_, delete, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateTable, DropTable

from ..errors import BenchbenchError
from .base import Database
from .database import reason
from .migrate import add_blobs
from .schema import (
    NUMBERS,
    RUN_COLUMNS,
    PreparedRun,
    memberships,
    prepare_run,
    run_results,
    runs,
    suites,
    tunings,
)

_BATCH = 1000
"""Rows per statement when merging (well under every database's bound-parameter limit)."""
ON_CONFLICT = ("keep", "replace", "fail")
SHOWN_CONFLICTS = 10


@dataclass
class MergeCounts:
    """What a merge did: runs added, already present (same numbers), in conflict (listed,
    kept or replaced), and places, suites and tunings added or kept."""

    runs: int = 0
    runs_present: int = 0
    conflicts: list[str] = field(default_factory=list)
    conflict_kinds: Counter[str] = field(default_factory=Counter)
    replaced: int = 0
    places: int = 0
    places_kept: int = 0
    suites: int = 0
    tunings: int = 0

    def as_dict(self) -> dict[str, Any]:
        """The counts as a dict (``conflicts``: how many; ``conflict_list``: the first
        ``SHOWN_CONFLICTS`` described)."""
        return {
            "runs": self.runs,
            "runs_present": self.runs_present,
            "conflicts": sum(self.conflict_kinds.values()),
            "replaced": self.replaced,
            "conflict_kinds": dict(self.conflict_kinds),
            "conflict_list": list(self.conflicts),
            "places": self.places,
            "places_kept": self.places_kept,
            "suites": self.suites,
            "tunings": self.tunings,
        }


class Merge(Database):
    """Reading a result set out of the database and merging one in."""

    def rows(self, suite: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every row of a result set as ``(table, row)``: the runs (with ``created_at`` and
        the whole result), then suites, places and tunings; one suite's (its places' runs)
        or the whole database's. Streamed in batches: memory does not grow with the set."""
        place_query = select(memberships)
        suite_query, tuning_query = select(suites), select(tunings)
        held = None
        if suite is not None:
            place_query = place_query.where(memberships.c.suite == suite)
            held = select(memberships.c.run_id).where(memberships.c.suite == suite)
            suite_query = suite_query.where(suites.c.suite == suite)
            tuning_query = tuning_query.where(tunings.c.suite == suite)
        last = ""
        while True:  # by run id, one batch per connection: never the whole table at once
            query = (
                select(runs.c.run_id, runs.c.created_at, run_results.c.result)
                .join(run_results, run_results.c.run_id == runs.c.run_id)
                .where(runs.c.run_id > last)
            )
            if held is not None:
                query = query.where(runs.c.run_id.in_(held))
            query = query.order_by(runs.c.run_id).limit(_BATCH)
            batch = self._read(lambda conn, q=query: conn.execute(q).all(), "reading runs")
            for _, created_at, body in batch:
                yield "runs", {"created_at": created_at, "result": json.loads(body)}
            if len(batch) < _BATCH:
                break
            last = batch[-1][0]
        for table, each in (("suites", suite_query), ("places", place_query)):
            found = self._read(
                lambda conn, q=each: [dict(r) for r in conn.execute(q).mappings()],
                f"reading {table}",
            )
            yield from ((table, row) for row in found)
        found = self._read(
            lambda conn: [dict(r) for r in conn.execute(tuning_query).mappings()],
            "reading tunings",
        )
        yield from (("tunings", row) for row in found)

    def merge(
        self,
        rows: Iterable[tuple[str, Any]],
        on_conflict: str = "keep",
        on_runs: Callable[[int], None] | None = None,
    ) -> dict[str, Any]:
        """Add a result set's rows (as :meth:`rows` gives them, runs first; a run may come
        as a :data:`~.schema.PreparedRun` instead) in one transaction, without duplicates:
        a run whose id is stored is the same run and is skipped, unless its numbers differ
        (a conflict: see the module); a suite, place or tuning that exists is kept, unless
        the place's run is missing here and the incoming one is stored (machines that shared
        a suite's runs fill each other's places).
        ``on_runs`` hears how many runs each batch held (a progress bar). The counts:
        :meth:`MergeCounts.as_dict`."""
        if on_conflict not in ON_CONFLICT:
            raise BenchbenchError(
                f"on_conflict must be one of {', '.join(ON_CONFLICT)}, got {on_conflict!r}"
            )

        def change(conn: Any) -> MergeCounts:
            for twin in _INCOMING.values():
                conn.execute(CreateTable(twin, if_not_exists=True))
            counts = MergeCounts()
            batch: list[PreparedRun] = []
            pending: dict[str, list[dict[str, Any]]] = {"suites": [], "places": [], "tunings": []}
            for table, row in rows:
                if table == "runs":
                    if isinstance(row, dict):
                        row = prepare_run(row["result"], row["created_at"], row.get("text"))
                    batch.append(row)
                    if len(batch) >= _BATCH:
                        _add_runs(conn, batch, counts, on_conflict, on_runs)
                        batch = []
                    continue
                pending[table].append(row)
                if len(pending[table]) >= _BATCH:
                    _add_others(conn, table, pending[table], counts)
                    pending[table] = []
            _add_runs(conn, batch, counts, on_conflict, on_runs)
            for table, left in pending.items():
                _add_others(conn, table, left, counts)
            for twin in _INCOMING.values():
                conn.execute(DropTable(twin, if_exists=True))
            if counts.conflicts and on_conflict == "fail":
                raise _ConflictsFound(counts)
            return counts

        try:  # once: the rows stream past and cannot be read again for a retry
            with self.engine.begin() as conn:
                return change(conn).as_dict()
        except SQLAlchemyError as exc:
            raise BenchbenchError(
                f"storage {self.display_url}: merging a result set: {reason(exc)} "
                "(nothing of it was kept)"
            ) from exc
        except _ConflictsFound as found:
            raise BenchbenchError(
                f"{sum(found.counts.conflict_kinds.values())} runs are stored here with other "
                f"numbers ({conflict_summary(found.counts)}); nothing was imported: "
                + "; ".join(found.counts.conflicts[:3])
            ) from None


class _ConflictsFound(Exception):
    def __init__(self, counts: MergeCounts) -> None:
        self.counts = counts


def conflict_summary(counts: MergeCounts) -> str:
    """How the conflicting runs differed: ``2 test_accuracy, 3 curve``."""
    return ", ".join(f"{n} {kind}" for kind, n in counts.conflict_kinds.most_common())


_ID, _NUMBERS = RUN_COLUMNS.index("run_id"), RUN_COLUMNS.index("numbers")


def _add_runs(
    conn: Any,
    batch: list[PreparedRun],
    counts: MergeCounts,
    on_conflict: str,
    on_runs: Callable[[int], None] | None,
) -> None:
    """Insert the runs of ``batch`` not stored yet; compare the others' numbers."""
    if not batch:
        return
    made = {values[_ID]: (values, text) for values, text, _ in batch}
    shared: dict[str, str] = {}
    for _, _, blobs in batch:
        shared.update(blobs)
    query = select(runs.c.run_id, runs.c.numbers).where(runs.c.run_id.in_(list(made)))
    stored = dict(conn.execute(query).all())
    new = [made[run_id] for run_id in made if run_id not in stored]
    differ = [i for i in stored if stored[i] is not None and stored[i] != made[i][0][_NUMBERS]]
    counts.runs_present += len(stored) - len(differ)
    if differ:
        query = select(run_results.c.run_id, run_results.c.result).where(
            run_results.c.run_id.in_(differ)
        )
        bodies = {run_id: body for run_id, body in conn.execute(query)}
        for run_id in differ:
            incoming = json.loads(made[run_id][1])
            kinds, line = describe_conflict(json.loads(bodies[run_id]), incoming)
            counts.conflict_kinds.update(kinds)
            if len(counts.conflicts) < SHOWN_CONFLICTS:
                counts.conflicts.append(line)
        if on_conflict == "replace":
            for table in (runs, run_results):
                conn.execute(delete(table).where(table.c.run_id.in_(differ)))
            new += [made[i] for i in differ]
            counts.replaced += len(differ)
    if new:
        insert_many(conn, runs, [values for values, _ in new])
        insert_many(conn, run_results, [(values[_ID], text) for values, text in new])
    add_blobs(conn, shared)
    counts.runs += len(new) - (len(differ) if on_conflict == "replace" else 0)
    if on_runs is not None:
        on_runs(len(batch))


_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def insert_many(conn: Any, table: Any, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (tuples of values in the table's column order) as one driver-level
    ``executemany``: each value through its column type's own bind processor (where the
    type has one), as SQLAlchemy's Core insert would, without its per-row parameter
    bookkeeping (a third of an import's time at a million runs). Drivers with another
    parameter style take the Core path."""
    columns = list(table.columns)
    marker = _MARKERS.get(conn.dialect.paramstyle)
    if marker is None:
        conn.execute(insert(table), [dict(zip(table.columns.keys(), r, strict=True)) for r in rows])
        return
    processors = [c.type._cached_bind_processor(conn.dialect) for c in columns]
    converted = [(i, p) for i, p in enumerate(processors) if p is not None]
    if converted:
        fixed = []
        for row in rows:
            values = list(row)
            for i, process in converted:
                if values[i] is not None:
                    values[i] = process(values[i])
            fixed.append(tuple(values))
        rows = fixed  # type: ignore[assignment]
    names = ", ".join(conn.dialect.identifier_preparer.quote(c.name) for c in columns)
    sql = f"INSERT INTO {table.name} ({names}) VALUES ({', '.join([marker] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def describe_conflict(stored: dict[str, Any], incoming: dict[str, Any]) -> tuple[list[str], str]:
    """What differs between two copies of one run: the fields (``curve`` for the curve) and
    one line naming the run, each difference and whether it should have: two portable CPU
    runs with one thread count repeat bit for bit, anything else may differ by machine."""
    fields = [n for n in NUMBERS if stored.get(n) != incoming.get(n)]
    parts = []
    for name in fields:
        old, new = stored.get(name), incoming.get(name)
        if isinstance(old, float) and isinstance(new, float):
            parts.append(f"{name} {old:.4g} here, {new:.4g} incoming")
        else:
            parts.append(f"{name} {old} here, {new} incoming")
    curve = [
        [(p.get("step"), p.get("val_accuracy")) for p in r.get("curve") or ()]
        for r in (stored, incoming)
    ]
    if curve[0] != curve[1]:
        fields.append("curve")
        same = sum(a == b for a, b in zip(*curve, strict=False))
        parts.append(f"curve {same} of {max(map(len, curve))} points equal")
    threads = [(r.get("machine") or {}).get("threads") for r in (stored, incoming)]
    portable = stored.get("numerics") == "portable" and not str(stored.get("device")).startswith(
        "cuda"
    )
    if not portable:
        why = "native numerics or a GPU: machines may differ"
    elif threads[0] != threads[1]:
        why = f"portable, but {threads[0]} threads here and {threads[1]} incoming"
    else:
        why = "portable CPU runs with one thread count: they should be identical"
    named = f"{stored.get('task')}/{stored.get('arch')} seed {stored.get('seed')}"
    run = f"{stored.get('run_id')} ({named})"
    return fields, f"{run}: {', '.join(parts)} [{why}]"


_KEYS = {
    "suites": ("suite",),
    "tunings": ("suite", "track", "task", "candidate"),
    "places": ("suite", "track", "task", "candidate", "seed"),
}
_TABLES = {"suites": suites, "tunings": tunings, "places": memberships}
_INCOMING = {
    name: Table(
        f"incoming_{table.name}",
        MetaData(),
        *(Column(c.name, c.type) for c in table.columns),
        prefixes=["TEMPORARY"],
    )
    for name, table in _TABLES.items()
}
"""A temporary twin of each table: a batch of incoming rows goes there first and is joined
with the table on its key, one index lookup per row. (A list of composite keys in ``IN``
makes SQLite scan the whole table per batch: hours at a million places.)"""


def _add_others(conn: Any, name: str, rows: list[dict[str, Any]], counts: MergeCounts) -> None:
    """Add the suites, tunings or places of ``rows`` that are new here; a place whose run is
    missing here while the incoming one is stored takes the incoming run."""
    if not rows:
        return
    table, keys, twin = _TABLES[name], _KEYS[name], _INCOMING[name]
    wanted = list({tuple(r[k] for k in keys): r for r in rows}.values())
    names = [c.name for c in table.columns]
    insert_many(conn, twin, [tuple(r.get(n) for n in names) for r in wanted])
    extra = [table.c.run_id] if name == "places" else []
    on = and_(*[twin.c[k] == table.c[k] for k in keys])
    found = conn.execute(
        select(*[twin.c[k] for k in keys], *extra).select_from(twin.join(table, on))
    )
    held = {tuple(r[: len(keys)]): r for r in found}
    conn.execute(delete(twin))
    new = [r for r in wanted if tuple(r[k] for k in keys) not in held]
    if new:
        insert_many(conn, table, [tuple(r.get(n) for n in names) for r in new])
    if name != "places":
        setattr(counts, name, getattr(counts, name) + len(new))
        return
    counts.places += len(new)
    clashing = [r for r in wanted if tuple(r[k] for k in keys) in held]
    clashing = [r for r in clashing if held[tuple(r[k] for k in keys)][-1] != r["run_id"]]
    if not clashing:
        return
    ids = {r["run_id"] for r in clashing} | {held[tuple(r[k] for k in keys)][-1] for r in clashing}
    present = set(conn.scalars(select(runs.c.run_id).where(runs.c.run_id.in_(list(ids)))))
    moved = 0
    for row in clashing:
        mine = held[tuple(row[k] for k in keys)][-1]
        if mine not in present and row["run_id"] in present:
            where = and_(*[memberships.c[k] == row[k] for k in keys])
            conn.execute(update(memberships).where(where).values(run_id=row["run_id"]))
            moved += 1
    counts.places += moved
    counts.places_kept += len(clashing) - moved
