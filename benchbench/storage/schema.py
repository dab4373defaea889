"""The results database's tables (SQLAlchemy Core), apart from what is done with them.

``runs`` holds one row per run id (the key columns for queries, the whole result as JSON);
``suites`` names each suite that was planned (its key, display name and source);
``memberships`` says which place of which suite a run fills — replaced whole each time the
suite is planned, so a leaderboard shows the suite as it is now — and a run shared by two
tracks is trained once; ``tunings`` which tuned hyperparameters a place used; ``claims``
which process is training which run, with a heartbeat, so that several ``benchbench run``
processes on one database share the work instead of repeating it. Optuna's studies live in
the same database, in Optuna's own tables.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, Column, DateTime, Float, Integer, MetaData, String, Table, Text

from ..spec import json_safe

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

RUN_COLUMNS = [c.name for c in runs.columns if c.name not in ("created_at", "result")]


def run_row(data: Mapping[str, Any], created_at: datetime) -> dict[str, Any]:
    """The ``runs`` row of a result (as a dict): its key columns and the whole as JSON."""
    data = json_safe(dict(data))
    row = {name: data.get(name) for name in RUN_COLUMNS}
    row["data_wait_fraction"] = (data.get("loader") or {}).get("data_wait_fraction")
    row["created_at"] = created_at
    row["result"] = json.dumps(data, sort_keys=True)
    return row
