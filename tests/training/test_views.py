"""Test-time augmentation (the ``tta`` loop setting): the views by hand, what is refused,
and what a run with it records."""

from __future__ import annotations

import pytest
import torch

from benchbench import BenchbenchError, Budget
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.training.views import TestTimeViews


def test_the_views_are_airbenchs_mirror_and_translate_by_hand():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(9, 2))
    x = torch.randn(4, 1, 3, 3)
    mirrored = 0.5 * (model(x) + model(x.flip(-1)))
    assert torch.allclose(TestTimeViews(model, 1, mirrors=True)(x), mirrored)
    padded = torch.nn.functional.pad(x, (1, 1, 1, 1), mode="reflect")
    up_left, down_right = padded[..., 0:3, 0:3], padded[..., 2:5, 2:5]
    expected = 0.5 * mirrored + 0.25 * (
        0.5 * (model(up_left) + model(up_left.flip(-1)))
        + 0.5 * (model(down_right) + model(down_right.flip(-1)))
    )
    level2 = TestTimeViews(model, 2, mirrors=True)
    assert torch.allclose(level2(x), expected) and level2.views == 6
    shifts = TestTimeViews(model, 2, mirrors=False)
    assert torch.allclose(shifts(x), 0.5 * model(x) + 0.25 * (model(up_left) + model(down_right)))
    signal = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(5, 2))
    s = torch.randn(3, 1, 5)
    padded = torch.nn.functional.pad(s, (1, 1), mode="reflect")
    expected = 0.5 * signal(s) + 0.25 * (signal(padded[..., :5]) + signal(padded[..., 2:]))
    assert torch.allclose(TestTimeViews(signal, 2, mirrors=False)(s), expected)


def test_mirrors_where_the_task_does_not_flip_and_tabular_inputs_are_refused(registry):
    with pytest.raises(BenchbenchError, match="tta 1 adds mirror images, and task digits's"):
        resolve_spec(registry, task="digits", arch="cnn", hparams={"tta": 1})
    with pytest.raises(BenchbenchError, match="task blobs's inputs are tabular"):
        resolve_spec(registry, task="blobs", arch="mlp", hparams={"tta": 2})
    assert (
        resolve_spec(registry, task="cifar10", arch="cnn", hparams={"tta": 1}).hparams["tta"] == 1
    )


def test_tta_changes_the_run_id_the_scores_and_says_so_in_the_result(pm, data_dir):
    kwargs = dict(task="digits", arch="cnn", budget=Budget(epochs=3))
    plain = resolve_spec(pm.registry, **kwargs)
    viewed = resolve_spec(pm.registry, hparams={"tta": 2}, **kwargs)
    assert plain.run_id != viewed.run_id
    first, second = execute(plain, pm, data_dir), execute(viewed, pm, data_dir)
    assert second.status == "ok" and second.test_accuracy > 0.8
    assert second.machine["evaluated_views"] == 3 and "evaluated_views" not in first.machine
    assert second.test_accuracy != first.test_accuracy
    assert second.steps == first.steps  # the same training, other evaluation
