"""The Python API: everything the ``benchbench`` command does, as functions with keyword
arguments, the same defaults and the same checks, for notebooks and scripts::

    import benchbench as bb

    outcome = bb.run("quick", out="bb-out")          # benchbench run quick --out bb-out
    table = bb.leaderboard("quick", out="bb-out")    # a DataFrame: the rows of --format json
    result = bb.run_one("digits", "mlp", regularizer="mixup", steps=200)   # a RunResult
    tuning = bb.tune("quick", trials=10, out="bb-out")
    bb.report("quick", out="bb-out", to="report.html")
    runs = bb.results(out="bb-out")                  # every stored run as a DataFrame

A problem the caller can fix (an unknown name, a bad value, a missing database) raises
:class:`~benchbench.BenchbenchError` with the one line the command prints; a problem inside
a run is that run's result. Long calls show a progress bar and notes on stderr unless
``progress=False``. Ctrl-C (or SIGTERM) during :func:`~benchbench.run` or :func:`~benchbench.tune`
stops them after
storing what finished and raises :class:`~benchbench.errors.Stopped` (a
``KeyboardInterrupt``); calling again resumes.

Every function that loads plugins takes ``plugins`` (the command's ``-p MODULE``, repeatable;
``no:NAME`` blocks an installed one), and every one that reads data takes ``data_dir``
(``--data-dir``; default ``$BENCHBENCH_DATA`` or ``~/.cache/benchbench``). Arguments are
checked before anything loads (:mod:`benchbench.arguments`), with the sentence the command
prints, naming them as Python writes them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .public import API, lazy_exports

__all__ = sorted(API)

__getattr__ = lazy_exports(__name__, API, "benchbench")


def __dir__() -> list[str]:
    """Every function of the API, imported or not yet."""
    return sorted({*__all__, *globals()})


if TYPE_CHECKING:
    from .authoring.conformance import check_plugin
    from .authoring.scaffold import new_plugin
    from .data.setup import data_status, fetch_data
    from .inventory.describe import describe
    from .inventory.listing import catalog
    from .ranking.leaderboard import leaderboard, leaderboard_text
    from .reporting import report
    from .running.loader_sweep import profile
    from .running.one import run_one
    from .running.session import run
    from .running.verify import verify
    from .storage.files import export, import_results
    from .storage.store import results
    from .tuning.session import tune
