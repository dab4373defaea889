"""The results database's tables (SQLAlchemy Core), apart from what is done with them.

``runs`` holds one row per run id: the columns a leaderboard ranks by and groups on (so
ranking a million runs reads a few scalars each, aggregated in SQL) and the digest of the
numbers a rerun must repeat (``numbers``: imports compare it to find conflicts);
``run_results`` the whole result as JSON, for reports and exports; ``blobs`` holds what many
runs share once (a code identity, a provenance context), keyed by its digest;
``suites`` names each suite that was planned (its key, display name and source);
``memberships`` says which place of which suite a run fills — replaced whole each time the
suite is planned, so a leaderboard shows the suite as it is now — and a run shared by two
tracks is trained once; ``tunings`` which tuned hyperparameters a place used; ``claims``
which process is training which run, with a heartbeat, so that several ``benchbench run``
processes on one database share the work instead of repeating it. Optuna's studies live in
the same database, in Optuna's own tables.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from ..kinds import KINDS
from ..spec import json_safe, legacy_optimizer

metadata = MetaData()

runs = Table(
    "runs",
    metadata,
    Column("run_id", String(16), primary_key=True),
    Column("status", String(16), nullable=False),
    *(
        Column(
            kind.name,
            String(128),
            nullable=False,
            server_default=kind.default if kind.added_later else None,
        )
        for kind in KINDS
    ),
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
    # added after the first release: existing databases gain them on first open
    Column("numerics", String(16)),
    Column("threads", Integer),
    Column("test_ece", Float),
    Column("chance_accuracy", Float),
    Column("model_bytes", Integer),
    Column("latency_batch1_ms", Float),
    Column("latency_batch1024_ms", Float),
    Column("source_train_seconds", Float),
    Column("busy", Boolean),
    Column("variant", String(16)),
    Column("numbers", String(16)),
    Column("code_id", String(16)),
    Column("context_id", String(16)),
    Column("peak_memory_mb", Float),
    sqlite_with_rowid=False,
)
ADDED_COLUMNS = [
    runs.c[name]
    for name in (
        *(kind.name for kind in KINDS if kind.added_later),
        "numerics",
        "threads",
        "test_ece",
        "chance_accuracy",
        "model_bytes",
        "latency_batch1_ms",
        "latency_batch1024_ms",
        "source_train_seconds",
        "busy",
        "variant",
        "numbers",
        "code_id",
        "context_id",
        "peak_memory_mb",
    )
]
"""The columns of ``runs`` that databases written before them lack (see :mod:`.migrate`)."""

run_results = Table(
    "run_results",
    metadata,
    Column("run_id", String(16), primary_key=True),
    Column("result", Text, nullable=False),
)
"""Each run's whole result as JSON (curve, loader profile, provenance), apart from ``runs``:
a leaderboard scans the narrow ``runs`` rows (a few hundred bytes each, a million of them fit
in memory) and never reads past a result; reports and exports read these by run id."""

blobs = Table(
    "blobs",
    metadata,
    Column("digest", String(16), primary_key=True),
    Column("body", Text, nullable=False),
)
"""What many runs share, stored once: a code identity or a provenance context (JSON)."""

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
    sqlite_with_rowid=False,
)
"""Which run fills each place. On SQLite this table and ``runs`` are stored by primary key
(``WITHOUT ROWID``): a leaderboard walks a suite's places in run id order
(:data:`INDEXES`) and finds each run's row in one B-tree lookup, next to the previous one's,
instead of three scattered ones."""

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

INDEXES = (
    Index("ix_memberships_suite_run", *(memberships.c[n] for n in ("suite", "run_id", "baseline"))),
    Index("ix_runs_numbers", runs.c.numbers),
)
"""A suite's places in run id order, with everything a leaderboard reads of them (the primary
key rides along): the join to ``runs`` then reads that table in order; the backfill of an
older database finds its unfilled rows by ``numbers``."""
RETIRED_INDEXES = ("ix_memberships_suite_run_id", "ix_memberships_run_id")
"""Indexes an earlier benchbench created that today's replace (dropped on upgrade)."""

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

