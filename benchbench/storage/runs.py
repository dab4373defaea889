"""The results themselves: one row per run id, each committed the moment it arrives."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone

from sqlalchemy import delete, select

from ..spec import RunResult, RunSpec
from .base import Database
from .migrate import add_blobs
from .schema import claims, run_results, run_row, runs, without_result

_CHUNK = 500
"""Run ids per ``IN (...)`` query: databases limit how many a statement may hold."""


class Runs(Database):
    """Storing and reading run results."""

    def stored_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of ``run_ids`` already have a result."""
        wanted = list(dict.fromkeys(run_ids))

        def query(conn) -> set[str]:  # type: ignore[no-untyped-def]
            found: set[str] = set()
            for start in range(0, len(wanted), _CHUNK):
                chunk = wanted[start : start + _CHUNK]
                found.update(conn.scalars(select(runs.c.run_id).where(runs.c.run_id.in_(chunk))))
            return found

        return self._read(query, "reading stored runs")

    def run_ids(self, statuses: Iterable[str] | None = None) -> list[str]:
        """The ids of every stored run, or of those with one of ``statuses``."""
        query = select(runs.c.run_id)
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))
        return self._read(lambda conn: list(conn.scalars(query)), "reading run ids")

    def save(self, result: RunResult, owner: str | None = None, replace: bool = True) -> bool:
        """Insert or replace one result, committed at once; releases ``owner``'s claim on
        it in the same transaction. ``replace=False`` keeps a result of the same run that
        ended ok or diverged and was stored meanwhile (by an import, or another process):
        then nothing is written and the answer is False."""
        row, shared = run_row(result.to_dict(), datetime.now(timezone.utc))

        def change(conn) -> bool:  # type: ignore[no-untyped-def]
            held = None
            if not replace:
                query = select(runs.c.status).where(runs.c.run_id == result.run_id)
                held = conn.scalar(query)
            if held not in ("ok", "diverged"):
                for table in (runs, run_results):
                    conn.execute(delete(table).where(table.c.run_id == result.run_id))
                conn.execute(runs.insert().values(**without_result(row)))
                conn.execute(
                    run_results.insert().values(run_id=result.run_id, result=row["result"])
                )
                add_blobs(conn, shared)
            if owner is not None:
                mine = (claims.c.run_id == result.run_id) & (claims.c.owner == owner)
                conn.execute(delete(claims).where(mine))
            return held not in ("ok", "diverged")

        return self._write(change, f"saving run {result.run_id}")

    def results(
        self, run_ids: Iterable[str] | None = None, statuses: Iterable[str] | None = None
    ) -> list[RunResult]:
        """Stored results, all or those of ``run_ids``, of any status or of ``statuses``."""
        query = select(run_results.c.result).join(runs, runs.c.run_id == run_results.c.run_id)
        if run_ids is not None:
            query = query.where(runs.c.run_id.in_(list(run_ids)))
        if statuses is not None:
            query = query.where(runs.c.status.in_(list(statuses)))
        texts = self._read(lambda conn: list(conn.scalars(query)), "reading runs")
        return [RunResult.from_dict(json.loads(text)) for text in texts]

    def made_by_other_code(self, specs: Iterable[RunSpec]) -> list[tuple[RunResult, RunSpec]]:
        """Stored results of the same runs as ``specs`` made by other code (one config id,
        another run id), each with its spec: stale results, which a suite does not reuse."""
        by_config = {spec.config_id: spec for spec in specs}
        tasks = sorted({spec.task for spec in by_config.values()})
        query = (
            select(runs.c.run_id, run_results.c.result)
            .join(run_results, run_results.c.run_id == runs.c.run_id)
            .where(runs.c.task.in_(tasks))
        )
        rows = self._read(lambda conn: [tuple(r) for r in conn.execute(query)], "reading runs")
        stale = []
        for run_id, text in rows:
            result = RunResult.from_dict(json.loads(text))
            spec = by_config.get(result.spec().config_id)
            if spec is not None and spec.run_id != run_id:
                stale.append((result, spec))
        return stale
