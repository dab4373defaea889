"""The results database: SQLAlchemy Core, SQLite by default, any SQLAlchemy URL else.

:class:`Store` is one connection with a section per table group, each a class of its own over
the one transaction helper of :class:`~.base.Database`: :class:`~.runs.Runs` (results),
:class:`~.places.Places` (suites and the places their runs fill), :class:`~.tunings.Tunings`,
:class:`~.claims.Claims` (who trains what now) and :class:`~.merge.Merge` (result sets out
and in). The tables are in :mod:`.schema`.

Every result is committed as soon as it arrives: an interrupted suite loses nothing it
finished, and a rerun skips it. Locks held by other processes are waited for and transient
errors retried (:mod:`.database`); a database that cannot be used is named in one line.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd

from ..arguments import checked
from ..errors import BenchbenchError
from ..paths import DEFAULT_OUT, PathLike
from ..phrasing import either, option
from .claims import Claims
from .merge import Merge
from .places import Places
from .runs import Runs
from .tunings import Tunings


class Store(Runs, Places, Tunings, Claims, Merge):
    """Results, suites and their places, tunings and claims in one database (see
    :class:`~.base.Database` for the arguments)."""


def default_url(out_dir: Path) -> str:
    """``sqlite:///<out>/benchbench.db``."""
    return f"sqlite:///{Path(out_dir).resolve() / 'benchbench.db'}"


def storage_url(out: Path, storage: str | None) -> str:
    """The database ``storage`` names, else the one in the output folder ``out``."""
    return storage or default_url(out)


def prepare_out(out: Path) -> Path:
    """The output folder, created and checked writable (one clear line if it is not)."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        # a probe of its own: processes sharing one folder must not unlink each other's
        with tempfile.TemporaryFile(dir=out, prefix=".benchbench-write-test-"):
            pass
    except OSError as exc:
        raise BenchbenchError(
            f"output folder {out} is not writable ({exc.strerror or exc}); "
            f"choose another with {option('out')}"
        ) from exc
    return out


def open_results(out: Path, storage: str | None) -> Store:
    """The results database of ``out`` or ``storage``, for reading; one clear line if
    ``out`` holds none."""
    if storage is None and not (Path(out) / "benchbench.db").exists():
        raise BenchbenchError(
            f"no results database in {out}: pass the {option('out')} folder of "
            f"{either('benchbench run', 'bb.run')} (or {option('storage')})"
        )
    return Store(storage_url(Path(out), storage), writable=False)


@checked()
def results(
    *,
    out: PathLike = DEFAULT_OUT,
    storage: str | None = None,
    suite: str | None = None,
) -> pd.DataFrame:
    """Every run stored in the database of ``out`` (or ``storage``) as a DataFrame, one row
    per run id: each field of its :class:`~benchbench.RunResult`
    (:data:`~benchbench.spec.RESULT_FIELDS` says each; ``curve``, ``loader``, ``machine``,
    ``code`` and ``provenance`` as Python objects).

    With ``suite``, one row per place of that suite instead, led by its ``suite``,
    ``track`` and ``candidate`` (a run that fills places in two tracks, such as a shared
    baseline, has a row in each): group by those to compare as the leaderboard does."""
    from ..spec import RunResult

    store = open_results(Path(out), storage)
    columns = list(RunResult.__dataclass_fields__)
    if not suite:
        return pd.DataFrame([r.to_dict() for r in store.results(None)], columns=columns)
    places = store.frame(store.find_suite(suite))
    if places.empty:
        return pd.DataFrame(columns=["suite", "track", "candidate", *columns])
    runs = pd.DataFrame([r.to_dict() for r in store.results(set(places["run_id"]))])
    places = places[["suite_name", "track", "candidate", "run_id"]].rename(
        columns={"suite_name": "suite"}
    )
    return places.merge(runs, on="run_id", how="inner")[["suite", "track", "candidate", *columns]]
