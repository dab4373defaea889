"""Where benchbench keeps data and caches; importable without torch."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "BENCHBENCH_DATA"


def default_data_dir() -> Path:
    """``$BENCHBENCH_DATA``, else ``~/.cache/benchbench``: where tasks read and cache data."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "benchbench")
