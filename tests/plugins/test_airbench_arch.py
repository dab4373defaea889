"""airbench's network: its whitening stem by hand, set from a seeded sample of the run's
training inputs before the first step, frozen; its shapes; a short run on CIFAR-10 files."""

from __future__ import annotations

import pytest
import torch

from benchbench import Budget, RunContext
from benchbench.execution.execute import execute
from benchbench.planning.resolve import resolve_spec
from benchbench.tasks import Split
from benchbench.training.sample import sampler

SMALL = {"airbench.block1": 8, "airbench.block2": 16, "airbench.block3": 16}


def test_the_whitening_filters_decorrelate_the_patches_they_were_set_from():
    from benchbench_archs.airbench import whitening_filters

    torch.manual_seed(0)
    mix = torch.randn(3, 3)
    images = torch.einsum("dc,nchw->ndhw", mix, torch.randn(64, 3, 8, 8)) + 0.5
    filters = whitening_filters(images, 2, eps=1e-6)
    assert filters.shape == (24, 3, 2, 2)
    assert torch.equal(filters[12:], -filters[:12])
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1).permute(0, 2, 3, 1, 4, 5).reshape(-1, 12)
    flat = filters[:12].reshape(12, 12).double()
    covariance = patches.double().T @ patches.double() / len(patches)
    whitened = flat @ covariance @ flat.T
    assert torch.allclose(whitened, torch.eye(12, dtype=torch.float64), atol=1e-3)


def test_prepare_sets_the_frozen_stem_from_the_runs_sample(registry):
    from benchbench_archs.airbench import whitening_filters

    arch = registry.build("arch", "airbench", {k.split(".")[1]: v for k, v in SMALL.items()})
    torch.manual_seed(0)
    model = arch.build((3, 32, 32), 10)
    stem = model.encoder.whiten[0]
    assert not stem.weight.requires_grad and stem.bias.requires_grad
    assert [name for name, _ in model.encoder.named_children()] == [
        "whiten", "block1", "block2", "block3"
    ]  # fmt: skip
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 10)
    train = Split(torch.randn(300, 3, 32, 32), torch.zeros(300, dtype=torch.long))
    draw = sampler(train, lambda x: x, torch.Generator().manual_seed(5), torch.device("cpu"))
    context = RunContext(model, None, torch.Generator(), torch.device("cpu"), draw)
    arch.prepare(model, context)  # whiten_sample 5000 > 300: every training image, shuffled
    assert torch.allclose(stem.weight, whitening_filters(train.x, 2, 5e-4), atol=1e-5)
    norms = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert all(not m.weight.requires_grad and m.momentum == pytest.approx(0.4) for m in norms)
    assert all(m.eps == 1e-12 for m in norms)


def test_a_training_sample_is_seeded_and_drawn_without_replacement():
    train = Split(torch.arange(50.0).reshape(50, 1), torch.zeros(50, dtype=torch.long))
    draw = lambda seed: sampler(  # noqa: E731
        train, lambda x: x * 2, torch.Generator().manual_seed(seed), torch.device("cpu")
    )
    first, again, other = draw(1)(10), draw(1)(10), draw(2)(10)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert len(set(first.flatten().tolist())) == 10 and first.max() <= 98  # decoded: x * 2
    assert sorted(draw(1)(80).flatten().tolist()) == [2.0 * i for i in range(50)]
    with pytest.raises(ValueError, match="a whole number of inputs >= 1"):
        draw(1)(0)


def test_signals_are_refused_small_images_skip_halvings_and_cifar10_trains(pm, data_dir, registry):
    from benchbench import BenchbenchError

    with pytest.raises(BenchbenchError, match="accepts image inputs"):
        resolve_spec(registry, task="mnist1d", arch="airbench")
    arch = registry.build("arch", "airbench", {"block1": 4, "block2": 4, "block3": 4})
    pools = [
        sum(isinstance(m, torch.nn.MaxPool2d) for m in arch.build(shape, 10).modules())
        for shape in ((1, 8, 8), (1, 28, 28), (3, 32, 32))
    ]
    assert pools == [2, 3, 3]  # 8x8: 7 -> 3 -> 1, then no halving
    spec = resolve_spec(
        registry, task="cifar10", arch="airbench", hparams={**SMALL, "tta": 2},
        budget=Budget(steps=6),
    )  # fmt: skip
    first, again = execute(spec, pm, data_dir), execute(spec, pm, data_dir)
    assert first.status == "ok", first.error
    assert first.test_accuracy == again.test_accuracy and first.steps == 6
