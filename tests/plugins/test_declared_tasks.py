"""Tasks declared in a suite file from a user's own data: an image folder, a CSV table and
an .npz file, run through a suite in worker processes, identified by their content, and
bad data named in one line."""

from __future__ import annotations

import os
import shutil
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import benchbench as bb
from benchbench.errors import BenchbenchError

SHADES = {"oak": 30, "maple": 130, "birch": 230}


@pytest.fixture(autouse=True)
def _no_declarations_left(monkeypatch):
    """Declarations travel in the environment: none may outlive its test."""
    monkeypatch.delenv("BENCHBENCH_DATA_TASKS", raising=False)
    yield
    os.environ.pop("BENCHBENCH_DATA_TASKS", None)


def image_folder(root: Path, splits: bool = True) -> None:
    """Three classes of 10x10 images told apart by brightness; train/test folders and an
    unlabeled folder when ``splits``."""
    rng = np.random.default_rng(0)
    groups = {"train": 24, "test": 6} if splits else {"": 30}
    for group, count in groups.items():
        for name, shade in SHADES.items():
            folder = root / group / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = shade + rng.integers(0, 20, (10, 10, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i}.png")
    if splits:
        (root / "unlabeled").mkdir()
        for i in range(9):
            Image.fromarray(np.full((10, 10, 3), 100, np.uint8)).save(
                root / "unlabeled" / f"{i}.png"
            )


def suite(tmp_path: Path, extra: str = "") -> Path:
    image_folder(tmp_path / "leaves")
    rng = np.random.default_rng(1)
    x = rng.normal(size=(240, 3))
    label = np.where(x[:, 0] > 0, "pos", "neg").astype(object)
    label[:12] = None  # rows without a target: unlabeled
    pd.DataFrame({"a": x[:, 0], "b": x[:, 1], "c": x[:, 2], "label": label}).to_csv(
        tmp_path / "table.csv", index=False
    )
    y = np.arange(120) % 3
    np.savez(
        tmp_path / "arrays.npz",
        x=(y[:, None, None] + rng.normal(0, 0.1, (120, 2, 16))).astype(np.float32),
        y=y,
        x_test=(np.arange(30)[:, None, None] % 3 + np.zeros((30, 2, 16))).astype(np.float32),
        y_test=np.arange(30) % 3,
    )
    path = tmp_path / "own.toml"
    path.write_text(
        f"""
seeds = 1
budget = {{ steps = 40 }}
[tasks.leaves]
source = "imagefolder"
path = "leaves"
target_accuracy = 0.9
[tasks.tab]
source = "csv"
path = "table.csv"
target = "label"
target_accuracy = 0.8
[tasks.seq]
source = "npz"
path = "arrays.npz"
target_accuracy = 0.9
{extra}
[[tracks]]
name = "own"
kind = "regularizer"
candidates = ["none"]
tasks = ["leaves", "tab", "seq"]
fixed = {{ arch = "mlp" }}
"""
    )
    return path


def test_a_suite_runs_its_declared_tasks_in_workers_and_learns_them(tmp_path):
    path = suite(tmp_path)
    outcome = bb.run(str(path), out=tmp_path / "out", progress=False)
    failures = bb.results(storage=outcome.store_url).query("status != 'ok'")
    assert failures.empty, failures[["task", "status", "error"]].to_string()
    board = outcome.leaderboard.set_index("task")
    assert outcome.ok and set(board.index) == {"leaves", "tab", "seq"}
    assert board.loc["leaves", "test_accuracy_mean"] > 0.9  # brightness tells the classes
    assert board.loc["tab", "test_accuracy_mean"] > 0.8
    assert board.loc["seq", "test_accuracy_mean"] > 0.9
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    declare(str(path))
    splits = load_plugins().registry.build("task", "leaves").load(tmp_path)
    assert len(splits.test) == 18 and len(splits.unlabeled) == 9  # its own test folder
    assert tuple(splits.train.x.shape[1:]) == (3, 10, 10)
    table = load_plugins().registry.build("task", "tab").load(tmp_path)
    assert len(table.unlabeled) == 12 and len(table.train) + len(table.val) + len(table.test) == 228


def test_the_run_id_follows_the_content(tmp_path):
    from benchbench import Budget
    from benchbench.planning.declared import declare
    from benchbench.planning.resolve import resolve_spec
    from benchbench.plugins.manager import load_plugins

    path = suite(tmp_path / "here")

    def run_id(task: str, where=None) -> str:
        declare(str(where or path))
        registry = load_plugins().registry
        return resolve_spec(registry, task=task, arch="mlp", budget=Budget(steps=1)).run_id

    first, table = run_id("leaves"), run_id("tab")
    assert run_id("leaves") == first  # the same files: the same runs
    shutil.copytree(tmp_path / "here", tmp_path / "moved")
    moved = tmp_path / "moved" / path.name
    assert (run_id("leaves", moved), run_id("tab", moved)) == (first, table)  # data moved
    tmp_path = tmp_path / "here"
    image = tmp_path / "leaves" / "train" / "oak" / "0.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(image)
    assert run_id("leaves") != first  # one image edited: other runs
    assert run_id("tab") == table
    path.write_text(
        path.read_text().replace('target = "label"', 'target = "label"\nfeatures = ["a"]')
    )
    assert run_id("tab") != table  # another declaration: other runs


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ("mixed", r"leaves: .*1\.png is 12x12, others 10x10: give image_size"),
        ("column", r"has no column 'label'"),
        ("empty", r"class 'maple' has no images"),
        ("broken", r"cannot decode .*0\.png"),
        ("source", r"source must be one of imagefolder, csv, parquet, npz, hf, got 'excel'"),
    ],
)
def test_bad_own_data_is_one_line_naming_the_file_or_column(tmp_path, change, words):
    path = suite(tmp_path)
    leaves = tmp_path / "leaves" / "train"
    if change == "mixed":
        Image.fromarray(np.zeros((12, 12, 3), np.uint8)).save(leaves / "birch" / "1.png")
    elif change == "column":
        frame = pd.read_csv(tmp_path / "table.csv").rename(columns={"label": "y"})
        frame.to_csv(tmp_path / "table.csv", index=False)
    elif change == "empty":
        for image in (leaves / "maple").iterdir():
            image.unlink()
    elif change == "broken":
        (leaves / "oak" / "0.png").write_bytes(b"not a png")
    else:
        path.write_text(path.read_text().replace('source = "csv"', 'source = "excel"'))
    if change in ("column", "source"):  # the declaration itself: the run stops at once
        with pytest.raises(BenchbenchError, match=words):
            bb.run(str(path), out=tmp_path / "out", progress=False)
        return
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    declare(str(path))  # the data: its runs fail with the line (the suite's data check)
    with pytest.raises(BenchbenchError, match=words):
        load_plugins().registry.build("task", "leaves").load(tmp_path / "data")


