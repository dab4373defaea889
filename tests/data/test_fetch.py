"""Fetching tasks' data: against an HTTP server on the loopback address serving small files
in the real formats, with a registry of their checksums; nothing reaches further."""

from __future__ import annotations

import hashlib
import io
import json
import os
import socket
import tarfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from data_servers import Server
from fake_datasets import fake_cifar10, fake_mnist

import benchbench as bb
from benchbench.cli import cli
from benchbench.errors import BenchbenchError

MNIST_NAMES = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
]


@pytest.fixture
def server():
    running = Server()
    yield running
    running.stop()


def mnist_files(tmp_path: Path) -> dict[str, bytes]:
    """The four MNIST files, gzipped IDX as the real mirrors serve them."""
    source = tmp_path / "source"
    fake_mnist(source, "MNIST", gz=True)
    return {name: (source / "MNIST" / "raw" / name).read_bytes() for name in MNIST_NAMES}


def registry_file(tmp_path: Path, entries: dict) -> Path:
    path = tmp_path / "registry.json"
    path.write_text(json.dumps(entries))
    return path


def mnist_registry(server: Server, files: dict[str, bytes], mirrors=("a",)) -> dict:
    return {
        "mnist": [
            {
                "file": f"MNIST/raw/{name}",
                "urls": [f"{server.url}/{m}/{name}" for m in mirrors],
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
            }
            for name, body in files.items()
        ]
    }


def test_a_fetch_writes_the_readers_layout_and_reads_back(tmp_path, server):
    files = mnist_files(tmp_path)
    server.files = {f"/a/{n}": b for n, b in files.items()}
    registry = registry_file(tmp_path, mnist_registry(server, files))
    data = tmp_path / "data"
    before = bb.data_status("mnist", registry_file=registry, data_dir=data)[0]
    assert before.state == "missing" and before.size == sum(map(len, files.values()))
    assert before.fetch == "bb.fetch_data('mnist')"  # in the caller's words: Python's
    written = bb.fetch_data("mnist", registry_file=registry, data_dir=data, progress=False)
    assert sorted(p.name for p in written["mnist"]) == sorted(MNIST_NAMES)
    assert bb.data_status("mnist", registry_file=registry, data_dir=data)[0].state == "present"
    from benchbench_tasks.idx import MNIST

    splits = MNIST().load(data)
    assert splits.train.x.shape[1:] == (1, 28, 28)
    assert len(splits.train.x) + len(splits.val.x) == 240 and len(splits.test.x) == 50
    fetched = len(server.requests)
    bb.fetch_data("mnist", registry_file=registry, data_dir=data, progress=False)
    assert len(server.requests) == fetched  # files with the right checksum are kept
    raw = data / "MNIST" / "raw"
    (raw / MNIST_NAMES[0]).write_bytes(b"damaged")
    damaged = bb.data_status("mnist", registry_file=registry, data_dir=data)[0]
    assert damaged.state == "damaged" and MNIST_NAMES[0] in damaged.detail
    bb.fetch_data("mnist", registry_file=registry, data_dir=data, progress=False)
    assert (raw / MNIST_NAMES[0]).read_bytes() == files[MNIST_NAMES[0]]


def test_a_corrupted_first_mirror_falls_back_to_the_second(tmp_path, server):
    files = mnist_files(tmp_path)
    for name, body in files.items():
        server.files[f"/bad/{name}"] = body[:-1] + bytes([body[-1] ^ 0xFF])
        server.files[f"/good/{name}"] = body
    registry = registry_file(tmp_path, mnist_registry(server, files, ("bad", "good")))
    data = tmp_path / "data"
    bb.fetch_data("mnist", registry_file=registry, data_dir=data, progress=False)
    raw = data / "MNIST" / "raw"
    assert sorted(p.name for p in raw.iterdir()) == sorted(MNIST_NAMES)  # no leftovers
    assert all((raw / n).read_bytes() == files[n] for n in MNIST_NAMES)
    assert any(r.startswith("/bad/") for r in server.requests)


