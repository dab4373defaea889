"""Where benchbench keeps data and caches; importable without torch."""

from __future__ import annotations

import os
from pathlib import Path

PathLike = str | Path
"""A path as callers give it: text or a :class:`pathlib.Path`."""
DATA_DIR_ENV = "BENCHBENCH_DATA"
DEFAULT_OUT = Path("benchbench-out")
"""Where ``run``, ``tune`` and ``profile`` write (the results database, leaderboard files,
reports) and the commands that read results look, unless told otherwise."""


def default_data_dir() -> Path:
    """``$BENCHBENCH_DATA``, else ``~/.cache/benchbench``: where tasks read and cache data."""
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "benchbench")


def optional_path(value: PathLike | None) -> Path | None:
    """``value`` as a Path, or None."""
    return None if value is None else Path(value)
