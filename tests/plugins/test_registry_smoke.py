"""Every built-in component trains for a few steps, as timm's tests walk its model registry.

Only benchbench's own components, paired only where the architecture accepts the task's
inputs: a plugin installed beside benchbench (a tabular task, say) must not fail these tests.
"""

import math

import pytest

from benchbench import Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager

PM = get_plugin_manager(PluginConfig())
REGISTRY = PM.registry


@pytest.fixture(autouse=True)
def _small_latency_batch(monkeypatch):
    """Smoke only: the batch-1024 latency of a VGG on CIFAR would be most of the test's time
    (test_train checks the measurement itself)."""
    monkeypatch.setattr("benchbench.training.recording.LATENCY_BATCH", 8)


def _builtin(kind):
    return sorted(
        n for n, e in REGISTRY.entries[kind].items() if e.origin.distribution == "benchbench"
    )


def _variant(task):
    """Whether a task subclasses another built-in task (``cifar10-semi`` of ``cifar10``): it
    reads the same files into the same inputs, so what an architecture makes of those is
    tested on the parent, and the variant on one architecture."""
    cls = REGISTRY.get("task", task)
    parents = {REGISTRY.get("task", other) for other in _builtin("task") if other != task}
    return any(issubclass(cls, parent) for parent in parents)


BASES = [task for task in _builtin("task") if not _variant(task)]
VARIANTS = [task for task in _builtin("task") if _variant(task)]
PAIRS = [
    (arch, task)
    for arch in _builtin("arch")
    for task in BASES
    if REGISTRY.get("arch", arch).accepts_input(REGISTRY.get("task", task).modality)
] + [("cnn", task) for task in VARIANTS]


def test_pairs_skip_only_what_an_arch_refuses():
    # every built-in arch runs on every base task (but airbench, images only: not on the
    # sequence tasks), and every variant runs on one
    sequences = [t for t in BASES if REGISTRY.get("task", t).modality == "sequence"]
    assert len(PAIRS) == len(_builtin("arch")) * len(BASES) - len(sequences) + len(VARIANTS)
    assert {"mnist1d", "cifar10", "svhn", "stl10"} <= set(BASES)
    assert {"cifar10-semi", "svhn-extra", "stl10-semi", "digits-source"} <= set(VARIANTS)


@pytest.mark.parametrize(("arch", "task"), PAIRS)
def test_every_arch_on_every_task(task, arch):
    # transfer tasks train from scratch here: their source models are tested elsewhere
    cls = REGISTRY.get("task", task)
    finetune = "scratch" if cls.source else "full"
    hparams = {"batch_size": 32}
    if "labels_per_class" in cls.defaults:  # the tiny fakes hold a few examples per class
        hparams[f"{task}.labels_per_class"] = 1
    spec = resolve_spec(
        REGISTRY,
        task=task,
        arch=arch,
        finetune=finetune,
        budget=Budget(steps=3),
        hparams=hparams,
    )
    result = execute(spec, PM)
    assert result.status == "ok", result.error
    assert result.steps == 3 and 0.0 <= result.test_accuracy <= 1.0


@pytest.mark.parametrize(
    ("kind", "name"),
    [
        (kind, name)
        for kind in ("regularizer", "ssl", "finetune", "optimizer")
        for name in _builtin(kind)
    ],
)
def test_every_other_component_on_digits(kind, name):
    task = "digits-semi" if kind == "ssl" else "digits"  # ssl methods need unlabeled data
    arch = "cnn" if kind == "ssl" else "mlp"  # cpc needs a feature map
    spec = resolve_spec(REGISTRY, task=task, arch=arch, budget=Budget(steps=3), **{kind: name})
    result = execute(spec, PM)
    assert result.status == "ok", result.error
    assert all(math.isfinite(p["val_accuracy"]) for p in result.curve)
