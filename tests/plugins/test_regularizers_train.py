"""Every regularizer trains above chance on both built-in tasks within the quick budget, and
repeats exactly for one seed."""

import pytest

from benchbench import Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager

PM = get_plugin_manager(PluginConfig())
NAMES = sorted(PM.registry.entries["regularizer"]) + ["augment+mixup"]
QUICK = Budget(epochs=10)  # the quick suite's budget


def run(task, regularizer, budget, seed=0):
    spec = resolve_spec(
        PM.registry, task=task, arch="mlp", regularizer=regularizer, budget=budget, seed=seed
    )
    return execute(spec, PM)


@pytest.mark.parametrize("regularizer", NAMES)
@pytest.mark.parametrize(("task", "floor"), [("digits", 0.8), ("mnist1d", 0.35)])
def test_trains_well_above_chance(task, floor, regularizer):
    result = run(task, regularizer, QUICK)
    assert result.status == "ok", result.error
    assert result.test_accuracy > floor  # chance is 0.1
    assert 0.0 <= result.test_ece <= 1.0


@pytest.mark.parametrize("regularizer", NAMES)
def test_same_seed_same_numbers(regularizer):
    first, second = (
        run("digits", regularizer, Budget(epochs=2, eval_every=0.5), seed=5) for _ in range(2)
    )
    assert [p["val_accuracy"] for p in first.curve] == [p["val_accuracy"] for p in second.curve]
    assert (first.test_accuracy, first.test_ece) == (second.test_accuracy, second.test_ece)