_DERIVED = (
    "data_wait_fraction",
    "threads",
    "source_train_seconds",
    "busy",
    "variant",
    "numbers",
    "code_id",
    "context_id",
    "peak_memory_mb",
)
"""The ``runs`` columns :func:`run_row` derives (from nested fields, or digests); the other
columns are the result's fields of the same name."""
_DIRECT = [c.name for c in runs.columns if c.name not in ("created_at", *_DERIVED)]
NUMBERS = (
    "status",
    "test_accuracy",
    "test_ece",
    "best_val_accuracy",
    "final_val_accuracy",
    "time_to_target_steps",
    "steps",
    "samples_seen",
    "params",
    "chance_accuracy",
    "pretrain_loss",
)
"""What a run measured that does not depend on the machine's speed: a rerun with the same
spec, numerics and thread count repeats it (with every point of the validation curve), and
two stored copies of one run that differ here are a conflict. Times are left out."""
CONTEXT = ("benchbench", "torch", "device", "device_name", "torch_threads", "host", "plugins")
"""The provenance fields a leaderboard's heading sums up (the rest is per run)."""


def canonical(value: Any) -> str:
    """A value's JSON with sorted keys (orjson: an import computes several per run)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def digest(value: Any) -> str:
    """16 hex digits of the SHA-256 of a value's canonical JSON (of the text itself)."""
    text = value if isinstance(value, str) else canonical(value)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def numbers_of(data: Mapping[str, Any]) -> list[Any]:
    """The machine-independent measurements of a result (:data:`NUMBERS` and the curve)."""
    curve = [(p.get("step"), p.get("val_accuracy")) for p in data.get("curve") or ()]
    return [*(data.get(name) for name in NUMBERS), curve]


def run_row(
    data: Mapping[str, Any], created_at: datetime, text: str | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """The ``runs`` row of a result (as a dict): its ranked and grouped columns and its
    digests, with ``result``: the whole as JSON for ``run_results`` (``text`` when the
    caller has it already); and the ``blobs`` it refers to, digest -> JSON."""
    if text is None:
        text = json.dumps(json_safe(dict(data)), sort_keys=True)
        data = orjson.loads(text)  # plain floats, as an import of the exported row reads them
    row = {name: data.get(name) for name in _DIRECT}
    row["optimizer"] = legacy_optimizer(data)["optimizer"]  # stored before it was a kind
    machine, source = data.get("machine") or {}, data.get("source") or {}
    provenance = data.get("provenance") or {}
    code = canonical(data.get("code") or {})
    context = canonical({k: provenance.get(k) for k in CONTEXT})
    code_id, context_id = digest(code), digest(context)
    row.update(
        data_wait_fraction=(data.get("loader") or {}).get("data_wait_fraction"),
        threads=machine.get("threads"),
        busy=machine.get("busy"),
        peak_memory_mb=machine.get("peak_memory_allocated_mb"),
        source_train_seconds=source.get("train_seconds"),
        variant=digest([code, data.get("device"), data.get("data"), data.get("numerics")]),
        numbers=digest(numbers_of(data)),
        code_id=code_id,
        context_id=context_id,
        created_at=created_at,
        result=text,
    )
    return row, {code_id: code, context_id: context}


RUN_COLUMNS = tuple(c.name for c in runs.columns)
"""The ``runs`` columns in table order (the order of a prepared run's values)."""
PreparedRun = tuple[tuple[Any, ...], str, dict[str, str]]
"""A run ready to store: its ``runs`` values in :data:`RUN_COLUMNS` order, its JSON for
``run_results``, and the blobs it refers to (what import workers hand the writer: a tuple
pickles several times faster than a dict)."""


def prepare_run(
    data: Mapping[str, Any], created_at: datetime, text: str | None = None
) -> PreparedRun:
    """:func:`run_row` as a :data:`PreparedRun`."""
    row, shared = run_row(data, created_at, text)
    return tuple(row[name] for name in RUN_COLUMNS), row["result"], shared


def without_result(row: Mapping[str, Any]) -> dict[str, Any]:
    """A :func:`run_row` row as ``runs`` holds it: without the JSON (``run_results`` does)."""
    return {k: v for k, v in row.items() if k != "result"}
