"""Semi- and self-supervised losses against hand computations, the label-scarce tasks, and
every method training above chance and repeating exactly."""

import math

import pytest
import torch
from benchbench_ssl.losses import (
    confidence_mask,
    contractive_penalty,
    fixmatch_loss,
    info_nce,
    kl_sparsity,
    l1_sparsity,
    nt_xent,
    pseudo_label_loss,
    ramp,
    uda_loss,
)
from torch import nn

from benchbench import BenchbenchError, Budget, RunContext
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.plugins import PluginConfig, get_plugin_manager

PM = get_plugin_manager(PluginConfig())
METHODS = ["supervised", "pseudo-label", "uda", "fixmatch"]
PRETRAINING = ["simclr", "cpc", "layerwise"] + [
    f"autoencoder:{v}" for v in ("undercomplete", "sparse", "denoising", "contractive", "deep")
]


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


def run(task, ssl, seed=0, steps=150, arch=None):
    """``ssl`` may name an autoencoder variant: ``autoencoder:sparse``. The MLP trains each
    method (in a fifth of the CNN's time); CPC, which predicts along a feature map, the CNN."""
    arch = arch or ("cnn" if ssl == "cpc" else "mlp")
    ssl, _, variant = ssl.partition(":")
    spec = resolve_spec(
        PM.registry,
        task=task,
        arch=arch,
        ssl=ssl,
        seed=seed,
        budget=Budget(steps=steps, eval_every=50),
        hparams={"autoencoder.variant": variant} if variant else None,
    )
    return execute(spec, PM)


@pytest.mark.parametrize("ssl", METHODS + PRETRAINING)
@pytest.mark.parametrize(("task", "floor"), [("digits-semi", 0.6), ("mnist1d-semi", 0.2)])
def test_every_method_trains_above_chance(task, floor, ssl):
    # chance is 0.1; in 100 steps the MLP reaches 0.85-0.92 on digits-semi and 0.25-0.31 on
    # mnist1d-semi (40 labels a class of a sequence task it cannot see the shape of), the
    # CNN of CPC 0.94 and 0.63
    result = run(task, ssl, steps=100)
    assert result.status == "ok", result.error
    assert result.test_accuracy > floor  # chance is 0.1


@pytest.mark.parametrize("ssl", METHODS[1:] + PRETRAINING)
def test_same_seed_same_numbers(ssl):
    first, second = (run("digits-semi", ssl, seed=3, steps=30) for _ in range(2))
    assert [p["val_accuracy"] for p in first.curve] == [p["val_accuracy"] for p in second.curve]
    assert first.test_accuracy == second.test_accuracy
    assert first.pretrain_loss == second.pretrain_loss


def test_a_semi_method_needs_unlabeled_data():
    with pytest.raises(BenchbenchError, match=r"has none \(use a semi-supervised task"):
        run("digits", "fixmatch", steps=3)


def cosine(a, b):
    return sum(x * y for x, y in zip(a, b, strict=True)) / math.sqrt(
        sum(x * x for x in a) * sum(y * y for y in b)
    )


def test_nt_xent_by_hand():
    z1, z2 = [[1.0, 0.0], [0.0, 2.0]], [[1.0, 1.0], [3.0, -1.0]]
    t = 0.5
    z = z1 + z2  # anchors 0, 1 (first views) and 2, 3 (second views); positive of i is i +- 2
    losses = []
    for i in range(4):
        positive = (i + 2) % 4
        scores = {j: math.exp(cosine(z[i], z[j]) / t) for j in range(4) if j != i}
        losses.append(-math.log(scores[positive] / sum(scores.values())))
    expected = sum(losses) / 4
    assert nt_xent(torch.tensor(z1), torch.tensor(z2), t).item() == pytest.approx(expected, 1e-6)
    # identical views of orthogonal examples at a low temperature: almost no loss
    eye = torch.eye(3)
    assert nt_xent(eye, eye, 0.05).item() == pytest.approx(0.0, abs=1e-6)


def test_info_nce_by_hand():
    predictions = torch.tensor([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 1.0]])
    # scores row i: predictions[i] . targets[j]; row 0: 1, 0, -1; row 1: 0, 2, 2; row 2: 1, 1, 0
    rows = [([1, 0, -1], 0), ([0, 2, 2], 1), ([1, 1, 0], 2)]
    expected = sum(-math.log(math.exp(r[i]) / sum(map(math.exp, r))) for r, i in rows) / 3
    assert info_nce(predictions, targets).item() == pytest.approx(expected, rel=1e-6)


def small_encoder():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3), nn.Sigmoid())


