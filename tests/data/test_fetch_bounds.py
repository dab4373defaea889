"""Every download and unpacking is bounded (issue 38): in size (the registry's ``size``, or a
ceiling; the members of an archive by its own size), in time (each read, a floor rate, a
ceiling), over ftp:// as over http://, and a fetch that fails or is killed leaves no temporary
file. Servers on the loopback address only (tests/data_servers.py); the bounds are made small
here so that each case takes a second or two."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from data_servers import FtpServer, Server, closed_port

import benchbench as bb
from benchbench.data import archives, download
from benchbench.errors import BenchbenchError, BenchbenchWarning

BODY = bytes(range(256)) * 40  # 10,240 bytes


@pytest.fixture
def server():
    running = Server()
    yield running
    running.stop()


def registry(tmp_path: Path, urls: list[str], body: bytes = BODY, **extra) -> Path:
    """A registry serving task mnist one file, ``x.bin``, from ``urls``."""
    entry = {"file": "x.bin", "urls": urls, "sha256": hashlib.sha256(body).hexdigest(), **extra}
    path = tmp_path / "registry.json"
    path.write_text(json.dumps({"mnist": [entry]}))
    return path


def fetch(tmp_path: Path, registry_path: Path) -> Path:
    data = tmp_path / "data"
    bb.fetch_data("mnist", registry_file=registry_path, data_dir=data, progress=False)
    return data


def refused(tmp_path: Path, registry_path: Path, words: str) -> Path:
    data = tmp_path / "data"
    with pytest.raises(BenchbenchError, match=words):
        bb.fetch_data("mnist", registry_file=registry_path, data_dir=data, progress=False)
    return data


def left_in(data: Path) -> list[str]:
    """Everything under the data folder (a refused fetch leaves nothing)."""
    return sorted(str(p.relative_to(data)) for p in data.rglob("*")) if data.exists() else []


def test_an_ftp_mirror_with_a_port_serves_the_file(tmp_path):
    """pooch's FTP downloader took ftp://host:port as a host name (reported as a write
    error, which also skipped the next mirror)."""
    ftp = FtpServer({"/pub/x.bin": BODY})
    try:
        data = fetch(tmp_path, registry(tmp_path, [f"{ftp.url}/pub/x.bin"]))
    finally:
        ftp.stop()
    assert (data / "x.bin").read_bytes() == BODY and ftp.requests == ["/pub/x.bin"]
    assert left_in(data) == ["x.bin"]


def test_a_silent_or_closed_ftp_mirror_gives_way_to_the_next(tmp_path, server, monkeypatch):
    """An FTP server that accepts and never answers hung the fetch forever."""
    monkeypatch.setattr(download, "READ_SECONDS", 1.0)
    silent = FtpServer(silent=True)
    server.files["/x.bin"] = BODY
    urls = [f"{silent.url}/x.bin", f"ftp://127.0.0.1:{closed_port()}/x.bin", f"{server.url}/x.bin"]
    try:
        data = fetch(tmp_path, registry(tmp_path, urls))
        assert (data / "x.bin").read_bytes() == BODY and server.requests == ["/x.bin"]
        again = registry(tmp_path, urls[:2])
        data = refused(tmp_path / "again", again, "timed out; .* connection refused")
    finally:
        silent.stop()
    assert left_in(data) == []


DRIPPED: list[int] = []
"""The bytes each drip sent before the client hung up."""


def drip(handler) -> None:
    """Headers, then a byte every 0.05 s: each read returns within any per-read timeout."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(BODY)))
    handler.end_headers()
    DRIPPED.append(0)
    for byte in BODY:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        DRIPPED[-1] += 1
        time.sleep(0.05)


def test_a_server_that_drips_is_cut_off_by_the_floor_rate(tmp_path, server, monkeypatch):
    monkeypatch.setattr(download, "GRACE_SECONDS", 0.5)
    monkeypatch.setattr(download, "FLOOR_RATE", 1000)
    server.custom["/x.bin"] = drip
    data = refused(tmp_path, registry(tmp_path, [f"{server.url}/x.bin"]), r"too slow \(")
    assert left_in(data) == []
    assert 0 < DRIPPED[-1] < len(BODY)  # cut off before the drip's end (512 s of it)


def endless(handler) -> None:
    """A body without a length that never ends."""
    handler.send_response(200)
    handler.end_headers()
    while True:
        handler.wfile.write(b"\0" * 65536)


def gzip_bomb(handler) -> None:
    """20 kB on the wire, 20 MB once requests decodes its Content-Encoding."""
    body = gzip.compress(b"\0" * 20_000_000, compresslevel=9)
    handler.send_response(200)
    handler.send_header("Content-Encoding", "gzip")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


@pytest.mark.parametrize("body", [endless, gzip_bomb], ids=["endless", "gzip"])
def test_no_more_is_written_than_the_registry_size_or_the_ceiling(
    tmp_path, server, monkeypatch, body
):
    """An endless body grew a 2 GB temporary file in 19 s; 3 MB of gzip became 2.1 GB."""
    server.custom["/x.bin"] = body
    sized = registry(tmp_path, [f"{server.url}/x.bin"], size=len(BODY))
    data = refused(tmp_path, sized, r"sent more than the registry's size of 10,240 bytes")
    assert left_in(data) == []
    monkeypatch.setattr(download, "UNSIZED_MOST", 100_000)
    data = refused(tmp_path / "unsized", registry(tmp_path, [f"{server.url}/x.bin"]),
                   r"sent more than 100\.0 kB, the most taken for a file whose registry entry gives no 'size'")  # fmt: skip
    assert left_in(data) == []


