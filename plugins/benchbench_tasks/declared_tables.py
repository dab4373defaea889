"""Tasks declared from tables (CSV, Parquet), array files (npz) and Hugging Face datasets
saved on disk (:mod:`.declared`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchbench import BenchbenchError, Splits
from benchbench.data.readers import regular

from .declared_base import _Declared, _labels, _memory, _splits
from .declared_images import _pixels

_PARQUET = (".parquet", ".pq")


class TableTask(_Declared):
    """A CSV or Parquet table with a target column (see the module)."""

    name = "declared-table"
    summary = "a table with a target column, declared in a suite file"
    source_kind = "csv"

    @classmethod
    def _files(cls, path: Path, source: str) -> dict[str, Path]:
        """The split files of the table at ``path`` (a file: the training split; a folder:
        ``train``, ``val`` and ``test`` files of the declared source's kind)."""
        if path.is_dir():
            suffixes = _PARQUET if source == "parquet" else (".csv",)
            return {
                s: path / f"{s}{x}" for s in ("train", "val", "test") for x in suffixes
                if (path / f"{s}{x}").is_file()
            }  # fmt: skip
        return {"train": path}

    @classmethod
    def _read(cls, path: Path, source: str, where: str) -> Any:
        """The table in ``path``, read as the declared ``source`` says (a file whose name
        says the other kind is refused: source = "parquet" read a CSV as CSV)."""
        import pandas as pd

        if (path.suffix.lower() in _PARQUET) != (source == "parquet"):
            other = "csv" if source == "parquet" else "parquet"
            raise BenchbenchError(
                f"{where}: {path} is not a {source} file by its name: declare "
                f'source = "{other}", or rename it'
            )
        try:
            regular(path)
            if source == "parquet":
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
        if target in features:
            raise BenchbenchError(
                f"{where}: the target column {target!r} is among the features: the task would "
                "learn its label from itself"
            )
        absent = [c for c in features if c not in frame.columns]
        if absent:
            raise BenchbenchError(f"{where}: {path} has no column(s) {', '.join(map(str, absent))}")
        return list(features)

    @classmethod
    def describe(cls, path, options, where):  # type: ignore[no-untyped-def]
        source = cls.source_kind
        files = cls._files(path, source)
        if "train" not in files:
            raise ValueError(f"{where}: no table at {path} (a file, or a folder with a train file)")
        try:
            frame = cls._read(files["train"], source, where)
            features = cls._columns(frame, options, where, files["train"])
        except BenchbenchError as exc:
            raise ValueError(str(exc)) from None
        labels = frame[options["target"]].dropna().tolist()
        return (len(features),), len(set(labels)), "tabular"

    def data_files(self, data_dir: Path) -> list[Path]:
        return list(self._files(self.root, self.source_kind).values()) or [self.root]

    def load(self, data_dir: Path) -> Splits:
        where = f"task {self.name}"
        files = self._files(self.root, self.source_kind)
        if "train" not in files:
            raise self._missing()
        frames = {s: self._read(p, self.source_kind, where) for s, p in files.items()}
        target = self.options["target"]
        _, codes = _labels(frames["train"][target].dropna().tolist(), where)
        # the training table's features, read from every split by name (not by position)
        named = {
            **self.options,
            "features": self._columns(frames["train"], self.options, where, files["train"]),
        }
        parts, unlabeled = {}, []
        for split, frame in frames.items():
            features_here = self._columns(frame, named, where, files[split])
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


class ParquetTask(TableTask):
    """A Parquet table with a target column (see the module)."""

    name = "declared-parquet"
    summary = "a Parquet table with a target column, declared in a suite file"
    source_kind = "parquet"


class NpzTask(_Declared):
    """Arrays in an ``.npz`` file (see the module). Each array's shape and type are read from
    its header before any is loaded (``show`` loads none but ``y``): arrays that would not
    fit in half this machine's memory, inputs that are not real numbers, labels that are not
    whole numbers or text, and splits whose shapes disagree are one line naming the array."""

    name = "declared-npz"
    summary = "arrays x and y in an .npz file, declared in a suite file"

    @classmethod
    def describe(cls, path, options, where):  # type: ignore[no-untyped-def]
        try:
            headers = _npz_headers(path, where)
            y = _npz_load(path, where, ["y"])["y"]
        except BenchbenchError as exc:
            raise ValueError(str(exc)) from None
        shape = headers["x"][0][1:]
        modality = {3: "image", 2: "sequence", 1: "tabular"}.get(len(shape))
        if modality is None:
            raise ValueError(
                f"{where}: x must be (N, C, H, W), (N, C, L) or (N, F), got {headers['x'][0]}"
            )
        return shape, len(np.unique(y)), modality

    def data_files(self, data_dir: Path) -> list[Path]:
        return [self.root]

    def load(self, data_dir: Path) -> Splits:
        where = f"task {self.name}"
        if not self.root.is_file():
            raise self._missing()
        headers = _npz_headers(self.root, where)
        found = _npz_load(self.root, where, list(headers))
        _, codes = _labels(found["y"].tolist(), where)
        parts = {}
        for split, suffix in (("train", ""), ("val", "_val"), ("test", "_test")):
            if f"x{suffix}" in found:
                labels = found[f"y{suffix}"].tolist()
                unseen = sorted(set(labels) - set(codes), key=str)
                if unseen:
                    raise BenchbenchError(
                        f"{where}: {self.root}: y{suffix} has classes y lacks: {unseen[:5]}"
                    )
                y = np.asarray([codes[v] for v in labels], dtype=np.int64)
                parts[split] = (found[f"x{suffix}"], y)
        per_channel = found["x"].ndim > 2
        return _splits(parts, found.get("x_unlabeled"), per_channel=per_channel, where=where)


def _npz_headers(path: Path, where: str) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Each array's shape and type in the ``.npz`` at ``path``, read from the headers
    alone, checked: ``x`` and ``y`` present, each ``x_SPLIT`` with its ``y_SPLIT`` and as
    many labels as examples, every split's examples of ``x``'s shape, inputs real numbers,
    labels whole numbers or text, and all of it within half the memory."""
    import zipfile

    bad = f"{where}: {path} is not an .npz of arrays"
    try:
        regular(path)
        with zipfile.ZipFile(path) as bundle:
            headers = {}
            for info in bundle.infolist():
                with bundle.open(info) as member:
                    version = np.lib.format.read_magic(member)
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(member)
                headers[info.filename.removesuffix(".npy")] = (tuple(shape), dtype)
    except BenchbenchError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise BenchbenchError(f"{bad} ({str(exc)[:120]})") from exc
    for name in ("x", "y"):
        if name not in headers:
            raise BenchbenchError(f"{bad} x and y: it has no array {name!r}")
    x_shape = headers["x"][0]
    for name, (shape, dtype) in headers.items():
        if name.startswith("x") and (dtype.kind not in "biuf" or not shape):
            raise BenchbenchError(
                f"{where}: {path}: {name} must hold real numbers, got {dtype} {shape}"
            )
        if name.startswith("x") and shape[1:] != x_shape[1:]:
            raise BenchbenchError(
                f"{where}: {path}: {name} is {shape}, x is {x_shape}: every split's examples "
                "must have x's shape"
            )
        if name.startswith("y") and (dtype.kind not in "biuUS" or len(shape) != 1):
            raise BenchbenchError(
                f"{where}: {path}: {name} must be one label (a whole number or text) per "
                f"example, got {dtype} {shape}"
            )
    for suffix in ("", "_val", "_test"):
        x, y = headers.get(f"x{suffix}"), headers.get(f"y{suffix}")
        if (x is None) != (y is None):
            has, lacks = (f"x{suffix}", f"y{suffix}") if y is None else (f"y{suffix}", f"x{suffix}")
            raise BenchbenchError(f"{where}: {path} has {has} but no {lacks}")
        if x is not None and y is not None and x[0][0] != y[0][0]:
            raise BenchbenchError(
                f"{where}: {path}: {x[0][0]} examples in x{suffix} but {y[0][0]} labels in "
                f"y{suffix}"
            )
    total = sum(int(np.prod(s)) * d.itemsize for s, d in headers.values())
    if total > _memory() // 2:
        raise BenchbenchError(
            f"{where}: {path} holds {total / 1e9:.1f} GB of arrays, more than half this "
            f"machine's memory ({_memory() / 1e9:.1f} GB): declare a smaller file, or an "
            "image folder (read per sample from disk)"
        )
    return headers


def _npz_load(path: Path, where: str, names: list[str]) -> dict[str, np.ndarray]:
    """The arrays ``names`` of an ``.npz`` whose headers were checked."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            return {name: arrays[name] for name in names}
    except (OSError, ValueError, EOFError) as exc:
        raise BenchbenchError(f"{where}: cannot read {path} ({str(exc)[:120]})") from exc


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
