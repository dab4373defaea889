"""What the end-to-end checks compare: the results a command stored, read straight from its
SQLite file, and the numbers of a result that must repeat wherever it ran."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path


def stored(out: Path) -> dict[str, dict]:
    """run id -> stored result, read straight from the SQLite file."""
    path = out / "benchbench.db"
    if not path.exists():
        return {}
    with sqlite3.connect(path, timeout=60) as conn:
        try:
            rows = conn.execute("select run_id, result from run_results").fetchall()
        except sqlite3.OperationalError:  # tables not created yet
            return {}
    return {run_id: json.loads(text) for run_id, text in rows}


def numbers(result: dict) -> tuple:
    """What must repeat exactly, wherever and however often a run ran (timings need not):
    accuracies and the validation curve."""
    curve = tuple((p["step"], p["val_accuracy"]) for p in result["curve"])
    accuracies = (result["final_val_accuracy"], result["best_val_accuracy"])
    return result["status"], result["test_accuracy"], accuracies, curve