@pytest.mark.parametrize("trouble", ["cut", "404", "down"])
def test_a_failed_transfer_is_one_line_and_leaves_nothing_behind(tmp_path, server, trouble):
    files = mnist_files(tmp_path)
    server.files = {f"/a/{n}": b for n, b in files.items()}
    entries = mnist_registry(server, files)
    name = MNIST_NAMES[0]
    if trouble == "cut":
        server.cut.add(f"/a/{name}")
    elif trouble == "404":
        del server.files[f"/a/{name}"]
    else:  # a port nothing listens on
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
        for entry in entries["mnist"]:
            entry["urls"] = [u.replace(server.url, closed) for u in entry["urls"]]
    registry = registry_file(tmp_path, entries)
    data = tmp_path / "data"
    result = CliRunner().invoke(
        cli, ["--data-dir", str(data), "data", "fetch", "mnist", "--registry", str(registry)]
    )
    assert result.exit_code == 2, result.output
    line = result.output.strip().splitlines()[-1]  # after the progress bar
    assert line.startswith("benchbench: error: mnist: could not fetch")
    assert {"cut": "transfer", "404": "HTTP 404", "down": "refused"}[trouble] in line
    raw = data / "MNIST" / "raw"
    assert not raw.exists() or list(raw.iterdir()) == []  # no partial file under any name


def test_an_archive_is_unpacked_and_one_with_a_member_outside_is_refused(tmp_path, server):
    source = tmp_path / "source"
    fake_cifar10(source)
    good = io.BytesIO()
    with tarfile.open(fileobj=good, mode="w:gz") as bundle:
        bundle.add(source / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w:gz") as bundle:
        info = tarfile.TarInfo("../escaped.txt")
        info.size = 3
        bundle.addfile(info, io.BytesIO(b"pwn"))
    server.files = {"/good.tar.gz": good.getvalue(), "/evil.tar.gz": evil.getvalue()}

    def entry(name: str) -> dict:
        body = server.files[f"/{name}"]
        return {
            "file": "cifar-10-python.tar.gz",
            "urls": [f"{server.url}/{name}"],
            "md5": hashlib.md5(body).hexdigest(),
            "extract": True,
        }

    data = tmp_path / "data"
    registry = registry_file(tmp_path, {"cifar10": [entry("good.tar.gz")]})
    bb.fetch_data("cifar10", registry_file=registry, data_dir=data, progress=False)
    from benchbench_tasks.cifar import CIFAR10

    assert CIFAR10().load(data).test.x.shape == (30, 3, 32, 32)
    assert bb.data_status("cifar10", registry_file=registry, data_dir=data)[0].state == "present"
    other = tmp_path / "other"
    registry = registry_file(tmp_path, {"cifar10": [entry("evil.tar.gz")]})
    with pytest.raises(BenchbenchError, match="would land outside"):
        bb.fetch_data("cifar10", registry_file=registry, data_dir=other, progress=False)
    assert not (tmp_path / "escaped.txt").exists() and not (other.parent / "escaped.txt").exists()


def test_stl10_binaries_fetched_as_their_archive_serve_the_semi_supervised_variant_too(
    tmp_path, server
):
    """A site registry lists STL-10's archive once, under ``stl10``; ``stl10-semi`` reads the
    same files, so its fetch takes that mirror too, and the unpacked binaries read back."""
    from fake_datasets import fake_stl10

    fake_stl10(tmp_path / "source", n_train=100, n_test=20, n_unlabeled=30)
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w:gz") as bundle:
        bundle.add(tmp_path / "source" / "stl10_binary", arcname="stl10_binary")
    server.files = {"/stl10_binary.tar.gz": archive.getvalue()}
    entry = {
        "file": "stl10_binary.tar.gz",
        "urls": [f"{server.url}/stl10_binary.tar.gz"],
        "md5": hashlib.md5(archive.getvalue()).hexdigest(),
        "extract": True,
    }
    registry = registry_file(tmp_path, {"stl10": [entry]})
    data = tmp_path / "data"
    assert bb.data_status("stl10-semi", registry_file=registry, data_dir=data)[0].state == "missing"
    bb.fetch_data("stl10-semi", registry_file=registry, data_dir=data, progress=False)
    assert server.requests == ["/stl10_binary.tar.gz"]
    states = bb.data_status("stl10", "stl10-semi", registry_file=registry, data_dir=data)
    assert [s.state for s in states] == ["present", "present"]
    from benchbench_tasks.semi_standard import STL10Semi

    splits = STL10Semi(labels_per_class=2).load(data)
    assert [len(s) for s in (splits.train, splits.val, splits.test)] == [20, 10, 20]
    assert splits.unlabeled.shape == (90 - 20 + 30, 3, 96, 96)


def test_a_registry_that_would_write_outside_the_data_folder_is_refused(tmp_path):
    for bad in ("../x.gz", "/etc/x.gz", "a/../../x.gz"):
        registry = registry_file(
            tmp_path, {"mnist": [{"file": bad, "urls": ["http://127.0.0.1:9/x"], "md5": "0" * 32}]}
        )
        with pytest.raises(BenchbenchError, match="inside the data folder"):
            bb.data_status("mnist", registry_file=registry, data_dir=tmp_path)
    registry = registry_file(tmp_path, {"mnist": [{"file": "x", "urls": ["http://h/x"]}]})
    with pytest.raises(BenchbenchError, match="sha256"):
        bb.data_status("mnist", registry_file=registry, data_dir=tmp_path)


def test_missing_data_names_the_fetch_and_download_fetches_before_training(
    tmp_path, server, monkeypatch
):
    files = mnist_files(tmp_path)
    server.files = {f"/a/{n}": b for n, b in files.items()}
    registry = registry_file(tmp_path, mnist_registry(server, files))
    monkeypatch.setenv("BENCHBENCH_DATA_REGISTRY", str(registry))
    data = tmp_path / "data"
    size = f"{sum(map(len, files.values())) / 1e3:.1f} kB"
    with pytest.raises(
        BenchbenchError,
        match=rf"fetch it with bb.fetch_data\('mnist'\) \({size}\), or pass download=True",
    ):
        bb.run_one("mnist", "mlp", steps=2, data_dir=data)
    assert server.requests == []  # nothing fetched without --download
    result = bb.run_one("mnist", "mlp", steps=2, data_dir=data, download=True)
    assert result.status == "ok" and len(server.requests) == 4
    assert np.isfinite(result.test_accuracy)


def test_data_list_shows_every_task_and_how_to_get_what_is_missing(tmp_path):
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "data", "list"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.output.splitlines()[2:]}
    assert "included" in lines["digits"] and "benchbench data fetch" not in lines["digits"]
    assert "missing" in lines["mnist"] and "benchbench data fetch mnist" in lines["mnist"]
    assert "11.6 MB" in lines["mnist"] and "170.5 MB" in lines["cifar10"]
    unknown = CliRunner().invoke(cli, ["data", "fetch", "mnsit"])
    assert unknown.exit_code == 2 and "did you mean" in unknown.output.lower()


