"""Every registered component trains for a few steps, as timm's tests walk its model registry."""

import math

import pytest

from benchbench import Budget
from benchbench.execute import execute, resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager

PM = get_plugin_manager(PluginConfig())
REGISTRY = PM.registry


@pytest.fixture(autouse=True)
def _small_latency_batch(monkeypatch):
    """Smoke only: the batch-1024 latency of a VGG on CIFAR would be most of the test's time
    (test_train checks the measurement itself)."""
    monkeypatch.setattr("benchbench.train.LATENCY_BATCH", 8)


@pytest.mark.parametrize("task", sorted(REGISTRY.entries["task"]))
@pytest.mark.parametrize("arch", sorted(REGISTRY.entries["arch"]))
def test_every_arch_on_every_task(task, arch):
    # transfer tasks train from scratch here: their source models are tested elsewhere
    finetune = "scratch" if REGISTRY.get("task", task).source else "full"
    spec = resolve_spec(
        REGISTRY,
        task=task,
        arch=arch,
        finetune=finetune,
        budget=Budget(steps=3),
        hparams={"batch_size": 32},
    )
    result = execute(spec, PM)
    assert result.status == "ok", result.error
    assert result.steps == 3 and 0.0 <= result.test_accuracy <= 1.0


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (kind, name)
        for kind in ("regularizer", "ssl", "finetune")
        for name in sorted(REGISTRY.entries[kind])
    ],
)
def test_every_other_component_on_digits(kind, name):
    task = "digits-semi" if kind == "ssl" else "digits"  # ssl methods need unlabeled data
    arch = "cnn" if kind == "ssl" else "mlp"  # cpc needs a feature map
    spec = resolve_spec(REGISTRY, task=task, arch=arch, budget=Budget(steps=3), **{kind: name})
    result = execute(spec, PM)
    assert result.status == "ok", result.error
    assert all(math.isfinite(p["val_accuracy"]) for p in result.curve)
