"""Each reader on small files written here in the real format."""

import numpy as np
import pytest
import torch
from fake_datasets import fake_cifar10, fake_cifar100, fake_mnist, write_cifar_batch, write_idx
from PIL import Image

from benchbench import BenchbenchError
from benchbench.data.readers import ImageFolder, read_cifar, read_idx
from benchbench.plugins import PluginConfig, get_plugin_manager

TASKS = get_plugin_manager(PluginConfig()).registry.entries["task"]


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip(tmp_path, gz):
    for array in (
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-5, 7, 1 << 20], dtype=np.int32),
        np.array([[0.5, -1.25]], dtype=np.float32),
    ):
        path = tmp_path / ("a.idx.gz" if gz else "a.idx")
        write_idx(path, array, gz)
        read = read_idx(path)
        assert read.shape == array.shape and np.array_equal(read, array)


def test_idx_rejects_bad_files(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x02ab")
    with pytest.raises(BenchbenchError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05ab")
    with pytest.raises(BenchbenchError, match="holds 2 bytes of data, not 5"):
        read_idx(tmp_path / "short")


@pytest.mark.parametrize(
    ("task", "folder", "gz"), [("mnist", "MNIST", False), ("fashion-mnist", "FashionMNIST", True)]
)
def test_mnist_layout_tasks(tmp_path, task, folder, gz):
    fake_mnist(tmp_path, folder, gz=gz)
    splits = TASKS[task].cls().load(tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (120, 120, 50)
    assert splits.train.x.shape[1:] == (1, 28, 28) and splits.test.y.tolist()[:3] == [0, 1, 2]


def test_missing_data_says_where_to_put_it(tmp_path):
    with pytest.raises(BenchbenchError) as info:
        TASKS["mnist"].cls().load(tmp_path)
    message = str(info.value)
    assert "mnist not found" in message and str(tmp_path / "MNIST" / "raw") in message
    assert "(the data folder is data_dir, or $BENCHBENCH_DATA)" in message and "\n" not in message
    with pytest.raises(BenchbenchError, match="cifar-10-batches-py/data_batch_1"):
        TASKS["cifar10"].cls().load(tmp_path)


def test_cifar_batches_are_read_channel_major(tmp_path):
    batch = write_cifar_batch(tmp_path / "b", 4, "labels", 10, 0)
    images, labels = read_cifar(tmp_path, ["b"], "labels", "cifar10")
    assert images.shape == (4, 3, 32, 32) and labels.tolist() == [0, 1, 2, 3]
    assert np.array_equal(images[2, 1].ravel(), batch[b"data"][2, 1024:2048])  # green plane


def test_cifar_tasks(tmp_path):
    fake_cifar10(tmp_path)
    splits = TASKS["cifar10"].cls().load(tmp_path)
    assert (len(splits.train), len(splits.val), len(splits.test)) == (100, 100, 30)
    # 8-bit pixels kept (a quarter of float32's memory), standardised as the loop draws them
    assert splits.train.x.dtype == torch.uint8 and splits.pixels is not None
    decoded = splits.decode(splits.train.x)
    per_channel = decoded.transpose(0, 1).flatten(1)
    assert decoded.dtype == torch.float32
    assert torch.allclose(per_channel.mean(1), torch.zeros(3), atol=1e-4)
    assert torch.allclose(per_channel.std(1, correction=0), torch.ones(3), atol=1e-4)
    raw = splits.train.x.double() / 255
    mean = raw.transpose(0, 1).flatten(1).mean(1).view(1, 3, 1, 1)
    std = raw.transpose(0, 1).flatten(1).std(1, correction=0).view(1, 3, 1, 1)
    assert torch.allclose(
        splits.decode(splits.test.x), ((splits.test.x / 255 - mean) / std).float(), atol=1e-5
    )

    fake_cifar100(tmp_path)
    splits = TASKS["cifar100"].cls().load(tmp_path)
    assert len(splits.test) == 20 and int(splits.train.y.max()) == 99


def test_image_folder_decodes_png_and_jpeg_per_class(tmp_path):
    for label, value in (("cat", 51), ("dog", 204)):
        (tmp_path / label).mkdir()
        Image.fromarray(np.full((4, 6), value, dtype=np.uint8), mode="L").save(
            tmp_path / label / "a.png"
        )
    Image.fromarray(np.zeros((4, 6, 3), dtype=np.uint8)).save(tmp_path / "dog" / "b.jpg")
    (tmp_path / "dog" / "notes.txt").write_text("not an image")
    folder = ImageFolder(tmp_path, mean=0.5, std=0.25)
    assert folder.classes == ["cat", "dog"] and len(folder) == 3 and folder.targets == [0, 1, 1]
    x, y = folder[0]
    assert x.shape == (1, 4, 6) and y == 0
    assert torch.allclose(x, torch.full((1, 4, 6), (51 / 255 - 0.5) / 0.25))
    assert torch.allclose(folder[2][0], torch.full((1, 4, 6), -2.0), atol=0.05)  # JPEG black
    with pytest.raises(BenchbenchError, match="image folder not found"):
        ImageFolder(tmp_path / "nowhere")


def test_digits_png_is_digits_from_disk(data_dir):
    png = TASKS["digits-png"].cls().load(data_dir)
    plain = TASKS["digits"].cls().load(data_dir)
    assert [len(s) for s in (png.train, png.val, png.test)] == [1078, 359, 360]
    assert len(list((data_dir / "digits-png" / "train").rglob("*.png"))) == 1078
    from sklearn.datasets import load_digits

    from benchbench import stratified_split

    test_index = list(stratified_split(load_digits().target, (0.6, 0.2, 0.2), 0)[2])
    for k in (0, 5, 200, 359):
        path, label = png.test.samples[k]
        position = test_index.index(int(path.stem))  # files are named by the digit's index
        x, y = png.test[k]
        assert y == label == int(plain.test.y[position])
        assert torch.allclose(x, plain.test.x[position], atol=1e-5)  # same image and scaling


class _Payload:
    """What a crafted 'data_batch_1' holds: unpickling it would run a shell command."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("protocol", [2, 5])
def test_a_crafted_cifar_pickle_is_refused_without_running_it(tmp_path, protocol):
    import pickle

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    marker = tmp_path / "pwned"
    evil = {b"data": _Payload(marker), b"labels": [0]}
    (folder / "data_batch_1").write_bytes(pickle.dumps(evil, protocol=protocol))
    with pytest.raises(BenchbenchError, match=r"refusing to unpickle (posix|os|nt)\.system"):
        read_cifar(folder, ["data_batch_1"], "labels", "cifar10")
    assert not marker.exists()
    pickle.loads(pickle.dumps(evil, protocol=protocol))  # the same file, unpickled plainly,
    assert marker.exists()  # does run its payload: the test's payload is real


def test_a_truncated_cifar_batch_is_one_clear_error(tmp_path):
    fake_cifar10(tmp_path)
    path = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(BenchbenchError, match="data_batch_3 is not a CIFAR python batch"):
        read_cifar(path.parent, ["data_batch_3"], "labels", "cifar10")


def test_file_tasks_fingerprint_their_files_by_content(tmp_path):
    from benchbench.planning.resolve import resolve_spec

    registry = get_plugin_manager(PluginConfig()).registry
    fake_mnist(tmp_path, "MNIST")

    def run_id():
        return resolve_spec(registry, task="mnist", arch="mlp", data_dir=tmp_path).run_id

    first = run_id()
    assert run_id() == first  # cached by size and time, same content
    images = tmp_path / "MNIST" / "raw" / "t10k-images-idx3-ubyte"
    data = bytearray(images.read_bytes())
    data[-1] ^= 0xFF  # one pixel of one test image
    images.write_bytes(bytes(data))
    assert run_id() != first
    data[-1] ^= 0xFF
    images.write_bytes(bytes(data))
    assert run_id() == first  # the same bytes again: the same runs
    images.unlink()
    assert run_id() != first
    digits = resolve_spec(registry, task="digits", arch="mlp", data_dir=tmp_path)
    assert digits.data is None and "data" not in digits.to_dict()  # bundled: ids unchanged


def test_changed_content_under_the_same_size_and_time_is_hashed_again(tmp_path):
    """cp -p, rsync -t and tar x keep a changed file's size and modification time: the cache
    keyed on those two reused the old data's fingerprint (and so its results). Entries of
    files gone are dropped when the cache is written."""
    import json
    import os
    import shutil

    from benchbench.data.fingerprint import CACHE_NAME, fingerprint

    data = tmp_path / "data"
    data.mkdir()
    first, second = data / "a.bin", data / "b.bin"
    first.write_bytes(b"\x00" * 1000)
    old = fingerprint([first], data)
    source = tmp_path / "changed.bin"
    source.write_bytes(b"\x01" * 1000)  # the same size
    stamp = first.stat()
    os.utime(source, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # the same time
    shutil.copy2(source, first)  # cp -p: content changed, size and time kept
    assert (first.stat().st_size, first.stat().st_mtime_ns) == (1000, stamp.st_mtime_ns)
    assert fingerprint([first], data) != old
    first.write_bytes(b"\x00" * 1000)
    os.utime(first, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # in place, same again
    assert fingerprint([first], data) == old  # the same bytes: the same runs
    second.write_bytes(b"b")
    first.unlink()
    fingerprint([second], data)
    cached = json.loads((data / CACHE_NAME).read_text())
    assert list(cached) == [str(second.resolve())]  # a.bin's entry pruned


def test_svhn_mat_files_are_read_channel_first_with_ten_as_zero(tmp_path):
    from fake_datasets import write_svhn_mat

    from benchbench.data.readers import read_svhn

    images, labels = write_svhn_mat(tmp_path / "train_32x32.mat", 30, 0)
    x, y = read_svhn(tmp_path / "train_32x32.mat", "svhn")
    assert x.shape == (30, 3, 32, 32) and x.dtype == np.uint8
    assert np.array_equal(x[7, 2], images[:, :, 2, 7])  # image 7, blue channel, rows x cols
    assert y.tolist() == [(i % 10 + 1) % 10 for i in range(30)] and 0 in y and 10 not in y


def test_a_damaged_or_foreign_svhn_file_is_one_clear_error(tmp_path):
    from scipy.io import savemat

    from benchbench.data.readers import read_svhn

    (tmp_path / "garbage.mat").write_bytes(b"MATLAB 5.0 but not really" * 10)
    with pytest.raises(BenchbenchError, match="is not an SVHN .mat file"):
        read_svhn(tmp_path / "garbage.mat", "svhn")
    savemat(tmp_path / "wrong.mat", {"X": np.zeros((28, 28, 5), np.uint8), "y": np.ones((5, 1))})
    with pytest.raises(BenchbenchError, match="'X' must be 32 x 32 x 3 x N"):
        read_svhn(tmp_path / "wrong.mat", "svhn")
    savemat(
        tmp_path / "labels.mat",
        {"X": np.zeros((32, 32, 3, 4), np.uint8), "y": np.array([[1], [2], [11], [3]])},
    )
    with pytest.raises(BenchbenchError, match="labels run from 1 to 10"):
        read_svhn(tmp_path / "labels.mat", "svhn")
    with pytest.raises(BenchbenchError, match="not found: expected .*missing.mat"):
        read_svhn(tmp_path / "missing.mat", "svhn")


def test_stl10_binaries_are_read_row_major_with_labels_from_zero(tmp_path):
    from fake_datasets import write_stl10

    from benchbench.data.readers import read_stl10

    images = write_stl10(tmp_path, "train", 12, 0)
    raw = np.fromfile(tmp_path / "train_X.bin", dtype=np.uint8)
    # on disk each channel is stored column by column: byte 1 is row 1 of column 0
    assert raw[1] == images[0, 0, 1, 0] and raw[96] == images[0, 0, 0, 1]
    x, y = read_stl10(tmp_path, "train", "stl10")
    assert x.shape == (12, 3, 96, 96) and x.dtype == np.uint8 and np.array_equal(x, images)
    assert y.tolist() == [i % 10 for i in range(12)]
    unlabeled, none = read_stl10(tmp_path, "train", "stl10", labeled=False)
    assert none is None and np.array_equal(unlabeled, images)


def test_a_damaged_stl10_file_is_one_clear_error(tmp_path):
    from fake_datasets import write_stl10

    from benchbench.data.readers import read_stl10

    write_stl10(tmp_path, "train", 3, 0)
    with (tmp_path / "train_X.bin").open("ab") as handle:
        handle.write(b"\0" * 100)  # a truncated or padded transfer
    with pytest.raises(BenchbenchError, match="not a whole number of 3 x 96 x 96 images"):
        read_stl10(tmp_path, "train", "stl10")
    write_stl10(tmp_path, "test", 3, 0)
    (tmp_path / "test_y.bin").write_bytes(bytes([1, 2]))
    with pytest.raises(BenchbenchError, match="3 images in test_X.bin but 2 labels"):
        read_stl10(tmp_path, "test", "stl10")
    (tmp_path / "test_y.bin").write_bytes(bytes([1, 11, 2]))
    with pytest.raises(BenchbenchError, match="labels run from 1 to 10"):
        read_stl10(tmp_path, "test", "stl10")
    with pytest.raises(BenchbenchError, match="not found: expected .*unlabeled_X.bin"):
        read_stl10(tmp_path, "unlabeled", "stl10", labeled=False)


def test_stl10_and_svhn_extra_offer_their_unlabeled_sets(data_dir):
    stl = TASKS["stl10"].cls().load(data_dir)  # the fakes: 100 train, 30 test, 40 unlabeled
    assert [len(s) for s in (stl.train, stl.val, stl.test)] == [90, 10, 30]
    assert stl.unlabeled.shape == (40, 3, 96, 96) and stl.unlabeled.dtype == torch.uint8
    semi = TASKS["stl10-semi"].cls(labels_per_class=2).load(data_dir)
    assert len(semi.train) == 20 and len(semi.unlabeled) == 90 - 20 + 40
    assert torch.equal(semi.unlabeled[-40:], stl.unlabeled)  # the rest of train, then these
    plain, extra = TASKS["svhn"].cls().load(data_dir), TASKS["svhn-extra"].cls().load(data_dir)
    assert plain.unlabeled is None and extra.unlabeled.shape == (60, 3, 32, 32)
    assert torch.equal(extra.train.x, plain.train.x) and extra.pixels == plain.pixels
    assert TASKS["svhn-extra"].cls.has_unlabeled and not TASKS["svhn"].cls.has_unlabeled
