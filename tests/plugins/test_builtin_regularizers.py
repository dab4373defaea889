import pytest
import torch
import torch.nn.functional as F

from benchbench.plugins import PluginConfig, get_plugin_manager


@pytest.fixture(scope="module")
def regularizers():
    return {
        n: e.cls
        for n, e in get_plugin_manager(PluginConfig()).registry.entries["regularizer"].items()
    }


def test_label_smoothing_targets_by_hand(regularizers):
    targets = F.one_hot(torch.tensor([2, 0]), 4).float()
    x = torch.randn(2, 3)
    x_out, smoothed = regularizers["label-smoothing"](alpha=0.2).transform(
        x, targets, torch.Generator()
    )
    assert x_out is x
    expected = torch.tensor([[0.05, 0.05, 0.85, 0.05], [0.85, 0.05, 0.05, 0.05]])
    assert torch.allclose(smoothed, expected)
    assert torch.allclose(smoothed.sum(1), torch.ones(2))


def test_label_smoothing_rejects_alpha_outside_unit_interval(regularizers):
    with pytest.raises(ValueError, match=r"alpha must lie in \[0, 1\]"):
        regularizers["label-smoothing"](alpha=1.5).transform(
            torch.zeros(1, 2), torch.ones(1, 2) / 2, torch.Generator()
        )


def test_none_leaves_the_batch_alone(regularizers):
    targets = F.one_hot(torch.tensor([1]), 3).float()
    x = torch.randn(1, 5)
    assert regularizers["none"]().transform(x, targets, torch.Generator()) == (x, targets)
