"""Suites and their places: which run fills which (suite, track, task, candidate, seed), and
the rows a leaderboard ranks."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import delete, insert, select

from ..errors import BenchbenchError
from .base import Database
from .schema import memberships, runs, suites


class Places(Database):
    """Recording the suites that were planned and reading their places back."""

    def set_places(self, suite: str, name: str, source: str, planned: Iterable[Any]) -> None:
        """Record a suite (its key, display name and source) and the places of its planned
        runs, replacing every place the suite held before: a candidate, task or seed taken
        out of the suite file leaves its leaderboard."""
        rows = [
            {
                "suite": suite,
                "track": p.track,
                "task": p.task,
                "candidate": p.candidate,
                "seed": p.seed,
                "baseline": p.baseline,
                "run_id": p.spec.run_id,
            }
            for p in planned
        ]
        now = datetime.now(timezone.utc)

        def change(conn) -> None:  # type: ignore[no-untyped-def]
            conn.execute(delete(memberships).where(memberships.c.suite == suite))
            conn.execute(delete(suites).where(suites.c.suite == suite))
            conn.execute(
                insert(suites).values(suite=suite, name=name, source=source, planned_at=now)
            )
            if rows:
                conn.execute(memberships.insert(), rows)

        self._write(change, f"recording suite {name}", replaces=True)

    def suite_names(self) -> dict[str, tuple[str, str]]:
        """Every suite with places: key -> (display name, source). Suites recorded before
        suites had keys are their own name and source."""

        def query(conn) -> dict[str, tuple[str, str]]:  # type: ignore[no-untyped-def]
            keys = set(conn.scalars(select(memberships.c.suite).distinct()))
            known = {row.suite: (row.name, row.source) for row in conn.execute(select(suites))}
            return {key: known.get(key, (key, key)) for key in sorted(keys)}

        return self._read(query, "reading suites")

    def suites(self) -> list[str]:
        """The keys of every suite with places."""
        return list(self.suite_names())

    def find_suite(self, wanted: str) -> str:
        """The key of the suite ``wanted`` names: a key, a file path or a display name; one
        clear error if none or several match."""
        known = self.suite_names()
        if wanted in known:
            return wanted
        path = Path(wanted)
        if path.is_file():
            from ..running.suite import file_key

            key = file_key(path)
            if key in known:
                return key
        named = [key for key, (name, _) in known.items() if name == wanted]
        if len(named) == 1:
            return named[0]
        if named:
            sources = ", ".join(known[k][1] for k in named)
            raise BenchbenchError(
                f"several suites are named {wanted!r} ({sources}); pass the suite file's path"
            )
        names = sorted({name for name, _ in known.values()})
        close = difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise BenchbenchError(
            f"no suite {wanted!r} in {self.display_url}{hint} "
            f"(stored suites: {', '.join(names) or 'none'})"
        )

    def only_suite(self, wanted: str | None) -> str:
        """The key of the suite ``wanted`` names, or of the only suite stored when it is
        None; one clear line otherwise."""
        if wanted:
            return self.find_suite(wanted)
        names = self.suite_names()
        if len(names) != 1:
            listing = ", ".join(n for n, _ in names.values()) or "none"
            raise BenchbenchError(f"name the suite to report on (stored suites: {listing})")
        return next(iter(names))

    def frame(self, suite: str | None = None) -> pd.DataFrame:
        """Suite memberships joined with their runs, one row per place: the membership
        columns (``suite`` is the key), ``suite_name``, every scalar field of the stored
        result, ``data_wait_fraction``, ``source_train_seconds``, ``busy`` and ``code`` (the
        run's code identity as JSON).

        Metrics are read from the stored JSON, so a metric added to results later needs no
        change of the table schema."""
        query = select(memberships, runs.c.result)
        query = query.join_from(memberships, runs, memberships.c.run_id == runs.c.run_id)
        if suite is not None:
            query = query.where(memberships.c.suite == suite)
        found = self._read(
            lambda conn: [dict(row) for row in conn.execute(query).mappings()],
            "reading the leaderboard's runs",
        )
        names = self.suite_names()
        rows = []
        for row in found:
            result = json.loads(row.pop("result"))
            scalars = {k: v for k, v in result.items() if not isinstance(v, dict | list)}
            scalars["data_wait_fraction"] = (result.get("loader") or {}).get("data_wait_fraction")
            scalars["source_train_seconds"] = (result.get("source") or {}).get("train_seconds")
            scalars["busy"] = (result.get("machine") or {}).get("busy")
            scalars["code"] = json.dumps(result.get("code") or {}, sort_keys=True)
            row["suite_name"] = names.get(row["suite"], (row["suite"], ""))[0]
            rows.append({**scalars, **row})
        return pd.DataFrame(rows)
