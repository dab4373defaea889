"""Opening the results database: credentials never printed, unusable files named in one line,
locks waited for, transient errors retried."""

import os
import sqlite3
import threading
import time

import pytest

from benchbench import BenchbenchError, RunResult, RunSpec
from benchbench.storage.database import mask_credentials
from benchbench.storage.store import Store, default_url


def result(run_id_seed=0):
    return RunResult.for_spec(RunSpec(task="blobs", arch="mlp", seed=run_id_seed), "ok")


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("postgresql://bob:s3cret@db:5432/x", "postgresql://bob:***@db:5432/x"),
        ("postgresql+psycopg://bob:s3cret@db:abc/x", "postgresql+psycopg://bob:***@db:abc/x"),
        ("storage 'bob:s3cret@db/x' is not", "storage 'bob:***@db/x' is not"),
        ("bob:s3cret@db/x", "bob:***@db/x"),
        ("sqlite:////tmp/out/benchbench.db", "sqlite:////tmp/out/benchbench.db"),
        ("run a1b2: failed (ValueError: x)", "run a1b2: failed (ValueError: x)"),
    ],
)
def test_passwords_are_masked(text, shown):
    assert mask_credentials(text) == shown


@pytest.mark.parametrize(
    "url",
    ["bob:s3cret@db/x", "postgresql://bob:s3cret@db:abc/x", "not a url"],
)
def test_bad_urls_are_one_line_without_the_password(url):
    with pytest.raises(BenchbenchError, match="is not a database URL") as info:
        Store(url)
    assert "s3cret" not in str(info.value)


def test_an_empty_file_is_never_silently_made_a_database(tmp_path):
    path = tmp_path / "benchbench.db"
    path.write_bytes(b"")
    with pytest.raises(BenchbenchError, match=r"empty file \(0 bytes\)"):
        Store(default_url(tmp_path))
    assert path.stat().st_size == 0  # untouched
    path.write_text("hello, not a database")
    with pytest.raises(BenchbenchError, match="is not an SQLite database"):
        Store(default_url(tmp_path))


def test_a_database_with_damaged_pages_is_named(tmp_path):
    store = Store(default_url(tmp_path))
    for seed in range(200):
        store.save(result(seed))
    store.engine.dispose()
    path = tmp_path / "benchbench.db"
    data = bytearray(path.read_bytes())
    page = 4096
    data[3 * page : 6 * page] = os.urandom(3 * page)  # pages 4-6: table and index pages
    path.write_bytes(bytes(data))
    with pytest.raises(BenchbenchError, match="is (corrupt|unreadable)"):
        Store(default_url(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes read-only files anyway")
def test_a_read_only_database_is_readable_not_writable(tmp_path):
    Store(default_url(tmp_path)).save(result())
    path = tmp_path / "benchbench.db"
    path.chmod(0o444)
    try:
        with pytest.raises(BenchbenchError, match="is read-only"):
            Store(default_url(tmp_path))
        assert len(Store(default_url(tmp_path), writable=False).results()) == 1
    finally:
        path.chmod(0o644)


def test_the_read_only_check_without_root(tmp_path, monkeypatch):
    """The same check, where the tests run as root: os.access is what it asks."""
    Store(default_url(tmp_path)).save(result())
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)
    with pytest.raises(BenchbenchError, match="is read-only"):
        Store(default_url(tmp_path))
    assert len(Store(default_url(tmp_path), writable=False).results()) == 1


def hold_lock(path, seconds, started):
    conn = sqlite3.connect(path, timeout=30)
    conn.execute("BEGIN EXCLUSIVE")
    started.set()
    time.sleep(seconds)
    conn.rollback()
    conn.close()


def test_a_save_waits_out_a_lock_longer_than_one_busy_timeout(tmp_path):
    store = Store(default_url(tmp_path), busy_seconds=0.2, patience_seconds=120)
    waits = []
    store.on_wait = waits.append
    started = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(tmp_path / "benchbench.db", 1.5, started))
    holder.start()
    started.wait()
    store.save(result())  # locked for 1.5 s, each attempt waits 0.2 s: retried until free
    holder.join()
    assert len(store.results()) == 1
    assert waits and "database is locked" in waits[0]


def test_a_lock_held_past_all_patience_is_one_line(tmp_path):
    store = Store(default_url(tmp_path), busy_seconds=0.1, patience_seconds=0.5)
    started = threading.Event()
    holder = threading.Thread(target=hold_lock, args=(tmp_path / "benchbench.db", 3, started))
    holder.start()
    started.wait()
    with pytest.raises(BenchbenchError, match="saving run .*: database is locked"):
        store.save(result())
    holder.join()


def test_a_replacing_write_that_collides_with_another_process_is_redone():
    from sqlalchemy.exc import IntegrityError

    from benchbench.storage.database import retrying

    calls = []

    def write():
        calls.append(1)
        if len(calls) == 1:  # the other process inserted the same key first
            raise IntegrityError("INSERT", {}, Exception('duplicate key "suites_pkey"'))
        return "written"

    assert retrying(write, "recording suite s", 5, replaces=True) == "written"
    assert len(calls) == 2
    calls.clear()
    with pytest.raises(BenchbenchError, match="recording suite s: .*suites_pkey"):
        retrying(write, "recording suite s", 5)  # an insert that must not replace: one line


def test_an_empty_file_another_process_is_creating_is_waited_for(tmp_path):
    from benchbench.storage.database import check_sqlite_file

    path = tmp_path / "being-created.db"
    path.write_bytes(b"")

    def create() -> None:  # the other process's first commit writes the header
        time.sleep(0.3)
        with sqlite3.connect(path) as conn:
            conn.execute("create table t (x)")

    thread = threading.Thread(target=create)
    thread.start()
    check_sqlite_file(f"sqlite:///{path}", writable=True)  # no error: it became a database
    thread.join()
    stale = tmp_path / "stale.db"
    stale.write_bytes(b"")
    os.utime(stale, (time.time() - 3600, time.time() - 3600))
    started = time.monotonic()
    with pytest.raises(BenchbenchError, match=r"empty file \(0 bytes\)"):
        check_sqlite_file(f"sqlite:///{stale}", writable=True)
    assert time.monotonic() - started < 1  # an old empty file is refused at once


def test_processes_sharing_one_output_folder_never_fail_its_write_check(tmp_path):
    """Two workers starting together on one --out must both pass the writability probe
    (a shared probe file once let one unlink the other's and fail with 'not writable')."""
    from benchbench.storage.store import prepare_out

    out = tmp_path / "shared-out"
    errors: list[Exception] = []

    def check():
        try:
            for _ in range(200):
                prepare_out(out)
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=check) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert list(out.iterdir()) == []  # no probe left behind