def test_a_length_over_the_registry_size_is_refused_before_a_byte(tmp_path, server):
    server.files["/x.bin"] = BODY * 3
    data = refused(
        tmp_path,
        registry(tmp_path, [f"{server.url}/x.bin"], size=len(BODY)),
        r"announces 30,720 bytes; more than the registry's size of 10,240 bytes",
    )
    assert left_in(data) == []


def test_a_fetch_killed_leaves_no_temporary_file(tmp_path, server):
    """A SIGTERM'd fetch left its temporary file (2.1 GB seen), which no later fetch
    removed. Now SIGTERM cleans up on the way out, and what a SIGKILL left is removed by the
    next fetch into that folder."""
    server.custom["/x.bin"] = drip
    server.files["/fast/x.bin"] = BODY
    data = tmp_path / "data"
    script = (
        "import benchbench as bb; "
        f"bb.fetch_data('mnist', registry_file={str(registry(tmp_path, [server.url + '/x.bin']))!r}, "
        f"data_dir={str(data)!r}, progress=False)"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while not list(data.glob(".fetching-*/*")) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(data.glob(".fetching-*/*")), "the fetch never started writing"
    time.sleep(0.3)  # a few bytes into the temporary file
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) != 0
    assert left_in(data) == []
    host = socket.gethostname().replace("-", "_")
    killed = data / f".fetching-{host}-4194999"  # past Linux's largest process id: nobody's
    killed.mkdir(parents=True)
    (killed / "tmpabc123").write_bytes(b"half a file")
    mine = data / f".fetching-{host}-{os.getppid()}"  # a live process's: not touched
    mine.mkdir()
    elsewhere = data / ".fetching-othermachine-4194999"  # another machine's: its own
    elsewhere.mkdir()
    fetch(tmp_path, registry(tmp_path, [f"{server.url}/fast/x.bin"]))
    assert left_in(data) == sorted([mine.name, elsewhere.name, "x.bin"])


def _bomb(kind: str, path: Path, size: int) -> None:
    if kind == "tar":
        with tarfile.open(path, "w:gz") as bundle:
            info = tarfile.TarInfo("zeros.bin")
            info.size = size
            bundle.addfile(info, io.BytesIO(b"\0" * size))
    else:
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bundle:
            bundle.writestr("zeros.bin", b"\0" * size)


@pytest.mark.parametrize("kind", ["tar", "zip"])
def test_an_archive_unpacking_to_far_more_than_itself_is_refused(tmp_path, monkeypatch, kind):
    """A 3.1 MB tar.gz and a zip each unpacked a 3 GiB member. The members' sizes are added
    up first: past 100 times the archive (here with a floor of 1 MB, not 100 MB) nothing is
    written."""
    monkeypatch.setattr(archives, "FLOOR_MOST", 10**6)
    archive = tmp_path / f"bomb.{'tar.gz' if kind == 'tar' else 'zip'}"
    _bomb(kind, archive, 20_000_000)
    assert archive.stat().st_size < 100_000
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(
        BenchbenchError, match=r"unpacks to at least 20,000,000 bytes .*over 100 times"
    ):
        archives.unpack(archive, into)
    assert list(into.iterdir()) == []
    honest = tmp_path / f"honest.{'tar.gz' if kind == 'tar' else 'zip'}"
    _bomb(kind, honest, 500_000)  # under the floor: unpacked
    archives.unpack(honest, into)
    assert (into / "zeros.bin").stat().st_size == 500_000


def test_an_archive_larger_than_the_free_disk_is_refused(tmp_path, monkeypatch):
    archive = tmp_path / "a.tar.gz"
    _bomb("tar", archive, 50_000)
    usage = archives.shutil.disk_usage(tmp_path)
    monkeypatch.setattr(archives.shutil, "disk_usage", lambda _: usage._replace(free=1000))
    into = tmp_path / "into"
    into.mkdir()
    with pytest.raises(BenchbenchError, match=r"the disk has 1,000 free; nothing was unpacked"):
        archives.unpack(archive, into)
    assert list(into.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"extract": "false"}, r"'extract' must be true or false \(JSON's\), got 'false'"),
        ({"size": -5}, r"'size' must be a whole number of bytes from 1 to 1e\+15, got '-5'"),
        ({"size": 10**30}, r"'size' must be a whole number of bytes from 1 to 1e\+15"),
        ({"file": "a\0b"}, r"without control characters, got 'a\\x00b'"),
        ({"file": ".fetching-1/x.bin"}, r"'file' must be a relative path inside"),
    ],
    ids=["extract-string", "negative-size", "huge-size", "nul", "staging"],
)
def test_lax_registry_values_are_refused(tmp_path, change, words):
    """ "extract": "false" counted as true; a size of -5 or 10**30 was taken; a NUL in a file
    name was printed raw."""
    path = registry(tmp_path, ["http://127.0.0.1:9/x.bin"])
    entries = json.loads(path.read_text())
    entries["mnist"][0].update(change)
    path.write_text(json.dumps(entries))
    with pytest.raises(BenchbenchError, match=words):
        bb.data_status("mnist", registry_file=path, data_dir=tmp_path)


def test_a_site_registry_entry_for_no_installed_task_is_a_warning(tmp_path):
    """Entries for a task that does not exist were ignored without a word: a misspelled
    name left the task on its own mirrors."""
    path = registry(tmp_path, ["http://127.0.0.1:9/x.bin"])
    path.write_text(path.read_text().replace('"mnist"', '"mnsit"'))
    with pytest.warns(
        BenchbenchWarning, match=r"'mnsit' is no installed task \(did you mean 'mnist'\?\)"
    ):
        bb.data_status("mnist", registry_file=path, data_dir=tmp_path)
