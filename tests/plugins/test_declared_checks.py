"""Declarations checked key by key, and data that is not what it claims named in one line
(issue 38): lax values that meant something else, npz files whose arrays disagree, folders
that are no image folders, sizes that cannot fit."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import benchbench as bb
from benchbench.errors import BenchbenchError


@pytest.fixture(autouse=True)
def _no_declarations_left(monkeypatch):
    monkeypatch.delenv("BENCHBENCH_DATA_TASKS", raising=False)
    yield
    os.environ.pop("BENCHBENCH_DATA_TASKS", None)


def declared(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "own.toml"
    path.write_text(f"[tasks.mine]\n{table}\ntarget_accuracy = 0.9\n")
    return path


def loaded(path: Path, data: Path):
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    declare(str(path))
    return load_plugins().registry.build("task", "mine").load(data)


def _table(folder: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    frame = pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "y": (x[:, 0] > 0).astype(int)})
    frame.to_csv(folder / "t.csv", index=False)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('features = "ab"', r"features must be a list of column names, .*got 'ab'"),
        ("grayscale = \"no\"", r"grayscale must be true or false, got 'no'"),
        ("budget = 0", r"budget must be a table of limits, .*got 0"),
        ("target_accuracy_ = 1", r"unknown key\(s\) target_accuracy_"),
        ("summary = \"\\u001b[2J\\u001b[31mred\"", r"summary must be one line of text without control characters, got '\\x1b\[2J"),
        ("image_size = [40000, 40000]", r"image_size must be \[height, width\], each a whole number from 1 to 8192"),
        ("in_memory = 1", r"in_memory must be true or false, got 1"),
    ],
    ids=["features-string", "grayscale-no", "budget-zero", "unknown", "escapes", "huge-size", "in-memory-int"],
)  # fmt: skip
def test_each_key_of_a_declaration_has_its_type(tmp_path, line, words):
    """features = "ab" meant ["a", "b"]; grayscale = "no" meant grayscale; budget = 0 became
    the default; a summary's terminal escapes were printed raw by show; image_size = [40000,
    40000] reached 7.4 GB and an empty MemoryError."""
    _table(tmp_path)
    source = (
        'source = "csv"\npath = "t.csv"\ntarget = "y"'
        if line.startswith(("features", "budget", "summary", "target_acc"))
        else 'source = "imagefolder"\npath = "."'
    )
    path = declared(tmp_path, f"{source}\n{line}")
    with pytest.raises(BenchbenchError, match=words):
        bb.describe(str(path))


def test_a_parquet_declaration_of_a_csv_file_is_refused(tmp_path):
    """source = "parquet" on a CSV read it as CSV (the reader went by the file's name)."""
    _table(tmp_path)
    path = declared(tmp_path, 'source = "parquet"\npath = "t.csv"\ntarget = "y"')
    with pytest.raises(BenchbenchError, match=r't\.csv is not a parquet file by its name: declare source = "csv"'):  # fmt: skip
        bb.describe(str(path))


def _npz(path: Path, **arrays) -> None:
    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    base = {"x": (y[:, None] + rng.normal(0, 0.1, (60, 4))).astype(np.float32), "y": y}
    np.savez(path, **{k: v for k, v in {**base, **arrays}.items() if v is not None})


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"x_test": np.zeros((10, 4), np.float32), "y_test": np.full(10, 7)},
         r"y_test has classes y lacks: \[7\]"),
        ({"x_test": np.zeros((10, 4), np.float32)}, r"has x_test but no y_test"),
        ({"x_val": np.zeros((10, 5), np.float32), "y_val": np.zeros(10, int)},
         r"x_val is \(10, 5\), x is \(60, 4\): every split's examples must have x's shape"),
        ({"x": np.ones((60, 4), np.complex64)}, r"x must hold real numbers, got complex64"),
        ({"y": np.linspace(0, 1, 60)}, r"y must be one label \(a whole number or text\) per example, got float64"),
        ({"y": np.zeros(59, int)}, r"60 examples in x but 59 labels in y"),
        ({"y": None}, r"it has no array 'y'"),
    ],
    ids=["unseen-label", "no-y-test", "shape", "complex", "float-labels", "count", "no-y"],
)  # fmt: skip
def test_an_npz_whose_arrays_disagree_is_one_line_naming_the_array(tmp_path, arrays, words):
    """KeyError: 7, KeyError: 'y_test', numpy's broadcast errors; a complex x trained on its
    real part."""
    _npz(tmp_path / "a.npz", **arrays)
    path = declared(tmp_path, 'source = "npz"\npath = "a.npz"')
    with pytest.raises(BenchbenchError, match=words):
        bb.describe(str(path))  # the headers: when the task is declared
        loaded(path, tmp_path / "data")  # the labels: when it loads


