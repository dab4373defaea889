"""Where benchbench keeps data and caches, and the environment that tells processes started
from here; importable without torch."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
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


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """``values`` set in this process's environment (and so in the processes it starts
    meanwhile) inside the ``with`` block; each variable put back as it was after it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def data_folder(data_dir: PathLike | None) -> AbstractContextManager[None]:
    """Make ``data_dir`` (when given) the data folder of this process and of the processes
    it starts meanwhile, as ``$BENCHBENCH_DATA``; put the previous value back after."""
    return environment({} if data_dir is None else {DATA_DIR_ENV: str(Path(data_dir).resolve())})


def optional_path(value: PathLike | None) -> Path | None:
    """``value`` as a Path, or None."""
    return None if value is None else Path(value)


_SAFE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._+-")
_MAX_NAME = 100


def file_name(name: str) -> str:
    """``name`` (a suite's, a task's: from a suite file or an imported result set, so any
    text) as one file name that stays in its folder: characters other than letters, digits
    and ``._+-`` become ``_``, no leading dot, at most 100 characters; a name that had to
    change gets a short hash of the original, so two names never share a file."""
    import hashlib

    safe = "".join(c if c in _SAFE else "_" for c in name).lstrip(".")[:_MAX_NAME]
    if safe == name and safe:
        return safe
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{safe[: _MAX_NAME - 9] or 'unnamed'}-{digest}"
