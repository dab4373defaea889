"""Opening the results database safely: URLs with their credentials masked, SQLite files
checked before use, and transient errors (a lock held by another process, a dropped
connection) retried instead of losing work.

The results store and Optuna's studies share one database, so both open it through here.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    IntegrityError,
    OperationalError,
    SQLAlchemyError,
)

from ..errors import BenchbenchError, one_line
from ..phrasing import option
from . import median

SQLITE_BUSY_SECONDS = 60.0
"""How long one SQLite statement waits for another process's lock (Optuna's storage here
waits as long)."""

_SQLITE_HEADER = b"SQLite format 3\x00"
_WITH_SCHEME = re.compile(r"([A-Za-z][\w+.-]*://[^:/@\s'\"]*:)([^@\s'\"]+)(@)")
_WITHOUT_SCHEME = re.compile(r"(^|[\s'\"(])([^:/@\s'\"]+:)([^@\s'\"/]+)(@)")
_T = TypeVar("_T")


def mask_credentials(message: str) -> str:
    """``message`` with every password of a URL-like ``user:password@host`` replaced by
    ``***``, with or without a scheme, so no error ever prints a password."""
    message = _WITH_SCHEME.sub(r"\1***\3", message)
    return _WITHOUT_SCHEME.sub(r"\1\2***\4", message)


def parse_url(url: str) -> Any:
    """The SQLAlchemy URL object, or one clear error (the URL shown with its password
    masked)."""
    try:
        parsed = make_url(url)
        _ = parsed.port  # a non-numeric port fails here, not later
    except (ArgumentError, ValueError) as exc:
        raise BenchbenchError(
            f"storage URL {mask_credentials(url)!r} is not a database URL "
            "(e.g. sqlite:///out/benchbench.db or postgresql+psycopg://user@host:5432/db)"
        ) from exc
    return parsed


def display(url: str) -> str:
    """The URL as it may be shown: password hidden."""
    return parse_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL, or None (another database, or SQLite in memory)."""
    parsed = parse_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


_CREATION_SECONDS = 3.0
"""How long an empty database file is given to become one (another process creating it)."""


def _header(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(len(_SQLITE_HEADER))
    except OSError as exc:
        raise BenchbenchError(f"cannot read storage {path} ({exc.strerror})") from exc


def check_sqlite_file(url: str, writable: bool) -> None:
    """Refuse, in one line, an SQLite file that cannot be a usable database: empty (a
    zero-byte file would silently become a new database), not SQLite, or read-only when
    results are to be written. A missing file is fine (it is created)."""
    path = sqlite_path(url)
    if path is None or not path.exists():
        return
    fix = f"move it away, or point {_elsewhere()}"
    if path.is_dir():
        raise BenchbenchError(f"storage {path} is a folder, not a database file")
    header = _header(path)
    started = time.monotonic()
    fresh = time.time() - path.stat().st_mtime < _CREATION_SECONDS
    while not header and fresh and time.monotonic() - started < _CREATION_SECONDS:
        # another process has just created it: SQLite writes the header at its first commit
        time.sleep(0.1)
        header = _header(path)
    if not header:
        raise BenchbenchError(f"storage {path} is an empty file (0 bytes), not a database; {fix}")
    if header != _SQLITE_HEADER:
        raise BenchbenchError(f"storage {path} is not an SQLite database; {fix}")
    if writable and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
        raise BenchbenchError(
            f"storage {path} is read-only (results cannot be written); make it writable or "
            f"point {_elsewhere()}"
        )


def engine(url: str, busy_seconds: float = SQLITE_BUSY_SECONDS) -> Engine:
    """An engine whose SQLite connections wait ``busy_seconds`` for a lock and know the
    median aggregate (:mod:`.median`)."""
    parsed = parse_url(url)
    kwargs: dict[str, Any] = {}
    sqlite = parsed.drivername.startswith("sqlite")
    if sqlite:
        kwargs["connect_args"] = {"timeout": busy_seconds}
    else:
        kwargs["pool_pre_ping"] = True  # a connection the server dropped is replaced
    made = create_engine(url, **kwargs)
    if sqlite:
        event.listen(made, "connect", median.register)
    return made


CHECKED_BYTES = 256 * 2**20
"""SQLite files up to this size are checked page by page on open (``quick_check`` reads the
whole file: 31 s for a million stored runs); a larger file's damage is named in one line
where a query meets it (:func:`reason`)."""


def check_integrity(db: Engine, url: str) -> None:
    """SQLite's ``quick_check`` on files up to :data:`CHECKED_BYTES`: a file with damaged
    pages is named here, in one line, rather than failing half-way through a suite."""
    path = sqlite_path(url)
    if not db.dialect.name == "sqlite" or path is None:
        return
    if path.exists() and path.stat().st_size > CHECKED_BYTES:
        return
    try:
        with db.connect() as conn:
            verdict = conn.execute(text("PRAGMA quick_check")).scalar()
    except SQLAlchemyError as exc:
        raise BenchbenchError(f"storage {display(url)} is unreadable: {reason(exc)}") from exc
    if verdict != "ok":
        raise BenchbenchError(
            f"storage {display(url)} is corrupt ({one_line(str(verdict), 120)}); "
            f"restore it from a copy, or point {_elsewhere()}"
        )


def reason(exc: BaseException) -> str:
    """The database's own words for an error, on one line, credentials masked."""
    text_ = str(getattr(exc, "orig", None) or exc)
    return mask_credentials(one_line(text_))[:300]


def is_transient(exc: BaseException) -> bool:
    """A lock held by another process, or a connection that dropped: worth retrying."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    words = reason(exc).lower()
    return any(
        w in words
        for w in ("locked", "busy", "could not connect", "connection", "server closed", "timeout")
    )


_CONFLICT_RETRIES = 5


def retrying(
    action: Callable[[], _T],
    what: str,
    patience_seconds: float,
    on_wait: Callable[[str], None] | None = None,
    replaces: bool = False,
) -> _T:
    """Call ``action`` until it succeeds or ``patience_seconds`` pass, retrying transient
    errors with a growing pause (0.5 s doubling to 15 s); any other error, or the last
    transient one, becomes one :class:`~benchbench.BenchbenchError` line naming ``what``.

    ``replaces``: ``action`` deletes rows and inserts their new versions. Two processes doing
    that at once under PostgreSQL's read-committed isolation both delete nothing and the
    second insert collides with the first's; its retry deletes those rows and inserts again,
    so the later process wins, as it would have one after the other."""
    deadline = time.monotonic() + patience_seconds
    pause = 0.5
    conflicts = 0
    while True:
        try:
            return action()
        except IntegrityError as exc:
            conflicts += 1
            if not replaces or conflicts > _CONFLICT_RETRIES:
                raise BenchbenchError(f"{what}: {reason(exc)}") from exc
            time.sleep(0.05 * conflicts)
        except SQLAlchemyError as exc:
            if not is_transient(exc) or time.monotonic() + pause > deadline:
                raise BenchbenchError(f"{what}: {reason(exc)}") from exc
            if on_wait is not None:
                on_wait(f"{what}: {reason(exc)}; retrying in {pause:.0f} s")
            time.sleep(pause)
            pause = min(15.0, pause * 2)


def _elsewhere() -> str:
    """``--out or --storage elsewhere``, in the caller's words."""
    return f"{option('out')} or {option('storage')} elsewhere"
