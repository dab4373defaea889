"""A test plugin that proves eval points reach the driver's trackers while runs train: its
tracker (in the driver) marks every point it gets in a folder; its eval-point hook (in the
worker that trains) waits at each point for the mark of the point before, and records
whether it came. The folder is ``$BB_LIVE_DIR``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import benchbench


def _mark(run_id: str, step: int) -> Path:
    return Path(os.environ["BB_LIVE_DIR"]) / f"{run_id}-{step}"


class LiveTracker(benchbench.Tracker):
    name = "live"
    summary = "marks each eval point it receives (tests only)"

    def eval_point(self, run, point):
        _mark(run.run_id, point["step"]).touch()

    def run_finished(self, run, result):
        (Path(os.environ["BB_LIVE_DIR"]) / f"{run.run_id}-finished").touch()


@benchbench.hookimpl
def benchbench_register_trackers(registry):
    registry.add_tracker(LiveTracker)


_previous: dict[str, int] = {}


@benchbench.hookimpl
def benchbench_eval_point(spec, point):
    """From the second point of a run on: wait for the driver's mark of the one before
    (sent after this hook returned, while the run went on training)."""
    before = _previous.get(spec.run_id)
    _previous[spec.run_id] = point["step"]
    if before is None:
        return
    mark, deadline = _mark(spec.run_id, before), time.monotonic() + 60
    while not mark.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    seen = "seen" if mark.exists() else "missed"
    (Path(os.environ["BB_LIVE_DIR"]) / f"{spec.run_id}-{before}.{seen}").touch()
