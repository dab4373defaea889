"""Bringing a results database written by an earlier benchbench up to today's tables, on
first open, in one transaction: each run's JSON moves from the old ``runs.result`` column to
``run_results``, the ``runs`` columns added since (:data:`~.schema.ADDED_COLUMNS`) are
created and filled from that JSON, and the old column is dropped, so ``runs`` is narrow and
the leaderboard can rank from its columns. Indexes for the leaderboard's joins are created
where missing. No stored number changes."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import bindparam, inspect, select, text, update
from sqlalchemy.engine import Connection, Engine

from .schema import ADDED_COLUMNS, INDEXES, blobs, run_results, run_row, runs

_BATCH = 2000


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("runs")}


def missing_columns(engine: Engine) -> list[str]:
    """The added columns the database's ``runs`` table lacks, and ``result`` where it still
    holds the JSON (written before ``run_results``)."""
    have = _columns(engine)
    return [c.name for c in ADDED_COLUMNS if c.name not in have] + (
        ["result"] if "result" in have else []
    )


def unfilled(engine: Engine) -> bool:
    """Whether some run stored before the added columns has them still empty."""
    with engine.connect() as conn:
        query = select(runs.c.run_id).where(runs.c.numbers.is_(None)).limit(1)
        return conn.execute(query).first() is not None


def migrate(engine: Engine) -> int:
    """Bring the database up to today's tables; the number of runs filled in."""
    have = _columns(engine)
    with engine.begin() as conn:
        for column in ADDED_COLUMNS:
            if column.name not in have:
                kind = column.type.compile(engine.dialect)
                conn.execute(text(f"ALTER TABLE runs ADD COLUMN {column.name} {kind}"))
        if "result" in have:  # the JSON moves to its own table, then the column goes
            conn.execute(
                text(
                    "INSERT INTO run_results (run_id, result) SELECT run_id, result FROM runs "
                    "WHERE run_id NOT IN (SELECT run_id FROM run_results)"
                )
            )
        filled = backfill(conn)
        if "result" in have:
            conn.execute(text("ALTER TABLE runs DROP COLUMN result"))
    for index in INDEXES:
        index.create(engine, checkfirst=True)
    return filled


def backfill(conn: Connection) -> int:
    """Fill the added columns of runs stored before them (``numbers`` still empty) from
    their JSON in ``run_results``."""
    names = [c.name for c in ADDED_COLUMNS]
    change = (
        update(runs)
        .where(runs.c.run_id == bindparam("key"))
        .values({name: bindparam(name) for name in names})
    )
    filled, last = 0, ""
    while True:
        found = conn.execute(
            select(runs.c.run_id, run_results.c.result, runs.c.created_at)
            .join(run_results, run_results.c.run_id == runs.c.run_id)
            .where(runs.c.numbers.is_(None), runs.c.run_id > last)
            .order_by(runs.c.run_id)
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
        last = found[-1][0]


def add_blobs(conn: Any, found: dict[str, str]) -> None:
    """Store the blobs of ``found`` (digest -> JSON) that are not stored yet."""
    if not found:
        return
    have = set(conn.scalars(select(blobs.c.digest).where(blobs.c.digest.in_(list(found)))))
    new = [{"digest": d, "body": b} for d, b in found.items() if d not in have]
    if new:
        conn.execute(blobs.insert(), new)