def _tar(members: list[tuple[str, str, bytes | str]]) -> bytes:
    """A tar.gz of (kind, name, content or link target) members, kind file, symlink or
    device, in the order given."""
    body = io.BytesIO()
    with tarfile.open(fileobj=body, mode="w:gz") as bundle:
        for kind, name, content in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(content)
                bundle.addfile(info, io.BytesIO(content))
                continue
            info.type = tarfile.SYMTYPE if kind == "symlink" else tarfile.CHRTYPE
            if kind == "symlink":
                info.linkname = content
            bundle.addfile(info)
    return body.getvalue()


@pytest.mark.parametrize(
    "members",
    [
        # a chain whose every step looks inside before it exists: a -> ., a/b -> .., then out
        [("file", "keep/first.txt", b"1"), ("symlink", "a", "."), ("symlink", "a/b", ".."),
         ("file", "a/b/escaped.txt", b"pwn")],
        [("file", "keep/first.txt", b"1"), ("symlink", "inside", "keep/first.txt")],
        [("file", "keep/first.txt", b"1"), ("device", "keep/null", "")],
    ],
    ids=["link-chain", "any-link", "device"],
)  # fmt: skip
def test_an_archive_with_a_link_or_a_device_is_refused_and_leaves_nothing(tmp_path, members):
    from benchbench.data.archives import unpack

    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar(members))
    into = tmp_path / "data" / "here"
    into.mkdir(parents=True)
    with pytest.raises(BenchbenchError, match=r"which is a (link|special file); nothing was"):
        unpack(archive, into)
    assert list(into.iterdir()) == []  # not even the members before the refused one
    assert not (tmp_path / "data" / "escaped.txt").exists()
    assert not (tmp_path / "escaped.txt").exists()


def test_a_zip_with_a_link_member_is_refused(tmp_path):
    import stat
    import zipfile

    from benchbench.data.archives import unpack

    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.writestr("first.txt", b"1")
        link = zipfile.ZipInfo("out")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        bundle.writestr(link, "../../outside")
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(BenchbenchError, match=r"holds 'out', which is a link"):
        unpack(archive, into)
    assert list(into.iterdir()) == []