def test_run_one_takes_a_file_that_declares_one_task(tmp_path):
    image_folder(tmp_path / "leaves", splits=False)
    path = tmp_path / "leaves.toml"
    path.write_text(
        '[tasks.leaves]\nsource = "imagefolder"\npath = "leaves"\ntarget_accuracy = 0.9\n'
        "image_size = [8, 8]\n"
    )
    result = bb.run_one(str(path), "mlp", steps=20)
    assert result.status == "ok" and result.task == "leaves" and result.test_accuracy > 0.5


def test_an_image_folder_is_decoded_once_then_read_from_its_cache(tmp_path, monkeypatch):
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    path = suite(tmp_path)
    declare(str(path))
    task = load_plugins().registry.build("task", "leaves")
    data = tmp_path / "data"
    first = task.load(data)
    assert len(list((data / "declared").glob("leaves-*.npz"))) == 1

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again")

    monkeypatch.setattr("PIL.Image.open", no_decoding)
    again = task.load(data)
    assert torch_equal(first.train.x, again.train.x) and len(again.unlabeled) == 9
    monkeypatch.undo()
    image = tmp_path / "leaves" / "test" / "oak" / "0.png"
    Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(image)
    changed = task.load(data)  # a file changed: decoded again, into a cache of its own
    assert len(list((data / "declared").glob("leaves-*.npz"))) == 2
    assert not torch_equal(first.test.x, changed.test.x)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a, b))


