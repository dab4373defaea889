"""Suites and their places: which run fills which (suite, track, task, candidate, seed), and
the rows a leaderboard ranks."""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Float, and_, bindparam, case, delete, func, insert, select

from ..errors import BenchbenchError
from .base import Database
from .median import finite, median
from .schema import blobs, memberships, run_results, runs, suites


class Places(Database):
    """Recording the suites that were planned and reading their places back."""

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

        def change(conn) -> None:  # type: ignore[no-untyped-def]
            conn.execute(delete(memberships).where(memberships.c.suite == suite))
            conn.execute(delete(suites).where(suites.c.suite == suite))
            conn.execute(
                insert(suites).values(suite=suite, name=name, source=source, planned_at=now)
            )
            if rows:
                conn.execute(memberships.insert(), rows)

        self._write(change, f"recording suite {name}", replaces=True)

    def suite_names(self) -> dict[str, tuple[str, str]]:
        """Every suite with places: key -> (display name, source). Suites recorded before
        suites had keys are their own name and source."""

        def query(conn) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
            keys = set(conn.scalars(select(memberships.c.suite).distinct()))
            known = {row.suite: (row.name, row.source) for row in conn.execute(select(suites))}
            return {key: known.get(key, (key, key)) for key in sorted(keys)}

        return self._read(query, "reading suites")

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
            from ..planning.suite_file import file_key

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
        result, ``data_wait_fraction``, ``source_train_seconds``, ``busy``,
        ``peak_memory_mb`` (peak GPU memory allocated, CUDA runs) and ``code`` (the
        run's code identity as JSON).

        Metrics are read from the stored JSON, so a metric added to results later needs no
        change of the table schema."""
        query = select(memberships, run_results.c.result)
        query = query.join_from(
            memberships, run_results, memberships.c.run_id == run_results.c.run_id
        )
        if suite is not None:
            query = query.where(memberships.c.suite == suite)
        query = query.order_by(*memberships.primary_key.columns)
        found = self._read(
            lambda conn: [dict(row) for row in conn.execute(query).mappings()],
            "reading the leaderboard's runs",
        )
        names = self.suite_names()
        rows = []
        for row in found:
            result = json.loads(row.pop("result"))
            scalars = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
            scalars["data_wait_fraction"] = (result.get("loader") or {}).get("data_wait_fraction")
            scalars["source_train_seconds"] = (result.get("source") or {}).get("train_seconds")
            scalars["busy"] = (result.get("machine") or {}).get("busy")
            peak = (result.get("machine") or {}).get("peak_memory_allocated_mb")
            scalars["peak_memory_mb"] = peak
            scalars["code"] = json.dumps(result.get("code") or {}, sort_keys=True)
            row["suite_name"] = names.get(row["suite"], (row["suite"], ""))[0]
            rows.append({**scalars, **row})
        return pd.DataFrame(rows)

    def groups(self, suite: str | None = None) -> pd.DataFrame:
        """The leaderboard's raw rows, aggregated in the database: per suite, track, task,
        candidate and variant (code, device, data and numerics of its runs) the seeds and how
        they ended, the sum, sum of squares and count of their accuracies (a diverged seed's
        is chance), the median time-to-target (never: infinite) and parameters, and the
        means over ok seeds of the time, throughput, calibration and size columns; the
        rules of :mod:`benchbench.ranking.rank`. One pass over the suite's places in run id
        order, each reading a few scalars of its run, never a result's JSON."""
        # the places in run id order (an index holds them so): each run's row is then found
        # next to the previous one's, where SQLite would otherwise look them up at random
        m = select(memberships)
        if suite is not None:
            m = m.where(memberships.c.suite == suite)
        m = m.order_by(memberships.c.run_id).subquery("places")
        r = runs
        ok, diverged = r.c.status == "ok", r.c.status == "diverged"
        accuracy = case((ok, r.c.test_accuracy), (diverged, r.c.chance_accuracy), else_=None)
        # a diverged seed never reached the target: infinitely late; failed ones do not count
        never = bindparam("never", math.inf, type_=Float)
        time_to_target = case((ok, func.coalesce(r.c.time_to_target_s, never)), (diverged, never))
        keys = [m.c.suite, m.c.track, m.c.task, m.c.candidate, r.c.variant]

        def count(condition: Any) -> Any:
            return func.sum(case((condition, 1), else_=0))

        def ok_mean(column: Any) -> Any:
            return func.avg(case((ok, column), else_=None))

        query = (
            select(
                *keys,
                func.count().label("seeds"),
                count(ok).label("ok"),
                count(diverged).label("diverged"),
                func.count(accuracy).label("acc_n"),
                func.sum(accuracy).label("acc_sum"),
                func.sum(accuracy * accuracy).label("acc_sumsq"),
                ok_mean(r.c.test_ece).label("test_ece_mean"),
                count(and_(ok, r.c.time_to_target_s.is_not(None))).label("reached_target"),
                median(time_to_target).label("time_to_target_s"),
                ok_mean(r.c.train_seconds).label("train_seconds"),
                ok_mean(r.c.samples_per_s).label("samples_per_s"),
                ok_mean(r.c.data_wait_fraction).label("data_wait_fraction"),
                ok_mean(r.c.model_bytes).label("model_bytes"),
                ok_mean(r.c.latency_batch1_ms).label("latency_batch1_ms"),
                ok_mean(r.c.latency_batch1024_ms).label("latency_batch1024_ms"),
                ok_mean(r.c.peak_memory_mb).label("peak_memory_mb"),
                ok_mean(r.c.source_train_seconds).label("source_train_seconds"),
                count(and_(ok, r.c.busy.is_(True))).label("busy"),
                count(m.c.baseline.is_(True)).label("baseline"),
                func.min(r.c.code_id).label("code_id"),
                func.min(r.c.context_id).label("context_lo"),
                func.max(r.c.context_id).label("context_hi"),
                median(r.c.params).label("params"),
            )
            .select_from(m.join(r, m.c.run_id == r.c.run_id))
            .group_by(*keys)
        )

        def read(conn: Any) -> pd.DataFrame:
            return pd.DataFrame(conn.execute(query).mappings().all())

        frame = self._read(read, "ranking the leaderboard's runs")
        if frame.empty:
            return frame
        for column in frame.columns:  # PostgreSQL averages integers as NUMERIC
            if frame[column].map(lambda v: isinstance(v, Decimal)).any():
                frame[column] = frame[column].map(
                    lambda v: float(v) if isinstance(v, Decimal) else v
                )
        frame["time_to_target_s"] = [finite(v) for v in frame["time_to_target_s"]]
        frame["params"] = [finite(v) for v in frame["params"]]
        names = self.suite_names()
        frame["suite_name"] = [names.get(k, (k, ""))[0] for k in frame["suite"]]
        frame["code"] = frame["code_id"].map(self.blob_texts(set(frame["code_id"].dropna())))
        return frame

    def blob_texts(self, digests: Iterable[str]) -> dict[str, str]:
        """The JSON stored under each digest (code identities, provenance contexts)."""
        wanted = list(digests)

        def query(conn: Any) -> dict[str, str]:
            found: dict[str, str] = {}
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(conn.execute(select(blobs).where(blobs.c.digest.in_(chunk))).all())
            return found

        return self._read(query, "reading code identities")

    def place_summary(
        self, suite: str, groups: pd.DataFrame | None = None
    ) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """What a leaderboard's heading and footer sum up over a suite's places: each
        provenance context (JSON) with the number of distinct runs it produced, and each
        code identity (JSON) with the number of places its runs fill. From the suite's
        :meth:`groups` when given (each group's runs share one code; their contexts too,
        unless a group's differ, which is then read run by run)."""
        m, r = memberships, runs
        joined = m.join(r, m.c.run_id == r.c.run_id)
        where = m.c.suite == suite
        if groups is None or groups.empty:
            groups = self.groups(suite)
        if groups.empty:
            return [], []
        codes = groups.groupby("code_id", dropna=False)["seeds"].sum()
        distinct = select(func.count(func.distinct(m.c.run_id))).where(where)
        contexts_query = (
            select(r.c.context_id, func.count(func.distinct(r.c.run_id)))
            .select_from(joined)
            .where(where)
            .group_by(r.c.context_id)
        )
        mixed = (groups["context_lo"] != groups["context_hi"]).any()

        def read(conn: Any) -> list[tuple[str, int]]:
            if mixed:
                return [tuple(row) for row in conn.execute(contexts_query).all()]
            runs_count = conn.execute(distinct).scalar() or 0
            shared = sorted(set(groups["context_lo"].dropna()))
            # the runs' count belongs to the line, not to a context: put it on the first
            return [(d, runs_count if i == 0 else 0) for i, d in enumerate(shared)]

        found_contexts = self._read(read, "reading the leaderboard's provenance")
        texts = self.blob_texts({d for d, _ in found_contexts if d} | set(codes.index.dropna()))
        return (
            [(texts.get(d, "{}"), n) for d, n in found_contexts],
            [
                (texts.get(d, "{}") if isinstance(d, str) else "{}", int(n))
                for d, n in codes.items()
            ],
        )

    def sample_places(self, suite: str, per_candidate: int) -> pd.DataFrame:
        """At most ``per_candidate`` places (the lowest seeds) of each track, task and
        candidate of a suite, with their run's id and architecture: the runs whose curves a
        report draws, bounded however many seeds are stored."""
        m, r = memberships, runs
        order = (
            func.row_number()
            .over(partition_by=[m.c.track, m.c.task, m.c.candidate], order_by=m.c.seed)
            .label("nth")
        )
        inner = (
            select(m.c.track, m.c.task, m.c.candidate, m.c.seed, m.c.run_id, r.c.arch, order)
            .select_from(m.join(r, m.c.run_id == r.c.run_id))
            .where(m.c.suite == suite)
            .subquery()
        )
        query = select(inner).where(inner.c.nth <= per_candidate)
        found = self._read(
            lambda conn: conn.execute(query).mappings().all(), "reading the report's runs"
        )
        columns = ["track", "task", "candidate", "seed", "run_id", "arch", "nth"]
        return pd.DataFrame(found, columns=columns)

    def place_statuses(self, suite: str) -> dict[str, Any]:
        """A suite's places at a glance: how many have a stored run, how many of those were
        timed on busy hardware, and the run ids that failed or timed out."""
        m, r = memberships, runs
        joined = m.join(r, m.c.run_id == r.c.run_id)
        query = (
            select(func.count(), func.sum(case((r.c.busy.is_(True), 1), else_=0)))
            .select_from(joined)
            .where(m.c.suite == suite)
        )
        broken = (
            select(r.c.run_id)
            .select_from(joined)
            .where(m.c.suite == suite, r.c.status.in_(["failed", "timed-out"]))
            .distinct()
        )

        def read(conn: Any) -> dict[str, Any]:
            places, busy = conn.execute(query).one()
            return {"places": places, "busy": int(busy or 0), "broken": list(conn.scalars(broken))}

        return self._read(read, "reading the suite's places")
