"""``--log wandb[:PROJECT]``: each run a Weights & Biases run, grouped by session."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchbench import RunResult, Tracker
from benchbench.tracking.base import TrackedRun, final_metrics

from ._common import point_metrics


class WandbTracker(Tracker):
    """Each run a W&B run in project ``PROJECT`` (default ``benchbench``), grouped under
    the session's name (W&B's group: a suite, a tuning), with the run id as its W&B id (a
    run trained again is the same W&B run), its parameters and tags as config, its eval
    points as history against the step (with ``train_seconds`` beside them, to plot
    against time), and its final metrics and status in the summary; a run that did not
    end ok finishes with exit code 1. The session's files are saved in a run of their own.
    W&B's own settings apply: ``WANDB_MODE=offline`` writes run folders to sync later,
    ``WANDB_DIR`` where they go; online it needs ``wandb login`` (or ``WANDB_API_KEY``)."""

    name = "wandb"
    summary = "Weights & Biases runs grouped by suite or tuning, live history"
    module = "wandb"
    extra = "wandb"
    default_target = "benchbench"

    def __init__(self, target: str | None, session: Any) -> None:
        super().__init__(target, session)
        self._runs: dict[str, Any] = {}

    def _init(self, **options: Any) -> Any:
        import wandb

        return wandb.init(
            project=str(self.target),
            group=self.session.name,
            job_type=self.session.kind,
            reinit="create_new",  # one W&B run per benchbench run, several at once
            settings=wandb.Settings(silent=True, console="off", x_disable_stats=True),
            **options,
        )

    def run_started(self, run: TrackedRun) -> None:
        labels = ("task", "track", "candidate", "suite", "study")
        self._runs[run.run_id] = self._init(
            id=run.run_id,
            name=run.name,
            config={**run.params, **run.tags},
            tags=[
                run.tags[f"benchbench.{k}"][:64] for k in labels if f"benchbench.{k}" in run.tags
            ],
            resume="allow",
        )

    def eval_point(self, run: TrackedRun, point: dict[str, Any]) -> None:
        handle = self._runs.get(run.run_id)
        if handle is None:
            return
        values = point_metrics(point)
        values["train_seconds"] = float(point.get("train_seconds") or 0.0)
        handle.log(values, step=int(point.get("step") or 0))

    def run_finished(self, run: TrackedRun, result: RunResult) -> None:
        handle = self._runs.pop(run.run_id, None)
        if handle is None:
            return
        handle.summary.update(
            {
                **final_metrics(result),
                "status": result.status,
                "busy": bool((result.machine or {}).get("busy")),
                **({"error": result.error} if result.error else {}),
            }
        )
        handle.finish(exit_code=0 if result.status == "ok" else 1)

    def files(self, paths: list[Path]) -> None:
        handle = self._init(name=f"{self.session.kind} {self.session.name}")
        for path in paths:
            handle.save(str(path), base_path=str(Path(path).parent), policy="now")
        handle.finish()

    def close(self) -> None:
        for handle in self._runs.values():  # handed out, never finished (stopped)
            handle.finish(exit_code=1)
        self._runs.clear()
