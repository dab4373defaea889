"""Bringing a results database written by an earlier benchbench up to today's tables, on
first open, in one transaction: each run's JSON moves from the old ``runs.result`` column to
``run_results``, the ``runs`` columns added since (:data:`~.schema.ADDED_COLUMNS`) are
created and filled from that JSON, and the old column is dropped, so ``runs`` is narrow and
the leaderboard can rank from its columns. On SQLite, ``runs`` and ``memberships`` are
rebuilt stored by primary key (``WITHOUT ROWID``). Indexes for the leaderboard's joins are
created where missing, and those they replace dropped. No stored number changes."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import MetaData, Table, bindparam, inspect, select, text, true, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTable

from .schema import (
    ADDED_COLUMNS,
    INDEXES,
    RETIRED_INDEXES,
    blobs,
    memberships,
    run_results,
    run_row,
    runs,
)

_BATCH = 2000
_TABLES = "SELECT name, sql FROM sqlite_master WHERE type = 'table'"


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


def rowid_tables(engine: Engine) -> list[Table]:
    """On SQLite, the tables that today's schema stores by primary key but the file still
    holds as rowid tables (written before that)."""
    if engine.dialect.name != "sqlite":
        return []
    with engine.connect() as conn:
        found = {name: sql for name, sql in conn.execute(text(_TABLES))}
    return [t for t in (runs, memberships) if "WITHOUT ROWID" not in found.get(t.name, "").upper()]


def stale_indexes(engine: Engine) -> bool:
    """Whether an index of :data:`~.schema.INDEXES` is missing or a retired one is there."""
    inspector = inspect(engine)
    names = {
        index["name"]
        for table in {index.table.name for index in INDEXES}  # type: ignore[union-attr]
        for index in inspector.get_indexes(table)
    }
    return any(i.name not in names for i in INDEXES) or any(n in names for n in RETIRED_INDEXES)


def pending(engine: Engine) -> bool:
    """Whether the database needs :func:`migrate`."""
    return bool(
        missing_columns(engine) or unfilled(engine) or rowid_tables(engine)
    ) or stale_indexes(engine)


def migrate(engine: Engine) -> int:
    """Bring the database up to today's tables; the number of runs filled in."""
    have = _columns(engine)
    rebuild = rowid_tables(engine)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            # the driver opens a transaction only before a row is written: the DDL too
            # belongs to this one (all or nothing), and it holds the write lock throughout
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        for column in ADDED_COLUMNS:
            if column.name not in have:
                kind = column.type.compile(engine.dialect)
                if column.server_default is not None:  # a kind added later: its default
                    kind += f" NOT NULL DEFAULT '{column.server_default.arg}'"
                conn.execute(text(f"ALTER TABLE runs ADD COLUMN {column.name} {kind}"))
        if "result" in have:  # the JSON moves to its own table, then the column goes
            conn.execute(
                text(
                    "INSERT INTO run_results (run_id, result) SELECT run_id, result FROM runs "
                    "WHERE run_id NOT IN (SELECT run_id FROM run_results)"
                )
            )
        filled = backfill(conn)
        later = [c.name for c in ADDED_COLUMNS if c.server_default is not None]
        if any(name not in have for name in later):  # a kind added later: read from each run
            backfill(conn, later, every=True)
        if "result" in have and runs not in rebuild:
            conn.execute(text("ALTER TABLE runs DROP COLUMN result"))
        for table in rebuild:  # copies today's columns only: an old result column goes too
            _rebuild(conn, table)
        for name in RETIRED_INDEXES:
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        for index in INDEXES:
            index.create(conn, checkfirst=True)
    return filled


def _rebuild(conn: Connection, table: Table) -> None:
    """Replace ``table`` by a copy created from today's schema, holding the same rows."""
    copy = table.to_metadata(MetaData(), name=f"{table.name}_rebuilt")
    conn.execute(text(f"DROP TABLE IF EXISTS {copy.name}"))
    conn.execute(CreateTable(copy))
    columns = ", ".join(c.name for c in table.columns)
    conn.execute(text(f"INSERT INTO {copy.name} ({columns}) SELECT {columns} FROM {table.name}"))
    conn.execute(text(f"DROP TABLE {table.name}"))
    conn.execute(text(f"ALTER TABLE {copy.name} RENAME TO {table.name}"))


def backfill(conn: Connection, names: list[str] | None = None, every: bool = False) -> int:
    """Fill the added columns (``names``, default: all) of runs stored before them
    (``numbers`` still empty; ``every``: all runs) from their JSON in ``run_results``."""
    names = names or [c.name for c in ADDED_COLUMNS]
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
            .where(true() if every else runs.c.numbers.is_(None), runs.c.run_id > last)
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
