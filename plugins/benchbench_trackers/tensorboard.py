"""``--log tensorboard[:DIR]``: event files TensorBoard (and anything that reads them)
shows, one folder per run under ``DIR/<session>/``."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from benchbench import RunResult, Tracker
from benchbench.tracking.base import TrackedRun, final_metrics

from ._common import BY_SECONDS, point_metrics, safe_name, train_ms


class TensorBoardTracker(Tracker):
    """Each run a folder ``DIR/<session>/<task>-<arch>-...-seed<N>-<run id>`` of event
    files: the eval points' metrics against the step (and validation accuracy against
    training milliseconds), its parameters and tags as text, its final metrics and status
    at its last step. A run trained again starts its folder afresh; the session's files
    are text in ``DIR/<session>/session``."""

    name = "tensorboard"
    summary = "TensorBoard event files, one folder per run"
    module = "tensorboard"
    extra = "tensorboard"
    default_target = "runs"

    def __init__(self, target: str | None, session: Any) -> None:
        super().__init__(target, session)
        self.root = Path(str(self.target)) / safe_name(session.name)
        self._writers: dict[str, Any] = {}
        self._last_step: dict[str, int] = {}

    def _folder(self, run: TrackedRun) -> Path:
        return self.root / safe_name(f"{run.name.replace('/', '-')}-{run.run_id[:12]}")

    def run_started(self, run: TrackedRun) -> None:
        from torch.utils.tensorboard import SummaryWriter

        folder = self._folder(run)
        if folder.exists():  # trained again (resumed, retried): one run, not two
            shutil.rmtree(folder)
        writer = SummaryWriter(log_dir=str(folder))
        rows = [f"| {k} | {v} |" for k, v in {**run.params, **run.tags}.items()]
        writer.add_text("params", "| name | value |\n|---|---|\n" + "\n".join(rows), 0)
        writer.flush()
        self._writers[run.run_id] = writer
        self._last_step[run.run_id] = 0

    def eval_point(self, run: TrackedRun, point: dict[str, Any]) -> None:
        writer = self._writers.get(run.run_id)
        if writer is None:
            return
        step = int(point.get("step") or 0)
        for key, value in point_metrics(point).items():
            writer.add_scalar(key, value, step)
        if "val_accuracy" in point:
            writer.add_scalar(BY_SECONDS, float(point["val_accuracy"]), train_ms(point))
        writer.flush()  # live: TensorBoard sees the point now
        self._last_step[run.run_id] = step

    def run_finished(self, run: TrackedRun, result: RunResult) -> None:
        writer = self._writers.pop(run.run_id, None)
        if writer is None:
            return
        step = max(self._last_step.pop(run.run_id, 0), result.steps)
        for key, value in final_metrics(result).items():
            writer.add_scalar(f"final/{key}", value, step)
        busy = bool((result.machine or {}).get("busy"))
        status = f"{result.status}" + (f": {result.error}" if result.error else "")
        writer.add_text("status", status + (" (timed on busy hardware)" if busy else ""), step)
        writer.close()

    def files(self, paths: list[Path]) -> None:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(log_dir=str(self.root / "session"))
        for path in paths:
            if path.suffix in (".md", ".csv", ".json", ".txt"):
                text = path.read_text()
                writer.add_text(path.name, text if path.suffix == ".md" else f"```\n{text}\n```")
        writer.close()

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