def test_show_describes_the_tasks_a_file_declares(tmp_path):
    path = suite(tmp_path)
    text = bb.describe(str(path))
    assert "task leaves: imagefolder data from" in text and "3 classes, inputs (3, 10, 10)" in text
    assert "task tab:" in text and "inputs (3,) (tabular)" in text
    assert "leaves.options" in text  # the declaration, part of every run id


def test_a_hugging_face_dataset_saved_on_disk_is_a_task(tmp_path):
    """Its own train/validation/test splits, an image column decoded and resized, a class
    label column; rows labeled -1 are unlabeled data."""
    datasets = pytest.importorskip("datasets")
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    def split(count: int, unlabeled: int = 0):
        images = [
            Image.fromarray(np.full((8, 8, 3), 20 if i % 2 else 220, np.uint8))
            for i in range(count + unlabeled)
        ]
        labels = [i % 2 for i in range(count)] + [-1] * unlabeled
        features = datasets.Features(
            {"img": datasets.Image(), "label": datasets.ClassLabel(names=["dark", "light"])}
        )
        return datasets.Dataset.from_dict({"img": images, "label": labels}, features=features)

    saved = tmp_path / "pets"
    whole = {"train": split(30, unlabeled=4), "validation": split(10), "test": split(10)}
    datasets.DatasetDict(whole).save_to_disk(str(saved))
    path = tmp_path / "pets.toml"
    path.write_text(
        '[tasks.pets]\nsource = "hf"\npath = "pets"\nimage = "img"\nimage_size = [6, 6]\n'
        "target_accuracy = 0.9\n"
    )
    declare(str(path))
    splits = load_plugins().registry.build("task", "pets").load(tmp_path / "data")
    assert tuple(splits.train.x.shape) == (30, 3, 6, 6) and len(splits.val) == 10
    assert len(splits.unlabeled) == 4 and sorted(set(splits.test.y.tolist())) == [0, 1]
    result = bb.run_one(str(path), "mlp", steps=20)
    assert result.status == "ok" and result.test_accuracy > 0.9
    path.write_text(path.read_text().replace('image = "img"', 'image = "picture"'))
    with pytest.raises(BenchbenchError, match="no column.*picture.*columns: img, label"):
        bb.run_one(str(path), "mlp", steps=2)


def test_an_image_folder_too_large_for_memory_is_read_per_sample_from_disk(tmp_path):
    """``in_memory = false`` (or a folder over IN_MEMORY_BYTES decoded) gives splits that
    decode each image as the loop draws it, standardised by the training images' statistics:
    the very inputs the in-memory path computes, and a run takes the disk path and learns."""
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    image_folder(tmp_path / "leaves", splits=False)
    base = f'source = "imagefolder"\npath = "{tmp_path / "leaves"}"\ntarget_accuracy = 0.9\n'
    path = tmp_path / "own.toml"
    path.write_text(
        f"[tasks.mem]\n{base}[tasks.disk]\n{base}in_memory = false\n"
        '[[tracks]]\nname = "own"\nkind = "arch"\ncandidates = ["cnn"]\ntasks = ["mem", "disk"]\n'
    )
    declare(str(path))
    registry = load_plugins().registry
    memory = registry.build("task", "mem").load(tmp_path)
    disk = registry.build("task", "disk").load(tmp_path)
    assert memory.pixels is not None and not hasattr(disk.train, "x")
    sizes = [len(s) for s in (disk.train, disk.val, disk.test)]
    assert sizes == [len(s) for s in (memory.train, memory.val, memory.test)] == [62, 13, 15]
    first, label = disk.test[0]
    assert label == int(memory.test.y[0]) and first.dtype == torch.float32
    assert torch.allclose(first, memory.decode(memory.test.x[:1])[0], atol=1e-5)
    alone = tmp_path / "disk.toml"
    alone.write_text(f"[tasks.disk]\n{base}in_memory = false\n")
    result = bb.run_one(str(alone), "cnn", steps=20, data_dir=tmp_path)
    assert result.status == "ok", result.error
    assert result.loader["data_path"] == "disk" and result.test_accuracy > 0.6


