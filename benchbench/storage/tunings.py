"""Which tuned hyperparameters each place of a suite ran with (the study's summary)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
from sqlalchemy import delete, select

from ..spec import json_safe
from .base import Database
from .schema import tunings


class Tunings(Database):
    """Recording and reading the tuning of each suite place."""

    def set_tunings(self, suite: str, places: Mapping[tuple[str, str, str], Any]) -> None:
        """Record, for one suite, the tuning summary (a dict, or None for defaults) of each
        (track, task, candidate) place, replacing what the suite held before."""
        rows = [
            {
                "suite": suite,
                "track": track,
                "task": task,
                "candidate": candidate,
                "summary": json.dumps(json_safe(summary), sort_keys=True),
            }
            for (track, task, candidate), summary in places.items()
            if summary is not None
        ]

        def change(conn) -> None:  # type: ignore[no-untyped-def]
            conn.execute(delete(tunings).where(tunings.c.suite == suite))
            if rows:
                conn.execute(tunings.insert(), rows)

        self._write(change, "recording tunings", replaces=True)

    def tunings(self, suite: str | None = None) -> pd.DataFrame:
        """One row per tuned place: suite, track, task, candidate and the summary's fields."""
        query = select(tunings)
        if suite is not None:
            query = query.where(tunings.c.suite == suite)
        rows = self._read(lambda conn: list(conn.execute(query).mappings()), "reading tunings")
        return pd.DataFrame(
            [
                {**{k: v for k, v in row.items() if k != "summary"}, **json.loads(row["summary"])}
                for row in rows
            ]
        )
