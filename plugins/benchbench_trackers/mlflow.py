"""``--log mlflow[:TRACKING_URI]``: each run an MLflow run, nested under one run for the
session, in the experiment ``benchbench/<session>``."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any

from benchbench import RunResult, Tracker
from benchbench.tracking.base import TrackedRun, final_metrics

from ._common import BY_SECONDS, point_metrics, train_ms

RUN_ID_TAG = "benchbench.run_id"
MAX_PARAM = 6000  # MLflow's limit on a parameter value's length (older servers: 500)


class MLflowTracker(Tracker):
    """Talks to the tracking server (or ``sqlite:///`` / file store) ``TARGET`` names
    (default: ``$MLFLOW_TRACKING_URI``, else MLflow's own default) through
    ``MlflowClient``. A run's parameters and tags on start; its eval points as metric
    histories (against the step, and validation accuracy against training milliseconds)
    as it trains; its final metrics, status tags and MLflow status (``FINISHED``, or
    ``FAILED`` for a failed, diverged or timed-out run, ``KILLED`` for a pruned trial) at
    its end. A run trained again
    replaces its earlier MLflow run. The session's run holds the suite's leaderboard files
    as artifacts. Requests are tried once, with a short timeout: a server that is gone
    costs a warning, not minutes of retries."""

    name = "mlflow"
    summary = "MLflow runs (nested under the suite's or tuning's run), live metric histories"
    module = "mlflow"
    extra = "mlflow"

    def __init__(self, target: str | None, session: Any) -> None:
        super().__init__(target, session)
        self._client: Any = None
        self._experiment: str | None = None
        self._parent: str | None = None
        self._runs: dict[str, str] = {}

    def _connect(self) -> Any:
        if self._client is None:
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
            os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
            for noisy in ("mlflow", "alembic"):  # table creation and migration notes
                logging.getLogger(noisy).setLevel(logging.WARNING)
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=self.target)
            name = f"benchbench/{self.session.name}"
            found = client.get_experiment_by_name(name)
            self._experiment = found.experiment_id if found else client.create_experiment(name)
            parent = client.create_run(
                self._experiment,
                run_name=f"{self.session.kind} {self.session.name}",
                tags={"benchbench.session": self.session.kind},
            )
            self._parent = parent.info.run_id
            self._log_params(client, self._parent, self.session.params)
            self._client = client
        return self._client

    @staticmethod
    def _log_params(client: Any, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(str(k), str(v)[:MAX_PARAM]) for k, v in params.items()]
        for i in range(0, len(items), 100):
            client.log_batch(run_id, params=items[i : i + 100])

    def run_started(self, run: TrackedRun) -> None:
        client = self._connect()
        earlier = client.search_runs(
            [self._experiment], filter_string=f"tags.`{RUN_ID_TAG}` = '{run.run_id}'"
        )
        for old in earlier:  # trained again (resumed, retried): one run, not two
            client.delete_run(old.info.run_id)
        created = client.create_run(
            self._experiment,
            run_name=run.name,
            tags={**run.tags, "mlflow.parentRunId": self._parent},
        )
        self._runs[run.run_id] = created.info.run_id
        self._log_params(client, created.info.run_id, run.params)

    def eval_point(self, run: TrackedRun, point: dict[str, Any]) -> None:
        from mlflow.entities import Metric

        mlflow_id = self._runs.get(run.run_id)
        if mlflow_id is None:
            return
        now, step = int(time.time() * 1000), int(point.get("step") or 0)
        metrics = [Metric(k, v, now, step) for k, v in point_metrics(point).items()]
        if "val_accuracy" in point:
            metrics.append(Metric(BY_SECONDS, float(point["val_accuracy"]), now, train_ms(point)))
        self._client.log_batch(mlflow_id, metrics=metrics)

    def run_finished(self, run: TrackedRun, result: RunResult) -> None:
        from mlflow.entities import Metric

        mlflow_id = self._runs.pop(run.run_id, None)
        if mlflow_id is None:
            return
        client, now = self._client, int(time.time() * 1000)
        metrics = [Metric(k, v, now, result.steps) for k, v in final_metrics(result).items()]
        client.log_batch(mlflow_id, metrics=metrics)
        client.set_tag(mlflow_id, "benchbench.status", result.status)
        client.set_tag(mlflow_id, "benchbench.busy", str(bool((result.machine or {}).get("busy"))))
        if result.error:
            client.set_tag(mlflow_id, "benchbench.error", result.error[:5000])
        pruned = result.error == "pruned" and result.error_component == "tuning"
        status = "FINISHED" if result.status == "ok" else "KILLED" if pruned else "FAILED"
        client.set_terminated(mlflow_id, status)

    def files(self, paths: list[Path]) -> None:
        client = self._connect()
        for path in paths:
            client.log_artifact(self._parent, str(path))

    def close(self) -> None:
        if self._client is None:
            return
        for mlflow_id in self._runs.values():  # handed out, never finished (stopped)
            self._client.set_terminated(mlflow_id, "KILLED")
        self._runs.clear()
        self._client.set_terminated(self._parent, "FINISHED")
