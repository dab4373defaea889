"""Fingerprints of a task's data files, for run identity.

A task that reads files names them (``Task.data_files``); the fingerprint is a SHA-256 over
their names relative to the data folder (files elsewhere, a user's own data: relative to the
folder that holds them all, so the same data in another place is the same data) and the
SHA-256 of each one's content (``missing`` for a file that is not there). Content, not
modification times, so the same files give the same runs on every machine. Hashing CIFAR-10
takes a second or so, so each file's hash is cached in ``DATA/.fingerprints.json`` under its
size, modification time, inode and status-change time, and computed again when any of them
changes: ``cp -p``, ``rsync -t`` or ``tar x`` keep a changed file's size and modification
time, but no user can set the status-change time, and a file replaced by another has a new
inode. Entries of files gone are dropped whenever the cache is written.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

CACHE_NAME = ".fingerprints.json"
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """SHA-256 of a file's content."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fingerprint(files: Sequence[Path], data_dir: Path) -> str | None:
    """16 hex digits identifying ``files`` (as found under ``data_dir``) by content; None
    when there are no files."""
    if not files:
        return None
    data_dir = Path(data_dir)
    cache_path = data_dir / CACHE_NAME
    cache = _read_cache(cache_path)
    changed = False
    parts = []
    paths = sorted(Path(f) for f in files)
    outside = [p for p in paths if not p.is_relative_to(data_dir)]
    base = Path(os.path.commonpath([str(p.parent) for p in outside])) if outside else data_dir
    for path in paths:
        name = (path.relative_to(data_dir if path.is_relative_to(data_dir) else base)).as_posix()
        try:
            stat = path.stat()
            key = str(path.resolve())
            stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]
            cached = cache.get(key)
            if cached and cached[:-1] == stamp:
                digest = cached[-1]
            else:
                digest = file_digest(path)
                cache[key] = [*stamp, digest]
                changed = True
        except OSError:
            digest = "missing"
        parts.append(f"{name}:{digest}")
    if changed:
        _write_cache(cache_path, {k: v for k, v in cache.items() if os.path.isfile(k)})
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _read_cache(path: Path) -> dict[str, list]:
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return cache if isinstance(cache, dict) else {}


def _write_cache(path: Path, cache: dict[str, list]) -> None:
    """Atomically; a data folder we cannot write to just means hashing again next time."""
    partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    try:
        partial.write_text(json.dumps(cache, sort_keys=True))
        os.replace(partial, path)
    except OSError:
        partial.unlink(missing_ok=True)
