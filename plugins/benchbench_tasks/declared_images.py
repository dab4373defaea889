"""Tasks declared from a folder of class sub-folders of images (:mod:`.declared`):
decoded once into 8-bit pixels held in memory, or per sample from disk when they would not
fit."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from benchbench import BenchbenchError, Splits, Task
from benchbench.data.readers import regular
from benchbench.errors import one_line

from ._common import pixel_moments
from .declared_base import _SPLIT, _Declared, _memory, _splits, split_by_class

IN_MEMORY_BYTES = 8 * 2**30
"""Decoded 8-bit images up to this size are held in memory (and on the device); a larger
image folder is read per sample from disk."""


class ImageFolderTask(_Declared):
    """A folder of class sub-folders of images (see the module)."""

    name = "declared-imagefolder"
    summary = "images in class sub-folders, declared in a suite file"

    @staticmethod
    def _groups(root: Path) -> dict[str, Path]:
        split = {s: root / s for s in ("train", "val", "test") if (root / s).is_dir()}
        return split or {"train": root}

    @classmethod
    def _classes(cls, root: Path, where: str) -> list[str]:
        train = cls._groups(root)["train"]
        names = sorted(p.name for p in train.iterdir() if p.is_dir() and p.name != "unlabeled")
        if len(names) < 2:
            raise ValueError(
                f"{where}: {train} needs one sub-folder of images per class (two or more)"
            )
        return names

    @classmethod
    def describe(cls, path, options, where):  # type: ignore[no-untyped-def]
        if not path.is_dir():
            raise ValueError(f"{where}: {path} is not a folder")
        classes = cls._classes(path, where)
        channels = 1 if options.get("grayscale") else 3
        size = options.get("image_size")
        if size is not None:
            return (channels, size[0], size[1]), len(classes), "image"
        first = next(iter(cls._images(cls._groups(path)["train"] / classes[0])), None)
        if first is None:
            raise ValueError(f"{where}: class {classes[0]!r} has no images")
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(first) as image:
                width, height = image.size
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise ValueError(f"{where}: cannot decode {first} ({exc})") from exc
        return (channels, height, width), len(classes), "image"

    @staticmethod
    def _images(folder: Path, where: str = "") -> list[Path]:
        """The image files directly in ``folder`` (by their names), regular files only."""
        suffixes = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
        try:
            return sorted(
                p for p in folder.iterdir() if p.suffix.lower() in suffixes and regular(p)
            )
        except PermissionError as exc:
            raise BenchbenchError(f"{where}: cannot read {folder} ({exc.strerror})") from exc

    def _listing(self, where: str) -> tuple[dict[str, tuple[list[Path], np.ndarray]], list[Path]]:
        """Each split's image files and labels, and the unlabeled images: only the images
        in the class folders (a folder that is no image folder, ``/usr``, is one line at its
        first class without images, before any file is read)."""
        classes = self._classes(self.root, where)
        listed = {}
        for split, folder in self._groups(self.root).items():
            files, labels = [], []
            for label, name in enumerate(classes):
                found = self._images(folder / name, where) if (folder / name).is_dir() else []
                if split == "train" and not found:
                    raise BenchbenchError(f"{where}: class {name!r} has no images in {folder}")
                files += found
                labels += [label] * len(found)
            listed[split] = (files, np.asarray(labels, dtype=np.int64))
        unlabeled = self.root / "unlabeled"
        extra = self._images(unlabeled, where) if unlabeled.is_dir() else []
        return listed, extra

    def data_files(self, data_dir: Path) -> list[Path]:
        """The images the task reads (their content is its fingerprint); the folder itself
        when it is not an image folder (loading it then says why)."""
        try:
            listed, extra = self._listing(f"task {self.name}")
        except (BenchbenchError, ValueError, OSError):
            return [self.root]
        return sorted([*(f for files, _ in listed.values() for f in files), *extra])

    def load(self, data_dir: Path) -> Splits:
        if not self.root.is_dir():
            raise self._missing()
        where = f"task {self.name}"
        try:
            listed, extra = self._listing(where)
        except ValueError as exc:
            raise BenchbenchError(str(exc)) from None
        count = sum(len(files) for files, _ in listed.values()) + len(extra)
        in_memory = self.options.get("in_memory")
        if in_memory is False or (in_memory is None and count * _bytes(self) > IN_MEMORY_BYTES):
            return self._on_disk(Path(data_dir), listed, extra, where)
        if count * _bytes(self) > _memory() // 2:
            raise BenchbenchError(
                f"{where}: {count} images of {self.input_shape} are "
                f"{count * _bytes(self) / 1e9:.1f} GB decoded, more than half this machine's "
                "memory: leave in_memory unset (read per sample), or give a smaller image_size"
            )
        decoded = self._cached(Path(data_dir), listed, extra, where)
        parts = {split: (decoded[split], labels) for split, (_, labels) in listed.items()}
        return _splits(parts, decoded.get("unlabeled"), per_channel=True, where=where)

    def _on_disk(
        self,
        data_dir: Path,
        listed: dict[str, tuple[list[Path], np.ndarray]],
        extra: list[Path],
        where: str,
    ) -> Splits:
        """Splits that decode each image when the loop draws it (``data_path`` disk),
        standardised per channel by the training images' mean and std (a pass over them,
        cached beside the in-memory caches)."""
        if extra:
            raise BenchbenchError(
                f"{where}: an unlabeled/ folder needs its images in memory; it holds "
                f"{len(extra)} (leave in_memory unset, or move the folder away)"
            )
        if "val" not in listed and "test" not in listed:
            files, labels = listed["train"]
            index = split_by_class(labels, _SPLIT, where)
            listed = {
                s: ([files[i] for i in part], labels[part])
                for s, part in zip(("train", "val", "test"), index, strict=True)
            }
        elif "val" not in listed or "test" not in listed:
            files, labels = listed["train"]
            kept, carved = split_by_class(labels, (0.85, 0.15), where)
            listed = {**listed, "train": ([files[i] for i in kept], labels[kept])}
            for part in ("val", "test"):
                listed.setdefault(part, ([files[i] for i in carved], labels[carved]))
        mean, std = self._statistics(data_dir, listed["train"][0], where)
        made = {
            part: _DiskImages(files, labels, self.input_shape, self.options, mean, std, where)
            for part, (files, labels) in listed.items()
        }
        return Splits(made["train"], made["val"], made["test"])

    def _statistics(self, data_dir: Path, files: list[Path], where: str) -> tuple[Any, Any]:
        """Per-channel mean and std (of pixels scaled to [0, 1]) of the training images,
        accumulated one image at a time and kept in a small file keyed like the caches."""
        cache = self._cache_path(data_dir, {"train": files}, "stats.json")
        try:
            stored = json.loads(cache.read_text())
            return np.asarray(stored["mean"]), np.asarray(stored["std"])
        except (OSError, ValueError, KeyError):
            pass
        mean, std = pixel_moments(
            _DiskImages.decode(path, self.input_shape, self.options, where)[None] for path in files
        )
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"mean": mean.tolist(), "std": std.tolist()}))
        except OSError:
            pass
        return mean, std

    def _cache_path(self, data_dir: Path, groups: dict[str, list[Path]], suffix: str) -> Path:
        """Where what is derived from ``groups`` (split -> files) is kept under the data
        folder: keyed by the options and every file's split, name, size and modification
        time, so a change to any of them derives it again."""
        digest = hashlib.sha256(self.hparams["options"].encode())
        for split, files in groups.items():
            for path in files:
                stat = path.stat()
                name = f"{split}/{path.relative_to(self.root)}"
                digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        return data_dir / "declared" / f"{self.name}-{digest.hexdigest()[:16]}.{suffix}"

    def _cached(
        self,
        data_dir: Path,
        listed: dict[str, tuple[list[Path], np.ndarray]],
        extra: list[Path],
        where: str,
    ) -> dict[str, np.ndarray]:
        """The decoded images of each split, from a cache under the data folder keyed by
        every file's name, size and modification time and the options (decoded once, then
        read back as one array file); decoded again whenever any of them changes, and when
        the cache is damaged (truncated, or not the arrays it should hold: a warning)."""
        groups = {split: files for split, (files, _) in listed.items()}
        if extra:
            groups["unlabeled"] = extra
        cache = self._cache_path(data_dir, groups, "npz")
        if cache.is_file():
            found = self._stored(cache, groups)
            if found is not None:
                return found
        decoded = {split: self._decode(files, where) for split, files in groups.items()}
        try:  # a cache that cannot be written only costs the next load its decoding
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(f"{cache.name}.{os.getpid()}.partial.npz")  # workers race
            np.savez(partial, **decoded)
            partial.replace(cache)
        except OSError:
            pass
        return decoded

    def _stored(self, cache: Path, groups: dict[str, list[Path]]) -> dict[str, np.ndarray] | None:
        """The arrays of ``cache``, or None (with a warning) when it is damaged."""
        import warnings
        import zipfile

        from benchbench.errors import BenchbenchWarning

        try:
            with np.load(cache, allow_pickle=False) as stored:
                found = {k: stored[k] for k in stored.files}
            shapes = {k: (len(files), *self.input_shape) for k, files in groups.items()}
            if {k: v.shape for k, v in found.items()} != shapes:
                raise ValueError("its arrays are not the images listed")
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            warnings.warn(
                f"task {self.name}: the decoded-image cache {cache} is damaged "
                f"({one_line(exc, 100)}); decoding the images again",
                BenchbenchWarning,
                stacklevel=2,
            )
            return None
        return found

    def _decode(self, files: list[Path], where: str) -> np.ndarray:
        out = np.empty((len(files), *self.input_shape), dtype=np.uint8)
        for i, path in enumerate(files):
            out[i] = _DiskImages.decode(path, self.input_shape, self.options, where)
        return out


def _pixels(
    image: Any, shape: tuple[int, ...], options: dict[str, Any], where: str, name: str
) -> np.ndarray:
    """One image as ``(channels, height, width)`` bytes: converted, and resized when the
    declaration gives ``image_size`` (else one of another size is an error naming it)."""
    channels, height, width = shape
    image = image.convert("L" if channels == 1 else "RGB")
    if image.size != (width, height):
        if "image_size" not in options:
            raise BenchbenchError(
                f"{where}: {name} is {image.size[0]}x{image.size[1]}, others "
                f"{width}x{height}: give image_size to resize them all"
            )
        image = image.resize((width, height))
    array = np.asarray(image, dtype=np.uint8)
    return array[None] if array.ndim == 2 else array.transpose(2, 0, 1)


def _bytes(task: Task) -> int:
    """Bytes of one decoded 8-bit image of ``task``."""
    return int(np.prod(task.input_shape))


class _DiskImages(torch.utils.data.Dataset):
    """Image files decoded one at a time, as the model sees them: converted and resized as
    declared, scaled to [0, 1] and standardised per channel."""

    def __init__(
        self,
        files: list[Path],
        labels: np.ndarray,
        shape: tuple[int, ...],
        options: dict[str, Any],
        mean: np.ndarray,
        std: np.ndarray,
        where: str,
    ) -> None:
        self.files, self.labels = files, labels.astype(np.int64)
        self.shape, self.options, self.where = shape, options, where
        self.mean = np.asarray(mean, dtype=np.float32).reshape(-1, 1, 1)
        self.std = np.asarray(std, dtype=np.float32).reshape(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        pixels = self.decode(self.files[index], self.shape, self.options, self.where)
        x = (pixels.astype(np.float32) / 255.0 - self.mean) / self.std
        return torch.from_numpy(x), int(self.labels[index])

    @staticmethod
    def decode(
        path: Path, shape: tuple[int, ...], options: dict[str, Any], where: str
    ) -> np.ndarray:
        """One image file as ``(channels, height, width)`` bytes; one line if it will not."""
        from PIL import Image, UnidentifiedImageError

        try:
            with Image.open(path) as image:
                return _pixels(image, shape, options, where, str(path))
        except (UnidentifiedImageError, OSError, Image.DecompressionBombError) as exc:
            raise BenchbenchError(f"{where}: cannot decode {path} ({exc})") from exc
