"""Result sets in and out: every row of a suite (or of the whole database) as export writes
it, and merging such rows without duplicates, as import does."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import insert, select, update

from .base import Database
from .schema import memberships, run_row, runs, suites, tunings

_BATCH = 200
"""Runs inserted per transaction when merging."""


class Merge(Database):
    """Reading a result set out of the database and merging one in."""

    def rows(self, suite: str | None = None) -> Iterator[tuple[str, dict[str, Any]]]:
        """Every row of a result set as ``(table, row)``: the runs (with ``created_at`` and
        the whole result), then suites, places and tunings; one suite's (its places' runs)
        or the whole database's."""
        place_query = select(memberships)
        run_query = select(runs.c.created_at, runs.c.result)
        suite_query, tuning_query = select(suites), select(tunings)
        if suite is not None:
            place_query = place_query.where(memberships.c.suite == suite)
            held = select(memberships.c.run_id).where(memberships.c.suite == suite)
            run_query = run_query.where(runs.c.run_id.in_(held))
            suite_query = suite_query.where(suites.c.suite == suite)
            tuning_query = tuning_query.where(tunings.c.suite == suite)
        named = {"suites": suite_query, "places": place_query, "tunings": tuning_query}

        def query(conn) -> list[tuple[str, dict[str, Any]]]:  # type: ignore[no-untyped-def]
            out = [
                ("runs", {"created_at": row.created_at, "result": json.loads(row.result)})
                for row in conn.execute(run_query)
            ]
            for table, each in named.items():
                out.extend((table, dict(row)) for row in conn.execute(each).mappings())
            return out

        yield from self._read(query, "reading the result set")

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
                if len(batch) >= _BATCH:
                    self._add_runs(batch, counts)
                    batch = []
            else:
                pending[table].append(row)
        self._add_runs(batch, counts)
        merged = self._write(
            lambda conn: _merge_places(conn, pending), "merging a result set", replaces=True
        )
        counts.update({k: counts[k] + n for k, n in merged.items()})
        return counts

    def _add_runs(self, batch: list[dict[str, Any]], counts: dict[str, int]) -> None:
        """Insert the runs of ``batch`` (``created_at`` and ``result``) not stored yet."""
        if not batch:
            return
        by_id = {row["result"]["run_id"]: row for row in batch}

        def change(conn) -> tuple[int, int]:  # type: ignore[no-untyped-def]
            query = select(runs.c.run_id).where(runs.c.run_id.in_(list(by_id)))
            present = set(conn.scalars(query))
            new = [
                run_row(r["result"], r["created_at"]) for i, r in by_id.items() if i not in present
            ]
            if new:
                conn.execute(runs.insert(), new)
            return len(new), len(present)

        added, present = self._write(change, "adding runs", replaces=True)  # counted once
        counts["runs"] += added
        counts["runs_present"] += present


def _merge_places(conn: Any, pending: dict[str, list[dict[str, Any]]]) -> Counter[str]:
    """Add the suites and tunings that are new here, and the places that are new or whose
    run is missing here while the incoming one is stored; what was added and kept."""
    counts: Counter[str] = Counter()
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
            both = select(runs.c.run_id).where(runs.c.run_id.in_([held, row["run_id"]]))
            stored = set(conn.scalars(both))
            if held not in stored and row["run_id"] in stored:
                conn.execute(update(memberships).where(*where).values(run_id=row["run_id"]))
                counts["places"] += 1
            else:
                counts["places_kept"] += 1
    return counts
