"""Semi-supervised losses against hand computations, the label-scarce tasks, and every
method training above chance and repeating exactly."""

import math

import pytest
import torch
from benchbench_ssl.losses import confidence_mask, fixmatch_loss, pseudo_label_loss, ramp, uda_loss

from benchbench import Budget
from benchbench.execute import execute, resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager

PM = get_plugin_manager(PluginConfig())
METHODS = ["supervised", "pseudo-label", "uda", "fixmatch"]


def test_pseudo_label_mask_at_its_threshold():
    probs = torch.tensor([[0.96, 0.04], [0.95, 0.05], [0.94, 0.06], [0.5, 0.5]])
    assert confidence_mask(probs, 0.95).tolist() == [1.0, 1.0, 0.0, 0.0]
    logits = probs.log()  # softmax(log p) = p
    expected = (-math.log(0.96) - math.log(0.95)) / 4  # masked rows count in the mean
    assert pseudo_label_loss(logits, 0.95).item() == pytest.approx(expected, rel=1e-5)


def test_fixmatch_loss_by_hand():
    weak = torch.tensor([[3.0, 0.0], [0.0, 0.1]])  # confident class 0; unsure
    strong = torch.tensor([[1.0, 2.0], [5.0, 0.0]])
    p0 = math.exp(3) / (math.exp(3) + 1)
    assert p0 > 0.95
    ce = -math.log(math.exp(1) / (math.exp(1) + math.exp(2)))
    assert fixmatch_loss(weak, strong, 0.95).item() == pytest.approx(ce / 2, rel=1e-5)


def test_uda_loss_by_hand():
    weak = torch.tensor([[2.0, 0.0], [0.0, 0.0]])
    strong = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    t = 0.5
    q = torch.softmax(weak[0] / t, 0)
    p = torch.softmax(strong[0], 0)
    kl = float((q * (q.log() - p.log())).sum())
    # row 0 is confident (softmax 0.88 >= 0.8), row 1 is not (0.5)
    assert uda_loss(weak, strong, t, 0.8).item() == pytest.approx(kl / 2, rel=1e-5)
    assert uda_loss(weak, weak, 1.0, 0.0).item() == pytest.approx(0.0, abs=1e-7)


def test_ramp():
    assert [ramp(p, 0.2) for p in (0.0, 0.1, 0.2, 0.9)] == [0.0, 0.5, 1.0, 1.0]
    assert ramp(0.0, 0.0) == 1.0


@pytest.mark.parametrize(
    ("name", "per_class", "unlabeled"), [("digits-semi", 10, 978), ("mnist1d-semi", 40, 3100)]
)
def test_semi_tasks_keep_few_balanced_labels_and_offer_the_rest(
    data_dir, name, per_class, unlabeled
):
    cls = PM.registry.get("task", name)
    splits = cls().load(data_dir)
    assert torch.bincount(splits.train.y).tolist() == [per_class] * 10
    assert len(splits.unlabeled) == unlabeled
    rows = torch.cat([splits.train.x, splits.unlabeled]).flatten(1)
    assert len(torch.unique(rows, dim=0)) >= len(rows) - 10  # disjoint (up to duplicates)
    fewer = cls(labels_per_class=4, label_seed=1).load(data_dir)
    assert len(fewer.train) == 40 and len(fewer.unlabeled) == unlabeled + 10 * (per_class - 4)
    other = cls(label_seed=1).load(data_dir)
    assert not torch.equal(other.train.x, splits.train.x)


def run(task, ssl, seed=0, steps=150):
    spec = resolve_spec(
        PM.registry,
        task=task,
        arch="cnn",
        ssl=ssl,
        seed=seed,
        budget=Budget(steps=steps, eval_every=50),
    )
    return execute(spec, PM)


@pytest.mark.parametrize("ssl", METHODS)
@pytest.mark.parametrize(("task", "floor"), [("digits-semi", 0.6), ("mnist1d-semi", 0.3)])
def test_every_method_trains_above_chance(task, floor, ssl):
    result = run(task, ssl)
    assert result.status == "ok", result.error
    assert result.test_accuracy > floor  # chance is 0.1


@pytest.mark.parametrize("ssl", METHODS[1:])
def test_same_seed_same_numbers(ssl):
    first, second = (run("digits-semi", ssl, seed=3, steps=30) for _ in range(2))
    assert [p["val_accuracy"] for p in first.curve] == [p["val_accuracy"] for p in second.curve]
    assert first.test_accuracy == second.test_accuracy


def test_a_semi_method_needs_unlabeled_data():
    result = run("digits", "fixmatch", steps=3)
    assert result.status == "failed" and "has none (use a semi-supervised task)" in result.error
