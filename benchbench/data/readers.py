"""Readers for the standard dataset formats, in the layouts torchvision users already have.

- IDX files (MNIST, Fashion-MNIST), plain or gzipped:
  ``<root>/MNIST/raw/train-images-idx3-ubyte``.
- The CIFAR python batches: ``<root>/cifar-10-batches-py/data_batch_1`` ...,
  ``<root>/cifar-100-python/train``.
- SVHN's MATLAB files: ``<root>/train_32x32.mat``, ``test_32x32.mat``, ``extra_32x32.mat``.
- STL-10's binaries: ``<root>/stl10_binary/train_X.bin``, ``train_y.bin``, ``test_X.bin`` ...
- An image folder: ``<root>/<class>/<image>.png|.jpg``, one folder per class, decoded per
  sample (the disk-bound case the DataLoader path exists for).

Nothing here downloads: missing files raise :class:`~benchbench.BenchbenchError` naming where they
belong.
"""

from __future__ import annotations

import codecs
import gzip
import pickle
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import BenchbenchError, one_line
from ..phrasing import option

_IDX_TYPES = {
    0x08: np.uint8,
    0x09: np.int8,
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def regular(path: Path) -> Path:
    """``path``, refused in one line unless it is a regular file: a pipe or a device named
    like data (``wait.png``) would block the read, or never end it, before any run's time
    limit starts."""
    if not path.is_file():
        kind = "a folder" if path.is_dir() else "not a regular file (a pipe, a device)"
        raise BenchbenchError(f"{path} is {kind}: data is read from regular files only")
    return path


def missing(what: str, expected: Path, hint: str) -> BenchbenchError:
    """The one-line error for data that is not where it should be."""
    return BenchbenchError(
        f"{what} not found: expected {expected}; {hint} "
        f"(the data folder is {option('data_dir')}, or $BENCHBENCH_DATA)"
    )


def find(folder: Path, name: str) -> Path | None:
    """``folder/name`` or ``folder/name.gz``, whichever exists."""
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (LeCun's MNIST format): magic ``0 0 type ndim``, big-endian dims, data."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise BenchbenchError(f"{path} is not an IDX file (bad magic number)")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(raw) - offset != expected:
        raise BenchbenchError(
            f"{path}: IDX header says {shape} but the file holds "
            f"{len(raw) - offset} bytes of data, not {expected}"
        )
    return (
        np.frombuffer(raw, dtype=dtype, offset=offset)
        .reshape(shape)
        .astype(dtype.newbyteorder("="))
    )


def idx_pair_names(prefix: str) -> list[str]:
    """``<prefix>-images-idx3-ubyte`` and ``<prefix>-labels-idx1-ubyte``."""
    return [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]


def read_idx_pair(folder: Path, prefix: str, what: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels ``<prefix>-images-idx3-ubyte`` / ``<prefix>-labels-idx1-ubyte``."""
    arrays = []
    for name in idx_pair_names(prefix):
        path = find(folder, name)
        if path is None:
            raise missing(what, folder / name, "put the four IDX files (plain or .gz) there")
        arrays.append(read_idx(path))
    images, labels = arrays
    if len(images) != len(labels):
        raise BenchbenchError(f"{what}: {len(images)} images but {len(labels)} labels in {folder}")
    return images, labels


def read_cifar(
    folder: Path, files: Sequence[str], label_key: str, what: str
) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR python batches: pickled dicts of ``data`` (N x 3072 uint8, channel-major) and
    labels; returns images ``(N, 3, 32, 32)`` uint8 and labels int64."""
    images, labels = [], []
    for name in files:
        path = folder / name
        if not path.is_file():
            raise missing(what, path, "unpack the python version of the dataset there")
        batch = load_pickle(path)
        try:
            images.append(np.asarray(batch[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32))
            labels.append(np.asarray(batch[label_key.encode()], dtype=np.int64))
        except (KeyError, ValueError, TypeError, IndexError) as exc:
            raise BenchbenchError(f"{path} is not a CIFAR python batch ({exc})") from exc
    return np.concatenate(images), np.concatenate(labels)


def _numpy_globals() -> dict[tuple[str, str], object]:
    """The only callables a CIFAR batch needs to rebuild its arrays, under the module names
    NumPy 1 and 2 and Python 2 and 3 pickles use; each only builds arrays from data."""
    core = getattr(np, "_core", None) or np.core
    allowed: dict[tuple[str, str], object] = {("_codecs", "encode"): codecs.encode}
    for module in ("numpy.core.multiarray", "numpy._core.multiarray"):
        allowed[(module, "_reconstruct")] = core.multiarray._reconstruct
        allowed[(module, "scalar")] = core.multiarray.scalar
    for module in ("numpy.core.numeric", "numpy._core.numeric"):
        allowed[(module, "_frombuffer")] = core.numeric._frombuffer
    allowed[("numpy", "ndarray")] = np.ndarray
    allowed[("numpy", "dtype")] = np.dtype
    return allowed


class _ArraysOnly(pickle.Unpickler):
    """Unpickles builtin containers and NumPy arrays, and refuses every other global, so a
    crafted file in the data folder cannot run code (``pickle.load`` would run any)."""

    allowed = _numpy_globals()

    def find_class(self, module: str, name: str) -> object:
        found = self.allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return found


def load_pickle(path: Path) -> object:
    """A pickle of NumPy arrays and builtin containers (Python 2 strings read as bytes, as
    the CIFAR batches need); anything else in it is refused with one clear line."""
    try:
        with open(path, "rb") as handle:
            return _ArraysOnly(handle, encoding="bytes").load()
    except pickle.UnpicklingError as exc:
        raise BenchbenchError(f"{path} is not a CIFAR python batch ({exc})") from exc
    except (EOFError, ValueError, TypeError, AttributeError, IndexError, KeyError) as exc:
        raise BenchbenchError(f"{path} is not a CIFAR python batch (damaged: {exc})") from exc


class ImageFolder(Dataset):
    """One sub-folder of images per class (sorted names are classes 0, 1, ...), decoded from
    disk on every access, as a float tensor ``(channels, height, width)`` in [0, 1] scaled by
    ``(x - mean) / std``."""

    def __init__(
        self, root: Path, mean: float = 0.0, std: float = 1.0, grayscale: bool = True
    ) -> None:
        root = Path(root)
        if not root.is_dir():
            raise missing("image folder", root, "make one sub-folder of PNG/JPEG files per class")
        self.classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.samples = [
            (path, label)
            for label, name in enumerate(self.classes)
            for path in sorted((root / name).iterdir())
            if path.suffix.lower() in IMAGE_SUFFIXES and regular(path)
        ]
        if not self.samples:
            raise missing(
                "images",
                root / "<class>" / "*.png",
                "put PNG/JPEG files in one sub-folder per class",
            )
        self.mean, self.std, self.grayscale = mean, std, grayscale

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        from PIL import Image

        path, label = self.samples[index]
        with Image.open(path) as image:
            array = np.asarray(image.convert("L" if self.grayscale else "RGB"), dtype=np.float32)
        array = array[None] if array.ndim == 2 else array.transpose(2, 0, 1)
        return torch.from_numpy((array / 255.0 - self.mean) / self.std), label

    @property
    def targets(self) -> list[int]:
        return [label for _, label in self.samples]


def read_svhn(path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """One SVHN file in its MATLAB 5 format (``train_32x32.mat``, ``test_32x32.mat``):
    ``X`` of 32 x 32 x 3 x N uint8 and ``y`` of N labels 1-10, 10 standing for the digit 0;
    returns images ``(N, 3, 32, 32)`` uint8 and labels 0-9. (``loadmat`` builds arrays
    only: a crafted file cannot run code.)"""
    if not path.is_file():
        raise missing(what, path, "put the SVHN .mat files (32x32 format) there")
    from scipy.io import loadmat  # noqa: PLC0415 - only SVHN needs it

    try:
        found = loadmat(path, variable_names=["X", "y"])
    except Exception as exc:  # noqa: BLE001 - scipy raises many kinds for a damaged file
        raise BenchbenchError(f"{path} is not an SVHN .mat file ({one_line(exc, 160)})") from exc
    images, labels = found.get("X"), found.get("y")
    if (
        not isinstance(images, np.ndarray)
        or images.ndim != 4
        or images.shape[:3] != (32, 32, 3)
        or images.dtype != np.uint8
    ):
        shape = getattr(images, "shape", None)
        raise BenchbenchError(f"{path}: 'X' must be 32 x 32 x 3 x N bytes, got {shape}")
    if not isinstance(labels, np.ndarray) or labels.size != images.shape[3]:
        raise BenchbenchError(
            f"{path}: {images.shape[3]} images but 'y' does not hold as many labels"
        )
    labels = labels.reshape(-1).astype(np.int64)
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise BenchbenchError(
            f"{path}: SVHN labels run from 1 to 10, found {labels.min()}..{labels.max()}"
        )
    return np.ascontiguousarray(images.transpose(3, 2, 0, 1)), labels % 10


STL10_SIDE = 96


def read_stl10(
    folder: Path, prefix: str, what: str, labeled: bool = True
) -> tuple[np.ndarray, np.ndarray | None]:
    """STL-10's binaries ``<prefix>_X.bin`` (raw bytes, each image 3 x 96 x 96 stored
    column-major per channel) and, when ``labeled``, ``<prefix>_y.bin`` (one byte per image,
    1-10); returns images ``(N, 3, 96, 96)`` uint8 and labels 0-9 (or None). The 2.8 GB
    unlabeled file is transposed a block at a time, so reading it peaks at its own size."""
    images_path = folder / f"{prefix}_X.bin"
    if not images_path.is_file():
        raise missing(what, images_path, "unpack stl10_binary.tar.gz in the data folder")
    per_image = 3 * STL10_SIDE * STL10_SIDE
    size = images_path.stat().st_size
    if size == 0 or size % per_image:
        raise BenchbenchError(
            f"{images_path}: {size} bytes is not a whole number of 3 x 96 x 96 images"
        )
    stored = np.memmap(images_path, dtype=np.uint8, mode="r").reshape(-1, 3, STL10_SIDE, STL10_SIDE)
    images = np.empty_like(stored)
    for start in range(0, len(stored), 4096):
        images[start : start + 4096] = stored[start : start + 4096].transpose(0, 1, 3, 2)
    del stored
    if not labeled:
        return images, None
    labels_path = folder / f"{prefix}_y.bin"
    if not labels_path.is_file():
        raise missing(what, labels_path, "unpack stl10_binary.tar.gz in the data folder")
    labels = np.fromfile(labels_path, dtype=np.uint8).astype(np.int64)
    if len(labels) != len(images):
        raise BenchbenchError(
            f"{what}: {len(images)} images in {images_path.name} but {len(labels)} labels "
            f"in {labels_path.name}"
        )
    if labels.size and (labels.min() < 1 or labels.max() > 10):
        raise BenchbenchError(
            f"{labels_path}: STL-10 labels run from 1 to 10, found {labels.min()}..{labels.max()}"
        )
    return images, labels - 1
