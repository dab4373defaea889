import pytest
import torch

from benchbench.plugins import PluginConfig, get_plugin_manager


@pytest.fixture(scope="module")
def archs():
    return {
        n: e.cls for n, e in get_plugin_manager(PluginConfig()).registry.entries["arch"].items()
    }


ALL = ["mlp", "cnn", "lenet", "vgg-small", "resnet-small", "gru"]


def test_the_zoo_is_registered(archs):
    assert set(ALL) <= set(archs)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 40), (3, 32, 32), (2, 16)])
@pytest.mark.parametrize("name", ALL)
def test_builds_for_1d_and_2d_inputs(archs, name, shape):
    torch.manual_seed(0)
    model = archs[name]().build(shape, 10)
    x = torch.randn(5, *shape)
    features = model.features(x)
    assert features.ndim == 2 and features.shape[0] == 5
    assert model(x).shape == (5, 10)
    assert len(model.encoder) >= 2
    assert all(p.requires_grad for p in model.parameters())
    model.eval()  # examples are independent in eval mode: one example alone gives its row
    assert torch.allclose(model(x[:1]), model(x)[:1], atol=1e-5)


@pytest.mark.parametrize("name", [n for n in ALL if n != "mlp"])
def test_says_clearly_when_the_input_has_no_sequence_or_spatial_axis(archs, name):
    with pytest.raises(ValueError, match=rf"{name} needs .* got \(64,\) \(use mlp"):
        archs[name]().build((64,), 10)


def test_block_names_and_shapes_of_the_zoo(archs):
    lenet = archs["lenet"]().build((1, 8, 8), 10)
    assert list(dict(lenet.encoder.named_children())) == ["conv1", "conv2", "fc1", "fc2"]
    assert lenet.encoder.fc1[1].in_features == 16 * 2 * 2 and lenet.head.in_features == 84
    vgg = archs["vgg-small"]().build((3, 32, 32), 10)
    assert list(dict(vgg.encoder.named_children())) == ["stage1", "stage2", "stage3"]
    assert vgg.encoder(torch.zeros(2, 3, 32, 32)).shape == (2, 128, 4, 4)
    resnet = archs["resnet-small"]().build((3, 32, 32), 10)
    names = ["stem", "stage1", "stage2", "stage3", "pool"]
    assert list(dict(resnet.encoder.named_children())) == names
    assert resnet.features(torch.zeros(2, 3, 32, 32)).shape == (2, 128)
    gru = archs["gru"](hidden=32).build((1, 8, 8), 10)
    assert gru.encoder.gru1(torch.zeros(2, 1, 8, 8)).shape == (2, 32, 8)  # 8 rows, 32 units
    assert gru.features(torch.zeros(2, 1, 8, 8)).shape == (2, 32)


def test_gru_reads_an_image_row_by_row(archs):
    torch.manual_seed(0)
    gru = archs["gru"](hidden=8, depth=1).build((1, 4, 3), 2).eval()
    x = torch.randn(1, 1, 4, 3)
    changed = x.clone()
    changed[..., 3, :] += 1.0  # the last row: only the last step sees it
    first = gru.encoder.gru1(x)
    second = gru.encoder.gru1(changed)
    assert torch.equal(first[..., :3], second[..., :3]) and not torch.equal(first, second)


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