def test_contractive_penalty_is_the_squared_frobenius_norm_of_the_jacobian():
    encoder, x = small_encoder(), torch.randn(6, 4, generator=torch.Generator().manual_seed(1))
    inputs = x.clone().requires_grad_(True)
    penalty = contractive_penalty(encoder(inputs), inputs)
    jacobians = [torch.autograd.functional.jacobian(encoder, row) for row in x]  # (3, 4) each
    assert jacobians[0].shape == (3, 4)
    expected = sum(float(j.pow(2).sum()) for j in jacobians) / len(x)
    assert penalty.item() == pytest.approx(expected, rel=1e-5)
    # Rademacher directions estimate it without bias: over all 2^3 sign vectors, exactly
    signs = torch.tensor([[a, b, c] for a in (-1, 1) for b in (-1, 1) for c in (-1, 1)]).float()
    estimate = contractive_penalty(encoder(inputs), inputs, signs)
    assert estimate.item() == pytest.approx(expected, rel=1e-5)
    assert contractive_penalty(encoder(inputs), inputs, signs[:1]).item() != pytest.approx(
        expected, rel=1e-3
    )


def test_contractive_penalty_of_a_linear_code_is_its_weight_norm_and_trains():
    layer = nn.Linear(4, 3, bias=False)
    inputs = torch.randn(5, 4).requires_grad_(True)
    penalty = contractive_penalty(layer(inputs), inputs)
    assert float(penalty.detach()) == pytest.approx(
        float(layer.weight.detach().pow(2).sum()), rel=1e-6
    )
    penalty.backward()
    assert torch.allclose(layer.weight.grad, 2 * layer.weight)


def test_sparsity_penalties_by_hand():
    code = torch.tensor([[0.1, 0.5], [0.3, -0.5]])
    assert l1_sparsity(code).item() == pytest.approx((0.6 + 0.8) / 2)
    code = torch.tensor([[0.1, 0.5], [0.3, 0.5]])  # unit means 0.2 and 0.5

    def kl(p, q):
        return p * math.log(p / q) + (1 - p) * math.log((1 - p) / (1 - q))

    assert kl_sparsity(code, 0.05).item() == pytest.approx(kl(0.05, 0.2) + kl(0.05, 0.5), 1e-6)
    assert kl_sparsity(torch.full((4, 3), 0.05), 0.05).item() == pytest.approx(0.0, abs=1e-6)


def context_for(task, arch="cnn"):
    task = PM.registry.build("task", task)
    torch.manual_seed(0)
    model = PM.registry.build("arch", arch).build(task.input_shape, task.num_classes)
    return RunContext(model, task, torch.Generator().manual_seed(0), torch.device("cpu"))


def test_layerwise_trains_one_block_per_stage():
    context = context_for("mnist1d-semi")
    method = PM.registry.build("ssl", "layerwise")
    method.prepare(context)
    assert method.pretrain_stages() == 3 == len(context.model.encoder)
    assert [method.stage(p) for p in (0.0, 0.33, 0.34, 0.67, 0.999)] == [0, 0, 1, 2, 2]
    x = torch.randn(8, 1, 40)
    for stage, progress in enumerate((0.1, 0.5, 0.9)):
        context.model.zero_grad(set_to_none=True)
        method.modules.zero_grad(set_to_none=True)
        method.pretrain_loss(context.model, x, progress, context.generator).backward()
        trained = [
            any(p.grad is not None for p in block.parameters()) for block in context.model.encoder
        ]
        assert trained == [i == stage for i in range(3)]
        decoders = [method.modules[i].weight.grad is not None for i in range(3)]
        assert decoders == [i == stage for i in range(3)]


def test_autoencoder_variants_build_what_they_say():
    context = context_for("digits-semi")  # 64 inputs; cnn features 128 x 2 x 2 = 512
    sizes = {}
    for variant in ("undercomplete", "deep"):
        method = PM.registry.build("ssl", "autoencoder", {"variant": variant})
        method.prepare(context)
        sizes[variant] = [
            m.out_features for m in method.modules.modules() if hasattr(m, "out_features")
        ]
    assert sizes["undercomplete"] == [32, 256, 64]
    assert sizes["deep"] == [256, 128, 32, 128, 256, 64]
    with pytest.raises(BenchbenchError, match="autoencoder.variant='wide' is not allowed"):
        resolve_spec(
            PM.registry,
            task="digits",
            arch="mlp",
            ssl="autoencoder",
            hparams={"autoencoder.variant": "wide"},
        )


def test_cpc_reads_rows_of_2d_maps_and_refuses_a_flat_encoder():
    method = PM.registry.build("ssl", "cpc")
    method.prepare(context_for("digits-semi"))  # map 128 x 2 x 2: 2 rows, so 1 step ahead
    assert method.steps == 1
    result = run("digits-semi", "cpc", steps=4, arch="mlp")
    assert (
        result.status == "failed" and "cpc needs an encoder ending in a feature map" in result.error
    )
