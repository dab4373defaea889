"""Tiny datasets written in the real on-disk formats (IDX, CIFAR python batches), so the
readers and the tasks on top of them are tested without downloading anything."""

from __future__ import annotations

import gzip
import pickle
import struct
from pathlib import Path

import numpy as np


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> None:
    """LeCun's IDX format: 0, 0, type code, ndim, big-endian uint32 dims, big-endian data."""
    code = {np.uint8: 0x08, np.int32: 0x0C, np.float32: 0x0D}[array.dtype.type]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    with (gzip.open if gz else open)(path, "wb") as handle:
        handle.write(payload)


def fake_mnist(
    root: Path, folder: str, n_train: int = 240, n_test: int = 50, gz: bool = False
) -> None:
    """``root/folder/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``."""
    raw = root / folder / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    suffix = ".gz" if gz else ""
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(
            raw / f"{prefix}-images-idx3-ubyte{suffix}",
            rng.integers(0, 256, (n, 28, 28), dtype=np.uint8),
            gz,
        )
        write_idx(
            raw / f"{prefix}-labels-idx1-ubyte{suffix}", (np.arange(n) % 10).astype(np.uint8), gz
        )


def write_cifar_batch(path: Path, n: int, label_key: str, classes: int, seed: int) -> dict:
    """One pickled CIFAR batch: ``data`` (n x 3072 uint8, channel-major) and labels."""
    rng = np.random.default_rng(seed)
    batch = {
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        label_key.encode(): [i % classes for i in range(n)],
        b"batch_label": b"x",
    }
    path.write_bytes(pickle.dumps(batch, protocol=2))
    return batch


def fake_cifar10(root: Path, per_batch: int = 40, n_test: int = 30) -> None:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, 6):
        write_cifar_batch(folder / f"data_batch_{i}", per_batch, "labels", 10, i)
    write_cifar_batch(folder / "test_batch", n_test, "labels", 10, 9)


def fake_cifar100(root: Path, n_train: int = 400, n_test: int = 20) -> None:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    write_cifar_batch(folder / "train", n_train, "fine_labels", 100, 1)
    write_cifar_batch(folder / "test", n_test, "fine_labels", 100, 2)


def write_svhn_mat(path: Path, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN ``.mat`` (MATLAB 5): ``X`` 32 x 32 x 3 x n uint8, ``y`` n x 1 in 1..10."""
    from scipy.io import savemat

    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    labels = (np.arange(n) % 10 + 1).astype(np.uint8).reshape(-1, 1)
    savemat(path, {"X": images, "y": labels})
    return images, labels


def fake_svhn(root: Path, n_train: int = 600, n_test: int = 50) -> None:
    root.mkdir(parents=True, exist_ok=True)
    write_svhn_mat(root / "train_32x32.mat", n_train, 1)
    write_svhn_mat(root / "test_32x32.mat", n_test, 2)


def write_stl10(folder: Path, prefix: str, n: int, seed: int, labeled: bool = True) -> np.ndarray:
    """STL-10's ``<prefix>_X.bin`` (each image 3 x 96 x 96 bytes, column-major per channel)
    and ``<prefix>_y.bin`` (labels 1-10); returns the images as ``(n, 3, 96, 96)``."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{prefix}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
    if labeled:
        (folder / f"{prefix}_y.bin").write_bytes((np.arange(n) % 10 + 1).astype(np.uint8).tobytes())
    return images


def fake_stl10(root: Path, n_train: int = 100, n_test: int = 30, n_unlabeled: int = 40) -> None:
    folder = root / "stl10_binary"
    write_stl10(folder, "train", n_train, 1)
    write_stl10(folder, "test", n_test, 2)
    write_stl10(folder, "unlabeled", n_unlabeled, 3, labeled=False)


def fake_standard_datasets(root: Path) -> None:
    """Small MNIST, Fashion-MNIST, KMNIST, CIFAR-10, CIFAR-100, SVHN (with ``extra``) and
    STL-10 under ``root``."""
    fake_mnist(root, "MNIST")
    fake_mnist(root, "FashionMNIST", gz=True)
    fake_mnist(root, "KMNIST", gz=True)
    fake_cifar10(root)
    fake_cifar100(root)
    fake_svhn(root)
    write_svhn_mat(root / "extra_32x32.mat", 60, 3)
    fake_stl10(root)
