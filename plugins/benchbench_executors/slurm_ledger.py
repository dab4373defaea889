"""The ledger of a Slurm executor's jobs: each job written down in ``OUT/slurm/ledger/RUN_ID.json``
as soon as Slurm has taken it, so a driver killed and started again picks up its jobs
(running, or finished with their result waiting) instead of submitting them twice."""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


@dataclass(frozen=True)
class Written:
    """A job the ledger holds for a run: its Slurm id, attempt and time limit (minutes)."""

    job: str
    attempt: int
    minutes: int


class Ledger:
    """The jobs out on the cluster for the runs of one output folder, by run id."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def _file(self, run_id: str) -> Path | None:
        return self.folder / f"{run_id}.json" if _SAFE_NAME.fullmatch(run_id) else None

    def read(self, run_id: str) -> Written | None:
        """The job a driver submitted for ``run_id`` and did not see end, if any."""
        path = self._file(run_id)
        if path is None or not path.is_file():
            return None
        try:
            record = json.loads(path.read_text())
            return Written(
                str(record["job"]), int(record["attempt"]), int(record.get("minutes", 0))
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def remember(self, run_id: str, slurm_id: str, attempt: int, minutes: int) -> None:
        """Write down the job Slurm took for ``run_id`` (atomically: a reader never sees
        half a record)."""
        path = self._file(run_id)
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}")
        record = {"job": slurm_id, "attempt": attempt, "minutes": minutes, "at": time.time()}
        temporary.write_text(json.dumps(record))
        temporary.replace(path)

    def forget(self, run_id: str) -> None:
        """The run's job came back (or was cancelled): nothing to pick up any more."""
        path = self._file(run_id)
        if path is not None:
            path.unlink(missing_ok=True)