def _tables(folder: Path, order: list[str]) -> None:
    """train/val/test CSVs of one informative feature a, one noise b, target y; the val and
    test tables' columns in ``order``."""
    rng = np.random.default_rng(3)
    for split, count in (("train", 90), ("val", 30), ("test", 30)):
        a = rng.normal(size=count)
        frame = pd.DataFrame({"a": a, "b": rng.normal(size=count) * 10, "y": (a > 0).astype(int)})
        folder.mkdir(parents=True, exist_ok=True)
        (frame if split == "train" else frame[order]).to_csv(folder / f"{split}.csv", index=False)


def test_every_split_of_a_table_is_read_by_column_name_not_position(tmp_path):
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    _tables(tmp_path / "same", ["a", "b", "y"])
    _tables(tmp_path / "shuffled", ["b", "y", "a"])  # the same numbers, columns reordered
    path = tmp_path / "tables.toml"
    path.write_text(
        '[tasks.same]\nsource = "csv"\npath = "same"\ntarget = "y"\ntarget_accuracy = 0.8\n'
        '[tasks.shuffled]\nsource = "csv"\npath = "shuffled"\ntarget = "y"\n'
        "target_accuracy = 0.8\n"
    )
    declare(str(path))
    registry = load_plugins().registry
    same = registry.build("task", "same").load(tmp_path / "data")
    shuffled = registry.build("task", "shuffled").load(tmp_path / "data")
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(same, split).x, getattr(shuffled, split).x), split
        assert torch.equal(getattr(same, split).y, getattr(shuffled, split).y), split
    lacking = pd.read_csv(tmp_path / "shuffled" / "test.csv").drop(columns=["b"])
    lacking.to_csv(tmp_path / "shuffled" / "test.csv", index=False)
    with pytest.raises(BenchbenchError, match=r"shuffled/test.csv has no column\(s\) b$"):
        registry.build("task", "shuffled").load(tmp_path / "data")


def test_a_table_whose_features_include_its_target_is_refused(tmp_path):
    _tables(tmp_path / "t", ["a", "b", "y"])
    path = tmp_path / "leak.toml"
    path.write_text(
        '[tasks.leak]\nsource = "csv"\npath = "t"\ntarget = "y"\nfeatures = ["a", "y"]\n'
        "target_accuracy = 0.8\n"
        "[[tracks]]\nname = 'own'\nkind = 'regularizer'\ncandidates = ['none']\n"
        "tasks = ['leak']\nfixed = { arch = 'mlp' }\n"
    )
    with pytest.raises(BenchbenchError, match=r"the target column 'y' is among the features"):
        bb.run(str(path), out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "benchbench.db").exists()


