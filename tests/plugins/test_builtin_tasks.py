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


def test_random_shift_is_a_zero_filled_shift_per_example():
    from benchbench_tasks._augment import random_shift

    x = torch.arange(1.0, 65.0).view(1, 1, 8, 8).repeat(16, 1, 1, 1)
    out = random_shift(x, 1, torch.Generator().manual_seed(0))
    shifts = set()
    for i in range(16):
        matches = [
            (dy, dx)
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if torch.equal(out[i, 0], _shifted(x[i, 0], dy, dx))
        ]
        assert len(matches) == 1
        shifts.add(matches[0])
    assert len(shifts) > 3  # each example draws its own shift

    signal = torch.arange(1.0, 41.0).view(1, 1, 40).repeat(8, 1, 1)
    moved = random_shift(signal, 4, torch.Generator().manual_seed(1))
    for row in moved[:, 0]:
        nonzero = row[row != 0]
        assert torch.equal(nonzero, torch.arange(nonzero[0], nonzero[0] + len(nonzero)))
        assert len(nonzero) >= 36


def _shifted(image, dy, dx):
    out = torch.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = image[
        max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def test_flip_mirrors_about_half_and_noise_has_its_std():
    from benchbench_tasks._augment import gaussian_noise, random_flip

    x = torch.arange(4.0).view(1, 1, 1, 4).repeat(1000, 1, 1, 1)
    flipped = random_flip(x, torch.Generator().manual_seed(0))
    mirrored = (flipped[:, 0, 0, 0] == 3).float().mean().item()
    assert 0.45 < mirrored < 0.55
    assert torch.equal(flipped[flipped[:, 0, 0, 0] == 3], x.flip(-1)[: int(mirrored * 1000)])
    noisy = gaussian_noise(torch.zeros(10000), 0.1, torch.Generator().manual_seed(0))
    assert noisy.std().item() == pytest.approx(0.1, rel=0.05)


def test_tasks_augment_keeps_shape(tasks, data_dir):
    g = torch.Generator().manual_seed(0)
    for name in ("digits", "mnist1d", "mnist", "cifar10"):
        task = tasks[name].cls()
        x = torch.randn(4, *task.input_shape)
        out = task.augment(x, 1.0, g)
        assert out.shape == x.shape and not torch.equal(out, x)


def test_transfer_pairs_split_the_classes(tasks, data_dir):
    for source_name, target_name, parent in [
        ("digits-source", "digits-transfer", "digits"),
        ("mnist1d-source", "mnist1d-transfer", "mnist1d"),
    ]:
        full = tasks[parent].cls().load(data_dir)
        source = tasks[source_name].cls().load(data_dir)
        assert tasks[target_name].cls.source == source_name
        assert torch.equal(source.train.x, full.train.x[full.train.y < 5])
        assert torch.equal(source.test.y, full.test.y[full.test.y < 5])
        few = tasks[target_name].cls().load(data_dir)  # 10 labels per class, the rest unlabeled
        assert torch.bincount(few.train.y).tolist() == [10] * 5
        assert torch.equal(few.test.y, full.test.y[full.test.y >= 5] - 5)
        many = tasks[target_name].cls(labels_per_class=0).load(data_dir)
        assert torch.equal(many.train.x, full.train.x[full.train.y >= 5]) and many.unlabeled is None
        assert len(few.train) + len(few.unlabeled) == len(many.train)


def test_the_different_domains(tasks, data_dir):
    similar = tasks["digits-transfer"].cls(labels_per_class=0).load(data_dir)
    different = tasks["digits-transfer"].cls(labels_per_class=0, domain="different").load(data_dir)
    # a quarter turn to the left and a sign flip: pixel (r, c) of the new image is (c, 7 - r)
    assert torch.equal(different.test.x[:, 0, 0, 0], -similar.test.x[:, 0, 0, 7])
    assert torch.equal(different.test.y, similar.test.y)
    shifted = tasks["mnist1d-transfer"].cls(domain="different").load(data_dir)
    plain = tasks["mnist1d-transfer"].cls().load(data_dir)
    assert shifted.test.x.shape[1:] == plain.test.x.shape[1:] == (1, 40)
    assert not torch.equal(shifted.test.x, plain.test.x)
    domain = tasks["digits-transfer"].cls.schema()["domain"]
    assert domain.describe() == "one of 'similar', 'different'" and not domain.check("far")


def test_domain_shift_task_trains_on_the_source_and_scores_on_the_target(tasks, data_dir):
    from benchbench_tasks.mnist1d import cached_dataset
    from benchbench_tasks.transfer import SHIFTED_MNIST1D

    shift = tasks["mnist1d-shift"].cls().load(data_dir)
    source = tasks["mnist1d"].cls().load(data_dir)
    assert torch.equal(shift.train.x, source.train.x) and torch.equal(shift.train.y, source.train.y)
    target = cached_dataset(data_dir, SHIFTED_MNIST1D)
    assert len(shift.unlabeled) == 3500 and len(shift.test) == len(target["y_test"]) == 1000
    assert torch.equal(shift.test.y, torch.from_numpy(target["y_test"].astype("int64")))
    # the target's own standardisation: mean 0 and std 1 over its training inputs
    assert (
        abs(float(shift.unlabeled.mean())) < 1e-4 and abs(float(shift.unlabeled.std()) - 1) < 1e-3
    )


@pytest.mark.parametrize(
    ("task", "parent", "classes"),
    [
        ("cifar10-semi", "cifar10", 10),
        ("svhn-semi", "svhn", 10),
        ("stl10-semi", "stl10", 10),
        ("kmnist", None, 10),
    ],
)
def test_the_literature_tasks_read_their_files_and_semi_ones_follow_the_label_protocol(
    tasks, data_dir, task, parent, classes
):
    """The FixMatch/USB protocol: a class-balanced labeled subset of ``labels_per_class``
    drawn with ``label_seed`` (both task hyperparameters, so both in the run id), the rest
    of the training split unlabeled, validation and test as the parent task's."""
    from benchbench import Budget
    from benchbench.planning.resolve import resolve_spec
    from benchbench.plugins import get_plugin_manager

    cls = tasks[task].cls
    if parent is None:  # kmnist: the official splits of its IDX files
        splits = cls().load(data_dir)
        assert splits.train.x.shape[1:] == (1, 28, 28) and len(splits.test) == 50
        return
    full = tasks[parent].cls().load(data_dir)
    splits = cls(labels_per_class=4).load(data_dir)
    assert torch.bincount(splits.train.y, minlength=classes).tolist() == [4] * classes
    offered = 0 if full.unlabeled is None else len(full.unlabeled)  # STL-10's 100k
    assert len(splits.train) + len(splits.unlabeled) == len(full.train) + offered
    assert torch.equal(splits.test.x, full.test.x) and torch.equal(splits.val.y, full.val.y)
    other = cls(labels_per_class=4, label_seed=1).load(data_dir)
    assert not torch.equal(other.train.x, splits.train.x)
    assert torch.equal(cls(labels_per_class=4).load(data_dir).train.x, splits.train.x)
    registry = get_plugin_manager().registry
    ids = {
        resolve_spec(
            registry, task=task, arch="cnn", hparams=hparams, budget=Budget(steps=1)
        ).run_id
        for hparams in ({}, {f"{task}.label_seed": 1}, {f"{task}.labels_per_class": 4})
    }
    assert len(ids) == 3


def test_the_labeled_subset_is_the_same_draw_on_every_machine():
    """The protocol's labeled subset comes from NumPy's PCG64 generator, which gives the same
    stream on every platform; these are its draws, so a NumPy whose stream differs fails
    here rather than silently labeling other examples under the same run ids."""
    from benchbench_tasks.semi import labeled_subset

    labels = torch.arange(60) % 3
    chosen, rest = labeled_subset(labels, 2, 0)
    assert chosen.tolist() == [2, 5, 16, 19, 36, 48]
    assert labeled_subset(labels, 2, 1)[0].tolist() == [1, 24, 30, 47, 55, 56]
    assert sorted([*chosen, *rest]) == list(range(60))