def test_an_npz_too_large_for_memory_is_refused_from_its_headers(tmp_path, monkeypatch):
    """A 3.1 MB npz holding 3 GiB of zeros peaked at 3.4 GB for show (it decompressed x to
    read its shape) and 6.7 GB for run. The headers say the size; nothing is decompressed
    (here: the memory made small, the file a 20 MB array that is 20 kB on disk)."""
    from benchbench_tasks import declared_tables

    big = tmp_path / "big.npz"
    with zipfile.ZipFile(big, "w", zipfile.ZIP_DEFLATED) as bundle:
        for name, array in (
            ("x", np.zeros((5_000, 1000), np.float32)),
            ("y", np.arange(5_000) % 2),
        ):
            with bundle.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, array)
    assert big.stat().st_size < 200_000
    path = declared(tmp_path, 'source = "npz"\npath = "big.npz"')
    assert bb.describe(str(path))  # the shape, from the header alone
    monkeypatch.setattr(declared_tables, "_memory", lambda: 10_000_000)
    path.write_text(path.read_text() + 'summary = "again"\n')  # not the class made before
    with pytest.raises(BenchbenchError, match=r"holds 0\.0 GB of arrays, more than half this machine's memory"):  # fmt: skip
        bb.describe(str(path))


@pytest.mark.parametrize("root", ["/usr", "/"])
def test_a_system_folder_declared_as_images_is_one_line_before_hashing_it(tmp_path, root):
    """path = "/usr" read and hashed all 117,486 files (6.1 GB, 50 s) before saying class
    'bin' has no images, and left a 20 MB fingerprint cache; "/" ended in a PermissionError
    traceback. Only the images of the class folders are listed, and the first class without
    any stops it."""
    from benchbench.planning.resolve import resolve_spec
    from benchbench.plugins.manager import load_plugins

    path = declared(tmp_path, f'source = "imagefolder"\npath = "{root}"\nimage_size = [8, 8]')
    data = tmp_path / "data"
    data.mkdir()  # where the fingerprint cache goes
    with pytest.raises(BenchbenchError, match=r"class '\w+' has no images in /"):
        loaded(path, data)
    registry = load_plugins().registry
    resolve_spec(registry, task="mine", arch="mlp", data_dir=data)  # its fingerprint
    cache = data / ".fingerprints.json"
    assert not cache.exists() or cache.stat().st_size < 10_000


def test_a_class_too_small_to_split_is_said_in_the_task_s_words(tmp_path):
    """scikit-learn's 'The least populated class in y has only 1 member' was passed
    through."""
    frame = pd.DataFrame({"a": np.arange(40.0), "y": [0] * 20 + [1] * 19 + [2]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    path = declared(tmp_path, 'source = "csv"\npath = "t.csv"\ntarget = "y"')
    with pytest.raises(
        BenchbenchError,
        match=r"too few examples to split by class into 3 parts \(70%, 15%, 15%\) of 40 examples "
        r"in 3 classes; the smallest class, 2, has 1: add examples, or give validation",
    ):
        loaded(path, tmp_path / "data")


def _png_bomb(path: Path) -> None:
    """A PNG whose header says 30000x30000 (900 megapixels): 100 bytes on disk."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    header = struct.pack(">IIBBBBB", 30000, 30000, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 100))
        + chunk(b"IEND", b"")
    )  # fmt: skip


@pytest.mark.parametrize("given_size", [False, True])
def test_an_image_decompression_bomb_names_its_file(tmp_path, given_size):
    """PIL's DecompressionBombError named no file (and was a traceback)."""
    from PIL import Image

    for name in ("a", "b"):
        (tmp_path / "img" / name).mkdir(parents=True)
        for i in range(4):
            Image.new("RGB", (8, 8), (i * 40, 0, 0)).save(tmp_path / "img" / name / f"{i}.png")
    _png_bomb(tmp_path / "img" / "a" / ("0.png" if not given_size else "3.png"))
    size = "\nimage_size = [8, 8]" if given_size else ""
    path = declared(tmp_path, f'source = "imagefolder"\npath = "img"{size}')
    with pytest.raises(BenchbenchError, match=r"cannot decode .*img/a/[03]\.png \(Image size \(900000000 pixels\)"):  # fmt: skip
        bb.describe(str(path))
        loaded(path, tmp_path / "data")
