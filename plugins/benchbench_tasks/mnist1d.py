"""MNIST-1D (Greydanus, 2020), generated offline with the ``mnist1d`` package."""

from __future__ import annotations

import hashlib
import json
import os
import random
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from benchbench import BenchbenchError, Budget, Splits, Task

from ._augment import gaussian_noise, random_shift
from ._common import standardized_splits, stratified_split

VAL_FRACTION = 0.125  # 500 of the 4,000 training signals
SPLIT_SEED = 0


def _generate(args: dict) -> dict[str, np.ndarray]:
    """Run the package's generator without disturbing the caller's global RNGs (it seeds
    ``random`` and ``numpy.random`` itself)."""
    from mnist1d.data import make_dataset

    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        data = make_dataset(_dataset_args(args))
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return {k: np.asarray(data[k]) for k in ("x", "y", "x_test", "y_test")}


def _package_version() -> str:
    from importlib.metadata import version

    return version("mnist1d")


def _read_index(folder: Path) -> dict[str, str]:
    try:
        index = json.loads((folder / "index.json").read_text())
    except (OSError, ValueError):
        return {}
    return index if isinstance(index, dict) else {}


def _write_index(folder: Path, index: dict[str, str]) -> None:
    partial = folder / f"index.{os.getpid()}.tmp"
    partial.write_text(json.dumps(index, indent=1, sort_keys=True))
    os.replace(partial, folder / "index.json")


def _dataset_args(changes: dict):
    """The generator's default arguments object with ``changes`` applied."""
    from mnist1d.data import get_dataset_args

    args = get_dataset_args()
    args.__dict__.update(changes)
    return args


def cached_dataset(data_dir: Path, args: dict | None = None) -> dict[str, np.ndarray]:
    """The generated dataset for ``args`` (changes to the package defaults), from the cache
    under ``data_dir/mnist1d`` or generated once and cached there.

    A cache file is named by a hash of the generator's full arguments, which takes importing
    the package (3 s); ``index.json`` remembers which file the installed package version and
    ``args`` led to, so a cached dataset loads without that import."""
    args = dict(args or {})
    folder = Path(data_dir) / "mnist1d"
    known = f"{_package_version()} {json.dumps(args, sort_keys=True)}"
    index = _read_index(folder)
    if known in index and (folder / index[known]).exists():
        with np.load(folder / index[known]) as cached:
            return dict(cached)
    full = vars(_dataset_args(args))
    key = hashlib.sha256(json.dumps(full, sort_keys=True).encode()).hexdigest()[:12]
    path = folder / f"mnist1d-{key}.npz"
    if path.exists():
        with np.load(path) as cached:
            data = dict(cached)
    else:
        data = _generate(args)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            partial = path.with_suffix(f".{os.getpid()}.tmp.npz")
            np.savez(partial, **data)
            os.replace(partial, path)
        _write_index(folder, {**_read_index(folder), known: path.name})
    except OSError as exc:
        raise BenchbenchError(
            f"cannot cache MNIST-1D under {path.parent} ({exc.strerror}); "
            "point --data-dir or BENCHBENCH_DATA at a writable folder"
        ) from exc
    return data


class MNIST1D(Task):
    """MNIST-1D with the generator's default arguments: the paper's standard 4,000 training
    and 1,000 test signals of length 40. 500 training signals (stratified, fixed seed) are
    held out for validation. Generated once (a few seconds) and cached on disk.
    """

    name = "mnist1d"
    summary = "MNIST-1D generated offline: 3,500 train / 500 val / 1,000 test signals of length 40"
    num_classes = 10
    input_shape = (1, 40)
    modality = "sequence"
    has_unlabeled = False
    target_accuracy = 0.9
    budget = Budget(epochs=30)
    trainer_defaults = {"batch_size": 128}
    generator_args: dict = {}
    """Changes to the generator's default arguments (a shifted domain changes some)."""

    def augment(self, x: Tensor, strength: float, generator: torch.Generator) -> Tensor:
        """Shifts of up to 4 samples (of 40) and Gaussian noise of std 0.1, times strength."""
        return gaussian_noise(
            random_shift(x, round(4 * strength), generator), 0.1 * strength, generator
        )

    def load(self, data_dir: Path) -> Splits:
        data = cached_dataset(data_dir, self.generator_args)
        x = np.concatenate([data["x"], data["x_test"]])[:, None, :].astype(np.float32)
        y = np.concatenate([data["y"], data["y_test"]]).astype(np.int64)
        n_train = len(data["y"])
        train, val = stratified_split(y[:n_train], (1 - VAL_FRACTION, VAL_FRACTION), SPLIT_SEED)
        test = np.arange(n_train, len(y))
        return standardized_splits(x, y, [train, val, test])
