"""The results database: SQLAlchemy Core tables, SQLite by default, any SQLAlchemy URL else.

``runs`` holds one row per run id (the key columns for queries, the whole result as JSON);
``memberships`` says which place of which suite a run fills, so a run shared by two tracks is
trained once; ``tunings`` which tuned hyperparameters a place used. Optuna's studies live in
the same database, in Optuna's own tables. Every result is committed as soon as it arrives:
an interrupted suite loses nothing it finished, and a rerun skips it.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

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
    create_engine,
    delete,
    select,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from .errors import BenchbenchError
from .spec import RunResult

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

memberships = Table(
    "memberships",
    metadata,
    Column("suite", String(128), primary_key=True),
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
    Column("suite", String(128), primary_key=True),
    Column("track", String(128), primary_key=True),
    Column("task", String(128), primary_key=True),
    Column("candidate", String(128), primary_key=True),
    Column("summary", Text, nullable=False),
)
"""Which tuning each suite place ran with (the study's summary as JSON); no row: defaults."""

_COLUMNS = [c.name for c in runs.columns if c.name not in ("created_at", "result")]


def default_url(out_dir: Path) -> str:
    """``sqlite:///<out>/benchbench.db``."""
    return f"sqlite:///{Path(out_dir).resolve() / 'benchbench.db'}"


def json_safe(value: Any) -> Any:
    """JSON has no NaN or infinity: store them as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


class Store:
    """Results and suite memberships in one database."""

    def __init__(self, url: str) -> None:
        try:
            self.display_url = make_url(url).render_as_string(hide_password=True)
        except ArgumentError as exc:
            raise BenchbenchError(
                f"storage URL {url!r} is not a database URL (e.g. sqlite:///out/benchbench.db)"
            ) from exc
        for attempt in range(3):
            try:
                self.engine = create_engine(url)
                metadata.create_all(self.engine)
                break
            except (SQLAlchemyError, ImportError, OSError) as exc:
                if attempt < 2 and isinstance(exc, SQLAlchemyError):
                    time.sleep(0.5 * (attempt + 1))  # another process creating the tables
                    continue
                reason = " ".join(str(getattr(exc, "orig", None) or exc).split())
                raise BenchbenchError(f"cannot open storage {self.display_url}: {reason}") from exc

    def stored_ids(self, run_ids: Iterable[str]) -> set[str]:
        """Which of ``run_ids`` already have a result."""
        wanted = list(dict.fromkeys(run_ids))
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                found.update(conn.scalars(select(runs.c.run_id).where(runs.c.run_id.in_(chunk))))
        return found

    def save(self, result: RunResult) -> None:
        """Insert or replace one result, committed at once."""
        data = json_safe(result.to_dict())
        row = {name: data.get(name) for name in _COLUMNS}
        row["data_wait_fraction"] = (data.get("loader") or {}).get("data_wait_fraction")
        row["created_at"] = datetime.now(timezone.utc)
        row["result"] = json.dumps(data, sort_keys=True)
        with self.engine.begin() as conn:
            conn.execute(delete(runs).where(runs.c.run_id == result.run_id))
            conn.execute(runs.insert().values(**row))

    def add_memberships(self, planned: Iterable[Any]) -> None:
        """Record the suite places of planned runs (replacing what those places held)."""
        rows = [
            {
                "suite": p.suite,
                "track": p.track,
                "task": p.task,
                "candidate": p.candidate,
                "seed": p.seed,
                "baseline": p.baseline,
                "run_id": p.spec.run_id,
            }
            for p in planned
        ]
        with self.engine.begin() as conn:
            for row in rows:
                key = [
                    getattr(memberships.c, k) == row[k]
                    for k in ("suite", "track", "task", "candidate", "seed")
                ]
                conn.execute(delete(memberships).where(*key))
            if rows:
                conn.execute(memberships.insert(), rows)

    def results(self, run_ids: Iterable[str] | None = None) -> list[RunResult]:
        """Stored results, all or those of ``run_ids``."""
        query = select(runs.c.result)
        if run_ids is not None:
            query = query.where(runs.c.run_id.in_(list(run_ids)))
        with self.engine.connect() as conn:
            return [RunResult.from_dict(json.loads(text)) for text in conn.scalars(query)]

    def frame(self, suite: str | None = None) -> pd.DataFrame:
        """Suite memberships joined with their runs, one row per place: the membership
        columns plus every scalar field of the stored result, ``data_wait_fraction`` and
        ``source_train_seconds``.

        Metrics are read from the stored JSON, so a metric added to results later needs no
        change of the table schema."""
        query = select(memberships, runs.c.result)
        query = query.join_from(memberships, runs, memberships.c.run_id == runs.c.run_id)
        if suite is not None:
            query = query.where(memberships.c.suite == suite)
        rows = []
        with self.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                result = json.loads(row["result"])
                scalars = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
                scalars["data_wait_fraction"] = (result.get("loader") or {}).get(
                    "data_wait_fraction"
                )
                scalars["source_train_seconds"] = (result.get("source") or {}).get("train_seconds")
                place = {k: v for k, v in row.items() if k != "result"}
                rows.append({**scalars, **place})
        return pd.DataFrame(rows)

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
        with self.engine.begin() as conn:
            conn.execute(delete(tunings).where(tunings.c.suite == suite))
            if rows:
                conn.execute(tunings.insert(), rows)

    def tunings(self, suite: str | None = None) -> pd.DataFrame:
        """One row per tuned place: suite, track, task, candidate and the summary's fields."""
        query = select(tunings)
        if suite is not None:
            query = query.where(tunings.c.suite == suite)
        with self.engine.connect() as conn:
            rows = [
                {**{k: v for k, v in row.items() if k != "summary"}, **json.loads(row["summary"])}
                for row in conn.execute(query).mappings()
            ]
        return pd.DataFrame(rows)

    def suites(self) -> list[str]:
        with self.engine.connect() as conn:
            return sorted(set(conn.scalars(select(memberships.c.suite))))
