"""benchbench's experiment trackers: TensorBoard, MLflow and Weights & Biases, registered
exactly as a third-party package's would be (``--log tensorboard[:DIR]``,
``--log mlflow[:URI]``, ``--log wandb[:PROJECT]``)."""

from __future__ import annotations

import benchbench

from .mlflow import MLflowTracker
from .tensorboard import TensorBoardTracker
from .wandb import WandbTracker


@benchbench.hookimpl
def benchbench_register_trackers(registry):
    registry.add_tracker(TensorBoardTracker)
    registry.add_tracker(MLflowTracker)
    registry.add_tracker(WandbTracker)
