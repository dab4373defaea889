import numpy as np
import pytest
import torch

from benchbench import BenchbenchError
from benchbench.plugins import PluginConfig, get_plugin_manager


@pytest.fixture(scope="module")
def tasks():
    return get_plugin_manager(PluginConfig()).registry.entries["task"]


def check_splits(splits, sizes, shape):
    assert tuple(len(s) for s in (splits.train, splits.val, splits.test)) == sizes
    for split in (splits.train, splits.val, splits.test):
        assert split.x.dtype == torch.float32 and split.y.dtype == torch.int64
        assert tuple(split.x.shape[1:]) == shape
        assert set(split.y.tolist()) == set(range(10))
    assert splits.train.x.mean().item() == pytest.approx(0.0, abs=1e-4)
    assert splits.train.x.std().item() == pytest.approx(1.0, abs=1e-3)


def test_digits_split_is_fixed_stratified_and_disjoint(tasks, tmp_path):
    splits = tasks["digits"].cls().load(tmp_path)
    check_splits(splits, (1078, 359, 360), (1, 8, 8))
    again = tasks["digits"].cls().load(tmp_path)
    assert torch.equal(splits.val.x, again.val.x)
    rows = torch.cat([splits.train.x, splits.val.x, splits.test.x]).flatten(1)
    assert len(torch.unique(rows, dim=0)) >= 1797 - 10  # the set has a few exact duplicates
    for split in (splits.train, splits.val, splits.test):
        share = torch.bincount(split.y, minlength=10).float() / len(split)
        full = torch.bincount(
            torch.cat([splits.train.y, splits.val.y, splits.test.y]), minlength=10
        )
        assert torch.allclose(share, full.float() / 1797, atol=0.01)


def test_mnist1d_is_the_standard_split_generated_once_and_cached(tasks, tmp_path):
    state = np.random.get_state()[1].copy()
    splits = tasks["mnist1d"].cls().load(tmp_path)
    check_splits(splits, (3500, 500, 1000), (1, 40))
    assert np.array_equal(np.random.get_state()[1], state)  # the generator's seeding is undone
    cached = list((tmp_path / "mnist1d").glob("*.npz"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    again = tasks["mnist1d"].cls().load(tmp_path)
    assert cached[0].stat().st_mtime_ns == stamp
    assert torch.equal(splits.test.x, again.test.x) and torch.equal(splits.train.y, again.train.y)


def test_mnist1d_cache_folder_must_be_writable(tasks, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(BenchbenchError, match="cannot cache MNIST-1D"):
        tasks["mnist1d"].cls().load(blocker)