def test_an_archive_merges_into_its_folder_through_no_link_and_keeps_no_scratch(tmp_path):
    from benchbench.data.archives import unpack

    archive, into, elsewhere = tmp_path / "a.tar.gz", tmp_path / "into", tmp_path / "elsewhere"
    (into / "shared").mkdir(parents=True)
    (into / "shared" / "other.txt").write_text("another archive's")
    (into / "top.txt").write_text("old")
    elsewhere.mkdir()
    (into / "linked").symlink_to(elsewhere, target_is_directory=True)  # left by someone
    archive.write_bytes(
        _tar([("file", "shared/new.txt", b"new"), ("file", "top.txt", b"t"),
              ("file", "linked/in.txt", b"i")])
    )  # fmt: skip
    unpack(archive, into)
    assert sorted(p.name for p in into.iterdir()) == ["linked", "shared", "top.txt"]
    assert sorted(p.name for p in (into / "shared").iterdir()) == ["new.txt", "other.txt"]
    assert (into / "top.txt").read_bytes() == b"t"
    assert not (into / "linked").is_symlink() and (into / "linked" / "in.txt").read_bytes() == b"i"
    assert list(elsewhere.iterdir()) == []  # the link was replaced, not followed


def test_registry_files_may_not_reach_a_home_folder_or_benchbench_s_own_places(tmp_path):
    for bad in ("~/.bashrc", "~root/.profile", ".fingerprints.json", "sources/x.pt",
                "declared/mine-0.npz", "splits/abc.npz"):  # fmt: skip
        registry = registry_file(
            tmp_path, {"mnist": [{"file": bad, "urls": ["http://127.0.0.1:9/x"], "md5": "0" * 32}]}
        )
        with pytest.raises(BenchbenchError, match="outside benchbench's own"):
            bb.data_status("mnist", registry_file=registry, data_dir=tmp_path)


def test_a_folder_on_the_way_that_links_out_of_the_data_folder_is_refused(tmp_path, server):
    files = mnist_files(tmp_path)
    server.files = {f"/a/{n}": b for n, b in files.items()}
    registry = registry_file(tmp_path, mnist_registry(server, files))
    data, elsewhere = tmp_path / "data", tmp_path / "elsewhere"
    data.mkdir()
    elsewhere.mkdir()
    (data / "MNIST").symlink_to(elsewhere, target_is_directory=True)
    with pytest.raises(BenchbenchError, match=r"outside the data folder .*; nothing was fetched"):
        bb.fetch_data("mnist", registry_file=registry, data_dir=data, progress=False)
    assert list(elsewhere.iterdir()) == [] and server.requests == []


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"\xff\xfe{}", r"is not UTF-8 text"),
        (b"[" * 200_000 + b"]" * 200_000, r"nests too deeply to be a registry"),
        (json.dumps({"mnist": [{"file": "x.gz", "urls": ["doi:abc"], "md5": "0" * 32}]}).encode(),
         r"'doi:abc' is not an http, https or ftp URL"),
        (json.dumps({"mnist": [{"file": "a" * 5000, "urls": ["http://h/x"], "md5": "0" * 32}]}).encode(),
         r"'file' is too long for a file system \(5000 characters"),
        (b"{}" + b" " * (16 * 2**20), r"is larger than 16\.8 MB"),
    ],
    ids=["not-utf8", "deep", "doi-url", "long-file", "huge"],
)  # fmt: skip
def test_a_registry_that_cannot_be_one_is_one_line(tmp_path, content, words):
    path = tmp_path / "registry.json"
    path.write_bytes(content)
    with pytest.raises(BenchbenchError, match=words):
        bb.data_status("mnist", registry_file=path, data_dir=tmp_path)


def test_a_registry_that_is_a_pipe_is_refused_without_waiting(tmp_path):
    pipe = tmp_path / "registry.json"
    os.mkfifo(pipe)  # reading it would block until someone writes
    with pytest.raises(BenchbenchError, match=r"is not a regular file"):
        bb.data_status("mnist", registry_file=pipe, data_dir=tmp_path)


def test_archive_members_that_clash_are_one_line_and_leave_nothing(tmp_path):
    from benchbench.data.archives import unpack

    archive = tmp_path / "clash.tar.gz"
    archive.write_bytes(_tar([("file", "x", b"a file"), ("file", "x/y", b"under a file")]))
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(BenchbenchError, match=r"^cannot unpack .*clash\.tar\.gz: .*nothing was"):
        unpack(archive, into)
    assert list(into.iterdir()) == []
