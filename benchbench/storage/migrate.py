"""Bringing a results database written by an earlier benchbench up to today's tables, on
first open: the ``runs`` columns added since (:data:`~.schema.ADDED_COLUMNS`) are created and
filled from each run's stored JSON, in batches, so the leaderboard can rank from columns.
Indexes for the leaderboard's joins are created where missing. Nothing stored is changed."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, inspect, select, text, update
from sqlalchemy.engine import Engine

from .schema import ADDED_COLUMNS, INDEXES, blobs, run_row, runs

_BATCH = 2000


def missing_columns(engine: Engine) -> list[str]:
    """The added columns the database's ``runs`` table lacks."""
    have = {c["name"] for c in inspect(engine).get_columns("runs")}
    return [c.name for c in ADDED_COLUMNS if c.name not in have]


def unfilled(engine: Engine) -> bool:
    """Whether some run stored before the added columns has them still empty."""
    with engine.connect() as conn:
        query = select(runs.c.run_id).where(runs.c.numbers.is_(None)).limit(1)
        return conn.execute(query).first() is not None


def migrate(engine: Engine) -> int:
    """Add what the database lacks and fill it; the number of runs filled in."""
    missing = set(missing_columns(engine))
    if missing:
        with engine.begin() as conn:
            for column in ADDED_COLUMNS:
                if column.name in missing:
                    kind = column.type.compile(engine.dialect)
                    conn.execute(text(f"ALTER TABLE runs ADD COLUMN {column.name} {kind}"))
    for index in INDEXES:
        index.create(engine, checkfirst=True)
    return backfill(engine)


def backfill(engine: Engine) -> int:
    """Fill the added columns of runs stored before them (``numbers`` still empty)."""
    names = [c.name for c in ADDED_COLUMNS]
    change = (
        update(runs)
        .where(runs.c.run_id == bindparam("key"))
        .values({name: bindparam(name) for name in names})
    )
    filled = 0
    while True:
        with engine.begin() as conn:
            found = conn.execute(
                select(runs.c.run_id, runs.c.result, runs.c.created_at)
                .where(runs.c.numbers.is_(None))
                .limit(_BATCH)
            ).all()
            if not found:
                return filled
            rows, shared = [], {}
            for run_id, body, created in found:
                row, made = run_row(json.loads(body), created, text=body)
                rows.append({"key": run_id, **{n: row[n] for n in names}})
                shared.update(made)
            conn.execute(change, rows)
            add_blobs(conn, shared)
            filled += len(rows)


def add_blobs(conn: Any, found: dict[str, str]) -> None:
    """Store the blobs of ``found`` (digest -> JSON) that are not stored yet."""
    if not found:
        return
    have = set(conn.scalars(select(blobs.c.digest).where(blobs.c.digest.in_(list(found)))))
    new = [{"digest": d, "body": b} for d, b in found.items() if d not in have]
    if new:
        conn.execute(blobs.insert(), new)