@contextmanager
def _within(seconds: int):
    """Fail instead of hanging: a read that blocks is what the test is about."""

    def expire(*_):  # noqa: ANN002
        raise TimeoutError(f"still reading after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("where", ["image", "table"])
def test_a_pipe_among_declared_files_is_one_line_not_a_hang(tmp_path, where):
    path = suite(tmp_path)
    if where == "image":
        os.mkfifo(tmp_path / "leaves" / "train" / "oak" / "wait.png")
    else:
        (tmp_path / "table.csv").unlink()
        os.mkfifo(tmp_path / "table.csv")
    with _within(60), pytest.raises(BenchbenchError, match=r"is not a regular file \(a pipe"):
        if where == "table":  # show reads the table to describe it
            bb.describe(str(path))
        else:  # the images are read when the task loads, before any run starts
            from benchbench.planning.declared import declare
            from benchbench.plugins.manager import load_plugins

            declare(str(path))
            load_plugins().registry.build("task", "leaves").load(tmp_path / "data")


def test_a_damaged_decoded_image_cache_is_named_and_rebuilt(tmp_path):
    from benchbench.errors import BenchbenchWarning
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    path = suite(tmp_path)
    declare(str(path))
    task = load_plugins().registry.build("task", "leaves")
    data = tmp_path / "data"
    first = task.load(data)
    (cache,) = (data / "declared").glob("leaves-*.npz")
    whole = cache.read_bytes()
    cache.write_bytes(whole[: len(whole) // 2])  # truncated, as by a full disk or a kill
    with pytest.warns(BenchbenchWarning, match=r"decoded-image cache .* is damaged"):
        again = task.load(data)
    assert torch.equal(first.train.x, again.train.x) and torch.equal(first.test.x, again.test.x)
    assert cache.read_bytes() == whole  # rebuilt: the next load reads it again
    np.savez(cache, train=np.zeros((1, 3, 10, 10), np.uint8))  # readable, but not these images
    with pytest.warns(BenchbenchWarning, match=r"its arrays are not the images listed"):
        assert torch.equal(task.load(data).train.x, first.train.x)


def test_a_declaration_named_like_a_built_in_task_is_one_line_and_leaves_it_whole(tmp_path):
    """[tasks.digits] unloaded the whole built-in tasks plugin (a warning), stored the
    CSV's results as task digits and made mnist1d unknown."""
    from benchbench.planning.declared import declare
    from benchbench.plugins.manager import load_plugins

    path = suite(tmp_path)
    path.write_text(path.read_text().replace("[tasks.tab]", "[tasks.digits]"))
    with pytest.raises(BenchbenchError) as refused:
        bb.run(str(path), out=tmp_path / "out", progress=False)
    assert str(refused.value) == (
        f"{path}: task 'digits' cannot be declared: task 'digits' of "
        f"{load_plugins().registry.entries['task']['digits'].origin.describe()} has that "
        "name; name yours otherwise ([tasks.NAME])"
    )
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").rglob("*.json"))
    declare(str(path))
    pm = load_plugins()
    tasks = pm.registry.entries["task"]
    assert pm.errors == []  # no plugin left out
    assert {"digits", "mnist1d", "leaves", "seq"} <= set(tasks)
    assert tasks["digits"].origin.plugin == "tasks" and tasks["leaves"].origin.plugin == "declared"


def test_a_suite_declaring_1200_tasks_reaches_its_workers(tmp_path):
    """1,200 declarations (or 500 with 300-character summaries) passed the 128 KiB an
    environment variable may hold: every worker failed to start, run exited 1 with no
    message and nothing stored. Past 32 KiB the workers read them from the suite file."""
    from benchbench.planning.declared import ENV, declarations, declare

    rng = np.random.default_rng(0)
    y = np.arange(60) % 2
    np.savez(
        tmp_path / "a.npz", x=(y[:, None] + rng.normal(0, 0.1, (60, 4))).astype(np.float32), y=y
    )
    tables = "".join(
        f'[tasks.t{i}]\nsource = "npz"\npath = "a.npz"\ntarget_accuracy = 0.9\n'
        f'summary = "{"s" * 300}"\n'
        for i in range(1200)
    )
    path = tmp_path / "many.toml"
    path.write_text(
        'seeds = 1\nbudget = { steps = 5 }\n' + tables
        + '[[tracks]]\nname = "own"\nkind = "regularizer"\ncandidates = ["none"]\n'
        'tasks = ["t0", "t1199"]\nfixed = { arch = "mlp" }\n'
    )  # fmt: skip
    assert len(declare(str(path))) == 1200
    assert len(os.environ[ENV]) < 1000 and len(declarations()) == 1200
    outcome = bb.run(str(path), out=tmp_path / "out", workers=1, progress=False)
    assert outcome.dispatched.stored == {"ok": 2}
    path.write_text(path.read_text().replace("0.9", "0.8", 1))  # changed under the runs
    with pytest.raises(BenchbenchError, match=r"the suite file changed .* run the suite again"):
        declarations()
