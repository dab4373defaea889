"""The connection every section of the results database shares, and its one way of running a
transaction: committed as a whole, retried while another process holds a lock or the
connection drops, and named in one line when it cannot be done
(:func:`benchbench.storage.database.retrying`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from ..errors import BenchbenchError
from . import database, migrate
from .schema import metadata

_T = TypeVar("_T")


class Database:
    """An open results database. ``writable=False`` opens for reading only (a read-only file
    is then fine). ``patience_seconds`` is how long a transaction keeps retrying a locked or
    unreachable database before it gives up with :class:`~benchbench.BenchbenchError`;
    SQLite statements each wait ``busy_seconds`` for a lock; ``on_wait`` hears of each retry."""

    def __init__(
        self,
        url: str,
        writable: bool = True,
        patience_seconds: float = 600.0,
        busy_seconds: float = database.SQLITE_BUSY_SECONDS,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.display_url = database.display(url)
        self.patience_seconds, self.on_wait = patience_seconds, on_wait
        database.check_sqlite_file(url, writable)
        path = database.sqlite_path(url)
        existed = path is not None and path.exists()
        if path is not None and not existed and not writable:
            raise BenchbenchError(f"cannot open storage {path}: no such database file")
        try:
            self.engine = database.engine(url, busy_seconds)
        except (SQLAlchemyError, ImportError) as exc:
            raise BenchbenchError(
                f"cannot open storage {self.display_url}: {database.reason(exc)}"
            ) from exc
        if existed:
            database.check_integrity(self.engine, url)
        for attempt in range(3):
            try:
                metadata.create_all(self.engine)
                break
            except (SQLAlchemyError, OSError) as exc:
                if attempt < 2 and isinstance(exc, SQLAlchemyError):
                    time.sleep(0.5 * (attempt + 1))  # another process creating the tables
                    continue
                raise BenchbenchError(
                    f"cannot open storage {self.display_url}: {database.reason(exc)}"
                ) from exc
        self._upgrade(url)

    def _upgrade(self, url: str) -> None:
        """Bring a database an earlier benchbench wrote up to today's tables (:mod:`.migrate`):
        once, by whichever process opens it first; one line where it cannot be written."""
        try:
            if not migrate.pending(self.engine):
                return
        except SQLAlchemyError as exc:
            raise BenchbenchError(
                f"cannot read storage {self.display_url}: {database.reason(exc)}"
            ) from exc
        path = database.sqlite_path(url)
        if path is not None and not os.access(path, os.W_OK):
            raise BenchbenchError(
                f"storage {path} was written by an earlier benchbench and must be upgraded "
                "once, but it is read-only: make it writable, or read a copy"
            )
        self._retry(lambda: migrate.migrate(self.engine), "upgrading its tables", replaces=True)

    def _retry(self, action: Callable[[], _T], what: str, replaces: bool = False) -> _T:
        return database.retrying(
            action,
            f"storage {self.display_url}: {what}",
            self.patience_seconds,
            self.on_wait,
            replaces,
        )

    def _read(self, query: Callable[[Connection], _T], what: str) -> _T:
        """``query(connection)`` on a connection of its own."""

        def attempt() -> _T:
            with self.engine.connect() as conn:
                return query(conn)

        return self._retry(attempt, what)

    def _write(self, change: Callable[[Connection], _T], what: str, replaces: bool = False) -> _T:
        """``change(connection)`` in one transaction, committed when it returns.
        ``replaces``: it deletes rows and inserts their new versions (see
        :func:`~benchbench.storage.database.retrying`)."""

        def attempt() -> _T:
            with self.engine.begin() as conn:
                return change(conn)

        return self._retry(attempt, what, replaces)
