"""Tasks from a user's own data, declared in a suite file instead of written as a plugin::

    [tasks.leaves]
    source = "imagefolder"   # or "csv", "parquet", "npz", "hf"
    path = "~/data/leaves"   # relative paths start at the suite file's folder
    image_size = [64, 64]
    target_accuracy = 0.9
    budget = { epochs = 20 }

- ``imagefolder``: one sub-folder of images per class; ``train/``, ``val/`` and ``test/``
  folders of such sub-folders when present (else a stratified split with a fixed seed), and
  an ``unlabeled/`` folder of images as unlabeled data. Images are decoded once (resized to
  ``image_size`` when given; ``grayscale = true`` for one channel) and cached under the data
  folder as 8-bit pixels, keyed by the files' content, when they fit in memory
  (:data:`IN_MEMORY_BYTES`); else, or with ``in_memory = false``, they are decoded per
  sample through the loop's disk path, standardised by the training images' statistics
  (one pass, cached).
- ``csv`` and ``parquet``: one file (or ``train``/``val``/``test`` files in a folder) with a
  ``target`` column; ``features`` lists the input columns (default: every other one),
  standardised with the training split's statistics; rows without a target are unlabeled.
- ``hf``: a Hugging Face ``datasets`` dataset saved on disk (``save_to_disk``), its
  ``image`` (or ``features``) and ``label`` columns; rows labeled -1 or None are unlabeled.
  Needs ``pip install 'benchbench[hf]'``.
- ``npz``: arrays ``x`` and ``y`` (and ``x_val``/``y_val``, ``x_test``/``y_test``,
  ``x_unlabeled`` when the file has its own splits); ``x`` is ``(N, C, H, W)`` images,
  ``(N, C, L)`` sequences or ``(N, F)`` features.

The core hands the declarations of the suite being run to this plugin in
``$BENCHBENCH_DATA_TASKS`` (JSON), set before plugins load, so worker processes register the
same tasks. The declared options other than the path become the task's ``options``
hyperparameter (so they are part of every run id), and the files' content fingerprint is
too; the path is not, so the same data elsewhere gives the same ids.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

import benchbench
from benchbench import BenchbenchError, Budget, Split, Splits, Task, stratified_split
from benchbench.params import Param

from ._common import pixel_scale

ENV = "BENCHBENCH_DATA_TASKS"
_COMMON = {"source", "path", "target_accuracy", "budget", "summary", "suite_dir"}
_OPTIONS = {
    "imagefolder": {"image_size", "grayscale", "in_memory"},
    "csv": {"target", "features"},
    "parquet": {"target", "features"},
    "npz": set(),
    "hf": {"image", "features", "label", "image_size", "grayscale"},
}
IN_MEMORY_BYTES = 8 * 2**30
"""Decoded 8-bit images up to this size are held in memory (and on the device); a larger
image folder is read per sample from disk."""
_SPLIT = (0.7, 0.15, 0.15)
_SEED = 0
_MADE: dict[str, type[Task]] = {}


def declared_tasks() -> list[type[Task]]:
    """The task classes of the declarations in ``$BENCHBENCH_DATA_TASKS`` (none when unset);
    the same class again for a declaration seen before in this process."""
    text = os.environ.get(ENV)
    if not text:
        return []
    return [make(name, spec) for name, spec in sorted(json.loads(text).items())]


def make(name: str, spec: dict[str, Any]) -> type[Task]:
    """A task class named ``name`` from one declaration; ``ValueError`` naming the task and
    the problem for a declaration that cannot be one."""
    key = json.dumps([name, spec], sort_keys=True)
    if key in _MADE:
        return _MADE[key]
    where = f"task {name!r} (declared in a suite file)"
    source = spec.get("source")
    if source not in _OPTIONS:
        raise ValueError(f"{where}: source must be one of {', '.join(_OPTIONS)}, got {source!r}")
    unknown = set(spec) - _COMMON - _OPTIONS[source]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(sorted(unknown))} for {source}")
    if not isinstance(spec.get("path"), str):
        raise ValueError(f"{where}: 'path' must name the data (a folder or a file)")
    if "target_accuracy" not in spec:
        raise ValueError(
            f"{where}: give target_accuracy (the validation accuracy whose time-to-target "
            "is measured)"
        )
    path = Path(spec["path"]).expanduser()
    if not path.is_absolute():
        path = Path(spec.get("suite_dir") or ".") / path
    options = {k: spec[k] for k in sorted(_OPTIONS[source]) if k in spec}
    base = _BASES[source]
    shape, classes, modality = base.describe(path, options, where)
    attributes = {
        "name": name,
        "summary": spec.get("summary") or f"{source} data from {path}",
        "root": path,
        "source_kind": source,
        "num_classes": classes,
        "input_shape": shape,
        "modality": modality,
        "target_accuracy": spec.get("target_accuracy"),
        "budget": Budget.from_dict(spec.get("budget") or {"epochs": 10}),
        "defaults": {"options": json.dumps(options, sort_keys=True)},
        "params": {"options": Param("str", help="the declaration's options (from the suite file)")},
        "__module__": __name__,
        "__qualname__": f"Declared[{name}]",
    }
    cls = type(f"Declared_{len(_MADE)}", (base,), attributes)
    _MADE[key] = cls
    return cls


class _Declared(Task):
    """What every declared task shares: where its files are, how its data is split."""

    root: Path = Path()
    source_kind = ""
    has_unlabeled = True
    trainer_defaults = {"batch_size": 128}

    @property
    def options(self) -> dict[str, Any]:
        return json.loads(self.hparams["options"])

    @classmethod
    def describe(
        cls, path: Path, options: dict[str, Any], where: str
    ) -> tuple[tuple[int, ...], int, str]:
        raise NotImplementedError

    def _missing(self) -> BenchbenchError:
        return BenchbenchError(f"task {self.name}: no {self.source_kind} data at {self.root}")


def _splits(
    parts: dict[str, tuple[np.ndarray, np.ndarray]],
    unlabeled: np.ndarray | None,
    per_channel: bool,
    where: str,
) -> Splits:
    """Train, validation and test from the data's own splits, or a stratified split of what
    there is (fixed seed); scaled by the training split's statistics (8-bit images stay
    8-bit, scaled batch by batch); classes as 0..k-1."""
    if "train" not in parts:
        raise BenchbenchError(f"{where}: no training data")
    x, y = parts["train"]
    if "val" not in parts and "test" not in parts:  # one set: a stratified split of it
        index = stratified_split(y, _SPLIT, _SEED)
        parts = {s: (x[i], y[i]) for s, i in zip(("train", "val", "test"), index, strict=True)}
    elif "val" not in parts or "test" not in parts:  # one of them given: carve the other
        kept, carved = stratified_split(y, (0.85, 0.15), _SEED)
        parts = {**parts, "train": (x[kept], y[kept])}
        parts.setdefault("val", (x[carved], y[carved]))
        parts.setdefault("test", (x[carved], y[carved]))
    train_x = parts["train"][0]
    if per_channel and train_x.dtype == np.uint8 and train_x.ndim == 4:
        pixels = pixel_scale(train_x, np.arange(len(train_x)))
        kept = {s: _kept(x, y) for s, (x, y) in parts.items()}
        extra = None
        if unlabeled is not None and len(unlabeled):
            extra = torch.from_numpy(np.ascontiguousarray(unlabeled))
        return Splits(kept["train"], kept["val"], kept["test"], unlabeled=extra, pixels=pixels)
    train_x = train_x.astype(np.float32)
    axes = (0, *range(2, train_x.ndim)) if per_channel else (0,)
    mean = train_x.mean(axis=axes, keepdims=True, dtype=np.float64)
    std = train_x.std(axis=axes, keepdims=True, dtype=np.float64)
    std[std == 0] = 1.0

    def scaled(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((x.astype(np.float32) - mean) / std).astype(np.float32))

    made = [Split(scaled(x), torch.from_numpy(y.astype(np.int64))) for x, y in parts.values()]
    named = dict(zip(parts, made, strict=True))
    extra = scaled(unlabeled) if unlabeled is not None and len(unlabeled) else None
    return Splits(named["train"], named["val"], named["test"], unlabeled=extra)


def _kept(x: np.ndarray, y: np.ndarray) -> Split:
    return Split(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y.astype(np.int64)))


def _labels(values: list[Any], where: str) -> tuple[list[Any], dict[Any, int]]:
    classes = sorted(set(values), key=str)
    if len(classes) < 2:
        raise BenchbenchError(f"{where}: needs at least two classes, found {classes}")
    return classes, {c: i for i, c in enumerate(classes)}


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
        if not isinstance(options.get("in_memory", True), bool):
            raise ValueError(f"{where}: in_memory must be true or false")
        classes = cls._classes(path, where)
        channels = 1 if options.get("grayscale") else 3
        size = options.get("image_size")
        if size is not None:
            if not (
                isinstance(size, list)
                and len(size) == 2
                and all(isinstance(s, int) and s > 0 for s in size)
            ):
                raise ValueError(f"{where}: image_size must be [height, width], got {size!r}")
            return (channels, size[0], size[1]), len(classes), "image"
        first = next(iter(cls._images(cls._groups(path)["train"] / classes[0])), None)
        if first is None:
            raise ValueError(f"{where}: class {classes[0]!r} has no images")
        from PIL import Image

        with Image.open(first) as image:
            width, height = image.size
        return (channels, height, width), len(classes), "image"

    @staticmethod
    def _images(folder: Path) -> list[Path]:
        suffixes = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp")
        return sorted(p for p in folder.iterdir() if p.suffix.lower() in suffixes)

    def data_files(self, data_dir: Path) -> list[Path]:
        if not self.root.is_dir():
            return [self.root]
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def load(self, data_dir: Path) -> Splits:
        if not self.root.is_dir():
            raise self._missing()
        where = f"task {self.name}"
        classes = self._classes(self.root, where)
        listed = {}
        for split, folder in self._groups(self.root).items():
            files, labels = [], []
            for label, name in enumerate(classes):
                found = self._images(folder / name) if (folder / name).is_dir() else []
                if split == "train" and not found:
                    raise BenchbenchError(f"{where}: class {name!r} has no images in {folder}")
                files += found
                labels += [label] * len(found)
            listed[split] = (files, np.asarray(labels, dtype=np.int64))
        extra = self._images(self.root / "unlabeled") if (self.root / "unlabeled").is_dir() else []
        count = sum(len(files) for files, _ in listed.values()) + len(extra)
        in_memory = self.options.get("in_memory")
        if in_memory is False or (in_memory is None and count * _bytes(self) > IN_MEMORY_BYTES):
            return self._on_disk(Path(data_dir), listed, extra, where)
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
            index = stratified_split(labels, _SPLIT, _SEED)
            listed = {
                s: ([files[i] for i in part], labels[part])
                for s, part in zip(("train", "val", "test"), index, strict=True)
            }
        elif "val" not in listed or "test" not in listed:
            files, labels = listed["train"]
            kept, carved = stratified_split(labels, (0.85, 0.15), _SEED)
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
        digest = hashlib.sha256(self.hparams["options"].encode())
        for path in files:
            stat = path.stat()
            digest.update(
                f"{path.relative_to(self.root)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode()
            )
        cache = data_dir / "declared" / f"{self.name}-{digest.hexdigest()[:16]}.stats.json"
        try:
            stored = json.loads(cache.read_text())
            return np.asarray(stored["mean"]), np.asarray(stored["std"])
        except (OSError, ValueError, KeyError):
            pass
        channels = self.input_shape[0]
        total, squares, count = np.zeros(channels), np.zeros(channels), 0
        for path in files:
            pixels = _DiskImages.decode(path, self.input_shape, self.options, where) / 255.0
            total += pixels.sum(axis=(1, 2))
            squares += np.square(pixels).sum(axis=(1, 2))
            count += pixels.shape[1] * pixels.shape[2]
        mean = total / count
        std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
        std[std == 0] = 1.0
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            cache.write_text(json.dumps({"mean": mean.tolist(), "std": std.tolist()}))
        except OSError:
            pass
        return mean, std

    def _cached(
        self,
        data_dir: Path,
        listed: dict[str, tuple[list[Path], np.ndarray]],
        extra: list[Path],
        where: str,
    ) -> dict[str, np.ndarray]:
        """The decoded images of each split, from a cache under the data folder keyed by
        every file's name, size and modification time and the options (decoded once, then
        read back as one array file); decoded again whenever any of them changes."""
        groups = {split: files for split, (files, _) in listed.items()}
        if extra:
            groups["unlabeled"] = extra
        digest = hashlib.sha256(self.hparams["options"].encode())
        for split, files in groups.items():
            for path in files:
                stat = path.stat()
                name = f"{split}/{path.relative_to(self.root)}"
                digest.update(f"{name}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        cache = data_dir / "declared" / f"{self.name}-{digest.hexdigest()[:16]}.npz"
        if cache.is_file():
            with np.load(cache, allow_pickle=False) as stored:
                return {k: stored[k] for k in stored.files}
        decoded = {split: self._decode(files, where) for split, files in groups.items()}
        try:  # a cache that cannot be written only costs the next load its decoding
            cache.parent.mkdir(parents=True, exist_ok=True)
            partial = cache.with_name(cache.name + ".partial.npz")
            np.savez(partial, **decoded)
            partial.replace(cache)
        except OSError:
            pass
        return decoded

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
        except (UnidentifiedImageError, OSError) as exc:
            raise BenchbenchError(f"{where}: cannot decode {path} ({exc})") from exc


class TableTask(_Declared):
    """A CSV or Parquet table with a target column (see the module)."""

    name = "declared-table"
    summary = "a table with a target column, declared in a suite file"

    @classmethod
    def _files(cls, path: Path) -> dict[str, Path]:
        if path.is_dir():
            found = {s: p for s in ("train", "val", "test") for p in sorted(path.glob(f"{s}.*"))}
            return found
        return {"train": path}

    @classmethod
    def _read(cls, path: Path, where: str) -> Any:
        import pandas as pd

        try:
            if path.suffix.lower() in (".parquet", ".pq"):
                return pd.read_parquet(path)
            return pd.read_csv(path)
        except ImportError as exc:
            raise BenchbenchError(f"{where}: reading {path} needs pyarrow ({exc})") from exc
        except (OSError, ValueError) as exc:
            raise BenchbenchError(f"{where}: cannot read {path} ({str(exc)[:160]})") from exc

    @classmethod
    def _columns(cls, frame: Any, options: dict[str, Any], where: str, path: Path) -> list[str]:
        target = options.get("target")
        if not isinstance(target, str):
            raise BenchbenchError(f"{where}: give the 'target' column")
        if target not in frame.columns:
            raise BenchbenchError(
                f"{where}: {path} has no column {target!r} "
                f"(columns: {', '.join(map(str, frame.columns))[:200]})"
            )
        features = options.get("features") or [c for c in frame.columns if c != target]
        absent = [c for c in features if c not in frame.columns]
        if absent:
            raise BenchbenchError(f"{where}: {path} has no column(s) {', '.join(map(str, absent))}")
        return list(features)

    @classmethod
    def describe(cls, path, options, where):  # type: ignore[no-untyped-def]
        files = cls._files(path)
        if "train" not in files:
            raise ValueError(f"{where}: no table at {path} (a file, or a folder with train.csv)")
        try:
            frame = cls._read(files["train"], where)
            features = cls._columns(frame, options, where, files["train"])
        except BenchbenchError as exc:
            raise ValueError(str(exc)) from None
        labels = frame[options["target"]].dropna().tolist()
        return (len(features),), len(set(labels)), "tabular"

    def data_files(self, data_dir: Path) -> list[Path]:
        return list(self._files(self.root).values()) or [self.root]

    def load(self, data_dir: Path) -> Splits:
        where = f"task {self.name}"
        files = self._files(self.root)
        if "train" not in files:
            raise self._missing()
        frames = {s: self._read(p, where) for s, p in files.items()}
        target = self.options["target"]
        _, codes = _labels(frames["train"][target].dropna().tolist(), where)
        parts, unlabeled = {}, []
        for split, frame in frames.items():
            features_here = self._columns(frame, self.options, where, files[split])
            try:
                x = frame[features_here].to_numpy(dtype=np.float32)
            except ValueError as exc:
                raise BenchbenchError(
                    f"{where}: {files[split]}: features must be numbers ({exc})"
                ) from exc
            known = frame[target].notna().to_numpy()
            unseen = set(frame[target][known]) - set(codes)
            if unseen:
                raise BenchbenchError(
                    f"{where}: {files[split]} has classes the training data lacks: "
                    f"{sorted(unseen, key=str)[:5]}"
                )
            y = np.asarray([codes[v] for v in frame[target][known]], dtype=np.int64)
            parts[split] = (x[known], y)
            unlabeled.append(x[~known])
        rest = np.concatenate(unlabeled)
        return _splits(parts, rest, per_channel=False, where=where)


class NpzTask(_Declared):
    """Arrays in an ``.npz`` file (see the module)."""

    name = "declared-npz"
    summary = "arrays x and y in an .npz file, declared in a suite file"

    @classmethod
    def describe(cls, path, options, where):  # type: ignore[no-untyped-def]
        try:
            with np.load(path, allow_pickle=False) as arrays:
                x, y = arrays["x"], arrays["y"]
                shape = tuple(int(d) for d in x.shape[1:])
                classes = len(np.unique(y))
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(
                f"{where}: {path} is not an .npz with arrays x and y ({exc})"
            ) from None
        modality = {3: "image", 2: "sequence", 1: "tabular"}.get(len(shape))
        if modality is None:
            raise ValueError(f"{where}: x must be (N, C, H, W), (N, C, L) or (N, F), got {x.shape}")
        return shape, classes, modality

    def data_files(self, data_dir: Path) -> list[Path]:
        return [self.root]

    def load(self, data_dir: Path) -> Splits:
        where = f"task {self.name}"
        if not self.root.is_file():
            raise self._missing()
        with np.load(self.root, allow_pickle=False) as arrays:
            found = {k: arrays[k] for k in arrays.files}
        if len(found["x"]) != len(found["y"]):
            raise BenchbenchError(
                f"{where}: {len(found['x'])} examples in x but {len(found['y'])} labels in y"
            )
        _, codes = _labels(found["y"].tolist(), where)
        parts = {}
        for split, suffix in (("train", ""), ("val", "_val"), ("test", "_test")):
            if f"x{suffix}" in found:
                y = np.asarray([codes[v] for v in found[f"y{suffix}"].tolist()], dtype=np.int64)
                parts[split] = (found[f"x{suffix}"], y)
        per_channel = found["x"].ndim > 2
        return _splits(parts, found.get("x_unlabeled"), per_channel=per_channel, where=where)


class HFTask(_Declared):
    """A Hugging Face ``datasets`` dataset saved on disk (``save_to_disk``): its ``image``
    column (or the ``features`` columns of a table) and its ``label`` column; the dataset's
    own ``train``/``validation``/``test`` splits when it has them. Needs the ``hf`` extra."""

    name = "declared-hf"
    summary = "a Hugging Face dataset saved on disk, declared in a suite file"

    @staticmethod
    def _open(path: Path, where: str) -> dict[str, Any]:
        try:
            from datasets import DatasetDict, load_from_disk
        except ImportError as exc:
            raise BenchbenchError(
                f"{where}: source 'hf' needs the datasets package: pip install 'benchbench[hf]'"
            ) from exc
        try:
            found = load_from_disk(str(path))
        except (FileNotFoundError, ValueError, OSError) as exc:
            raise BenchbenchError(f"{where}: {path} is not a saved dataset ({exc})") from exc
        if isinstance(found, DatasetDict):
            names = {"validation": "val", "valid": "val"}
            return {names.get(k, k): v for k, v in found.items()}
        return {"train": found}

    @classmethod
    def _columns(cls, split: Any, options: dict[str, Any], where: str) -> tuple[str, list[str]]:
        label = options.get("label", "label")
        inputs = [options["image"]] if "image" in options else list(options.get("features") or [])
        if not inputs:
            raise BenchbenchError(f"{where}: give the 'image' column, or the 'features' columns")
        absent = [c for c in (label, *inputs) if c not in split.column_names]
        if absent:
            raise BenchbenchError(
                f"{where}: the dataset has no column(s) {', '.join(absent)} "
                f"(columns: {', '.join(split.column_names)})"
            )
        return label, inputs

    @classmethod
    def describe(cls, path, options, where):  # type: ignore[no-untyped-def]
        try:
            splits = cls._open(path, where)
            if "train" not in splits:
                raise BenchbenchError(f"{where}: the dataset has no 'train' split")
            train = splits["train"]
            label, inputs = cls._columns(train, options, where)
        except BenchbenchError as exc:
            raise ValueError(str(exc)) from None
        classes = len({v for v in train[label] if v is not None and v != -1})
        if "image" not in options:
            return (len(inputs),), classes, "tabular"
        size = options.get("image_size")
        first = train[0][options["image"]]
        channels = 1 if options.get("grayscale") else 3
        height, width = (size[0], size[1]) if size else (first.size[1], first.size[0])
        return (channels, height, width), classes, "image"

    def data_files(self, data_dir: Path) -> list[Path]:
        if not self.root.is_dir():
            return [self.root]
        return sorted(p for p in self.root.rglob("*") if p.is_file())

    def load(self, data_dir: Path) -> Splits:
        where = f"task {self.name}"
        splits = self._open(self.root, where)
        label, inputs = self._columns(splits["train"], self.options, where)
        _, codes = _labels([v for v in splits["train"][label] if v is not None and v != -1], where)
        parts, rest = {}, []
        for name in ("train", "val", "test"):
            if name not in splits:
                continue
            table = splits[name]
            if "image" in self.options:
                x = np.stack(
                    [
                        _pixels(image, self.input_shape, self.options, where, f"{name}[{i}]")
                        for i, image in enumerate(table[self.options["image"]])
                    ]
                )
            else:
                x = np.column_stack([np.asarray(table[c], dtype=np.float32) for c in inputs])
            labels = table[label]
            known = np.asarray([v is not None and v != -1 for v in labels])
            y = np.asarray([codes[v] for v, k in zip(labels, known, strict=True) if k])
            parts[name] = (x[known], y.astype(np.int64))
            rest.append(x[~known])
        unlabeled = np.concatenate(rest) if rest else None
        return _splits(parts, unlabeled, per_channel="image" in self.options, where=where)


_BASES: dict[str, Any] = {
    "imagefolder": ImageFolderTask,
    "csv": TableTask,
    "parquet": TableTask,
    "npz": NpzTask,
    "hf": HFTask,
}


@benchbench.hookimpl
def benchbench_register_components(registry: Any) -> None:
    for task in declared_tasks():
        registry.add(task)
