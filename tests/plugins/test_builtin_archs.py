import pytest
import torch

from benchbench.plugins import PluginConfig, get_plugin_manager


@pytest.fixture(scope="module")
def archs():
    return {
        n: e.cls for n, e in get_plugin_manager(PluginConfig()).registry.entries["arch"].items()
    }


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 40), (3, 32, 32), (2, 16)])
@pytest.mark.parametrize("name", ["mlp", "cnn"])
def test_builds_for_1d_and_2d_inputs(archs, name, shape):
    model = archs[name]().build(shape, 10)
    x = torch.randn(5, *shape)
    features = model.features(x)
    assert features.ndim == 2 and features.shape[0] == 5
    assert model(x).shape == (5, 10)
    assert len(model.encoder) >= 2


def test_mlp_blocks_and_parameter_count(archs):
    model = archs["mlp"](width=16, depth=3).build((1, 8, 8), 10)
    assert [name for name, _ in model.encoder.named_children()] == ["fc1", "fc2", "fc3"]
    expected = (64 * 16 + 16) + 2 * (16 * 16 + 16) + (16 * 10 + 10)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_cnn_uses_the_convolution_of_the_input_rank(archs):
    one_d = archs["cnn"](width=8, depth=2).build((1, 40), 10)
    two_d = archs["cnn"](width=8, depth=2).build((1, 8, 8), 10)
    assert isinstance(one_d.encoder.conv1[0], torch.nn.Conv1d)
    assert isinstance(two_d.encoder.conv1[0], torch.nn.Conv2d)
    assert one_d.head.in_features == 16 * 20  # 40 halved once, 16 channels in block 2
    assert two_d.head.in_features == 16 * 4 * 4


def test_cnn_says_clearly_when_the_input_has_no_spatial_axis(archs):
    with pytest.raises(ValueError, match=r"cnn needs an input shape .* got \(64,\)"):
        archs["cnn"]().build((64,), 10)
