"""The regularizers' math, pinned against hand computations."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from benchbench import Model, RegularizerChain, RunContext
from benchbench.plugins import PluginConfig, get_plugin_manager

REGISTRY = get_plugin_manager(PluginConfig()).registry


def make(name, **hparams):
    return REGISTRY.build("regularizer", name, hparams)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def one_hot(labels, k):
    return F.one_hot(torch.tensor(labels), k).float()


def test_label_smoothing_targets_by_hand():
    targets = one_hot([2, 0], 4)
    x = torch.randn(2, 3)
    x_out, smoothed = make("label-smoothing", alpha=0.2).transform(x, targets, gen())
    assert x_out is x
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    assert torch.allclose(smoothed, expected)
    allowed = REGISTRY.get("regularizer", "label-smoothing").schema()["alpha"]
    assert allowed.check(1.0) and not allowed.check(1.5) and not allowed.check(-0.1)


def test_none_and_weight_decay():
    targets = one_hot([1], 3)
    x = torch.randn(1, 5)
    assert make("none").transform(x, targets, gen()) == (x, targets)
    assert make("none").weight_decay() == 0.0
    assert make("weight-decay", decay=0.01).weight_decay() == 0.01


def test_mixup_mixes_inputs_and_targets_with_one_lambda():
    x = torch.arange(8.0).view(4, 2)
    targets = one_hot([0, 1, 2, 3], 4)
    mixup = make("mixup", alpha=0.4)
    mixed_x, mixed_t = mixup.transform(x, targets, gen(3))
    lam = mixup.last_lambda
    assert 0.0 < lam < 1.0
    assert torch.allclose(mixed_t.sum(1), torch.ones(4))
    # every row is lam * itself + (1 - lam) * its partner, inputs and targets alike
    for i in range(4):
        others = mixed_t[i].clone()
        others[i] = 0
        j = int(others.argmax()) if others.max() > 0 else i
        expected_t = lam * targets[i] + (1 - lam) * targets[j]
        assert torch.allclose(mixed_t[i], expected_t)
        assert torch.allclose(mixed_x[i], lam * x[i] + (1 - lam) * x[j])
    again = make("mixup", alpha=0.4)
    assert torch.equal(again.transform(x, targets, gen(3))[0], mixed_x)  # same seed, same mix


def test_cutmix_lambda_is_the_area_of_the_box_it_pasted():
    x = torch.zeros(6, 1, 8, 8)
    x += torch.arange(6.0).view(6, 1, 1, 1)  # example i is filled with the value i
    targets = one_hot([0, 1, 2, 3, 4, 5], 6)
    cutmix = make("cutmix")
    for seed in range(20):
        mixed, mixed_t = cutmix.transform(x, targets, gen(seed))
        rows, cols = cutmix.last_box
        area = (rows.stop - rows.start) * (cols.stop - cols.start)
        assert cutmix.last_lambda == pytest.approx(1 - area / 64)
        assert torch.allclose(mixed_t.sum(1), torch.ones(6))
        for i in range(6):
            changed = mixed[i, 0] != i
            if area and changed.any():  # the pasted pixels are exactly the box
                inside = torch.zeros(8, 8, dtype=torch.bool)
                inside[rows, cols] = True
                assert torch.equal(changed, inside)
                j = int(mixed[i, 0, rows.start, cols.start])
                assert mixed_t[i, i] == pytest.approx(cutmix.last_lambda)
                assert mixed_t[i, j] == pytest.approx(1 - cutmix.last_lambda)


def test_cutmix_cuts_spans_of_signals():
    x = torch.arange(4.0).view(4, 1, 1).expand(4, 1, 40).clone()
    cutmix = make("cutmix")
    mixed, _ = cutmix.transform(x, one_hot([0, 1, 2, 3], 4), gen(1))
    (span,) = cutmix.last_box
    assert cutmix.last_lambda == pytest.approx(1 - (span.stop - span.start) / 40)
    assert torch.equal(mixed[:, :, : span.start], x[:, :, : span.start])


def test_cutout_zeroes_exactly_its_box():
    x = torch.ones(5, 3, 10, 10)
    targets = one_hot([0, 1, 2, 3, 4], 5)
    cutout = make("cutout", size=0.4)
    out, t = cutout.transform(x, targets, gen(2))
    assert t is targets
    mask = cutout.last_mask  # (batch, 1, H, W)
    assert torch.equal(out == 0, mask.expand_as(out))
    for i in range(5):
        rows = mask[i, 0].any(1).nonzero().flatten()
        cols = mask[i, 0].any(0).nonzero().flatten()
        box = torch.zeros(10, 10, dtype=torch.bool)
        box[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1] = True
        assert torch.equal(mask[i, 0], box)  # a rectangle
        assert rows.numel() <= 4 and cols.numel() <= 4  # 0.4 of 10, less where clipped
    one_d = make("cutout", size=0.25)
    out, _ = one_d.transform(torch.ones(3, 1, 40), targets[:3], gen(0))
    assert ((out == 0).sum(-1) <= 10).all() and (out == 0).any()


def test_manifold_mixup_mixes_at_the_block_it_names():
    class Recorder(nn.Module):
        def __init__(self):
            super().__init__()
            self.seen = None

        def forward(self, h):
            self.seen = h.clone()
            return h

    blocks = [(f"b{i}", Recorder()) for i in range(3)]
    model = Model(blocks, nn.Identity())
    x = torch.arange(24.0).view(8, 3)  # 8 examples: an identity pairing is 1 in 40,320
    targets = one_hot(list(range(8)), 8)
    reg = make("manifold-mixup")
    seen = set()
    for seed in range(30):
        logits, mixed_t = reg.forward(model, x, targets, gen(seed))
        at, lam = reg.last_block, reg.last_lambda
        seen.add(at)
        for i, (_, block) in enumerate(blocks):
            if i < at:
                assert torch.equal(block.seen, x)  # before the named block: untouched
            else:
                assert not torch.equal(block.seen, x) or lam == 1.0  # from it on: mixed
        assert torch.allclose(mixed_t.sum(1), torch.ones(8))
        assert torch.allclose(logits.sum(), x.sum())  # a convex mix keeps the batch sum
    assert seen == {0, 1, 2}


def test_dropout_goes_after_every_block_uses_the_run_generator_and_is_off_in_eval():
    model = Model([("a", nn.Linear(20, 20)), ("b", nn.Linear(20, 20))], nn.Linear(20, 2))
    make("dropout", rate=0.5).prepare(RunContext(model, None, gen(0), torch.device("cpu")))
    assert all(isinstance(b, nn.Sequential) for b in model.encoder)
    drop = model.encoder.a[1]
    x = torch.ones(1000, 20)
    out = drop(x)
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert abs((out == 0).float().mean().item() - 0.5) < 0.02
    drop.generator.manual_seed(0)
    first = drop(x)
    drop.generator.manual_seed(0)
    assert torch.equal(first, drop(x))
    model.eval()
    assert torch.equal(drop(x), x)


def test_distillation_loss_is_t_squared_times_kl():
    from benchbench_regularizers.distillation import distillation_loss

    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    teacher = torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 0.0]])
    t = 2.0
    expected = 0.0
    for s_row, t_row in zip(student, teacher, strict=True):
        p = torch.softmax(t_row / t, 0)
        q = torch.softmax(s_row / t, 0)
        expected += float((p * (p.log() - q.log())).sum())
    expected = t * t * expected / 2
    assert distillation_loss(student, teacher, t).item() == pytest.approx(expected, rel=1e-6)
    assert distillation_loss(teacher, teacher, 4.0).item() == pytest.approx(0.0, abs=1e-7)


def test_distillation_takes_snapshots_on_schedule():
    model = Model([("a", nn.Linear(3, 3))], nn.Linear(3, 2))
    reg = make("distillation", snapshots=4, weight=1.0, temperature=1.0)
    x, targets = torch.randn(5, 3), one_hot([0, 1, 0, 1, 1], 2)
    logits, _ = reg.forward(model, x, targets, gen())
    assert reg.teacher is None and reg.loss(logits, targets).item() == pytest.approx(
        F.cross_entropy(logits, targets).item()
    )
    for progress, taken in ((0.2, 0), (0.25, 1), (0.6, 2), (0.99, 3), (1.0, 3)):
        reg.on_step(model, progress)
        assert reg.taken == taken
    with torch.no_grad():
        model.head.weight.add_(1.0)  # the student moves on; the snapshot does not
    logits, _ = reg.forward(model, x, targets, gen())
    assert not torch.equal(logits, reg._teacher_logits)
    assert not reg.teacher.training and not any(p.requires_grad for p in reg.teacher.parameters())


def test_chains_apply_in_order_and_refuse_two_forwards():
    chain = RegularizerChain([make("label-smoothing", alpha=0.5), make("weight-decay", decay=0.1)])
    assert chain.name == "label-smoothing+weight-decay" and chain.weight_decay() == 0.1
    _, t = chain.transform(torch.zeros(1, 2), one_hot([1], 2), gen())
    assert torch.allclose(t, torch.tensor([[0.25, 0.75]]))
    with pytest.raises(ValueError, match="cannot combine manifold-mixup and distillation"):
        RegularizerChain([make("manifold-mixup"), make("distillation")])
