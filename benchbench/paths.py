"""Where benchbench keeps data and caches; importable without torch."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "BENCHBENCH_DATA"
DEFAULT_OUT = Path("benchbench-out")
"""Where ``run``, ``tune`` and ``profile`` write (the results database, leaderboard files,
reports) and the commands that read results look, unless told otherwise."""


def default_data_dir() -> Path:
    """``$BENCHBENCH_DATA``, else ``~/.cache/benchbench``: where tasks read and cache data."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "benchbench")
