"""One file from one mirror, bounded in size and time (pooch's own downloaders are not).

A fetch (:mod:`benchbench.data.fetch`) hands pooch a downloader of its own
(:class:`Bounded`): pooch still writes to a temporary file, checks the checksum and only then
moves the file into place. What the downloader adds:

- **size**: no more bytes are written than the registry's ``size`` (or, without one,
  :data:`UNSIZED_MOST`), counted after any ``Content-Encoding`` is decoded: an endless body,
  or 3 MB of gzip that decodes to gigabytes, stops at the bound;
- **time**: each read waits at most :data:`READ_SECONDS`, the transfer as a whole keeps at
  least :data:`FLOOR_RATE` bytes a second once :data:`GRACE_SECONDS` have passed (a server
  that drips a byte every ten seconds never lets a per-read timeout fire), and none lasts
  more than :data:`CEILING_SECONDS`;
- **ftp://** mirrors through the standard library's ``ftplib`` under the same bounds
  (``host:port`` taken);
- **nothing left behind**: the temporary file lives in a staging folder of this process
  (``.fetching-HOST-PID`` beside the file), removed when the fetch ends, on SIGTERM too; one a
  killed fetch of this machine left is removed by the next fetch into that folder (another
  machine's, in a data folder they share, is its own: its process ids mean nothing here).

A mirror that fails in any of these ways raises :class:`MirrorFailed` with the reason in a
few words, and the caller tries the next mirror.
"""

from __future__ import annotations

import ftplib
import os
import shutil
import signal
import socket
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from ..errors import BenchbenchError

READ_SECONDS = 30.0
"""The longest wait for a connection or for any bytes at all."""
GRACE_SECONDS = 60.0
"""How long a transfer may run before its average rate is held to :data:`FLOOR_RATE`."""
FLOOR_RATE = 32_000
"""The slowest average transfer taken after :data:`GRACE_SECONDS`, in bytes a second."""
CEILING_SECONDS = 6 * 3600.0
"""The longest any one file's transfer may take."""
UNSIZED_MOST = 20 * 10**9
"""The most bytes written for a registry entry without a ``size``."""
_BLOCK = 1 << 16
STAGING = ".fetching-"
"""How the staging folders of fetches in progress start (``.fetching-HOST-PID``)."""


class MirrorFailed(Exception):
    """One mirror did not give the file; the message is the reason, in a few words."""


class Bounded:
    """A pooch downloader writing at most ``most`` bytes (``exact``: the registry's size,
    else the ceiling for files without one), at a floor rate, within a ceiling of time,
    from an http, https or ftp URL; a progress bar on stderr when ``progress``."""

    def __init__(self, most: int, exact: bool, progress: bool) -> None:
        self.most, self.exact, self.progress = most, exact, progress

    def __call__(self, url: str, output_file: Any, pooch: Any = None, check_only: bool = False):
        if check_only:
            return True
        with open(output_file, "wb") as out, self._bar() as bar:
            clock = _Clock()
            written = 0

            def write(block: bytes) -> None:
                nonlocal written
                written += len(block)
                if written > self.most:
                    raise MirrorFailed(self._too_much())
                try:
                    out.write(block)
                except OSError as exc:  # a full disk: no other mirror would do better
                    raise BenchbenchError(
                        f"cannot write {output_file}: {exc.strerror or exc}; nothing was kept"
                    ) from exc
                bar.update(len(block))
                clock.check(written)

            if url.lower().startswith("ftp://"):
                _ftp(url, write, bar)
            else:
                _http(url, write, bar, self)
        return None

    def _too_much(self) -> str:
        if self.exact:
            return f"sent more than the registry's size of {self.most:,} bytes"
        return (
            f"sent more than {size_text(self.most)}, the most taken for a file whose "
            "registry entry gives no 'size'"
        )

    def announced(self, length: int) -> None:
        """Refuse a transfer announced larger than the bound, before any byte is written."""
        if length > self.most:
            raise MirrorFailed(f"announces {length:,} bytes; {self._too_much()[5:]}")

    @contextmanager
    def _bar(self) -> Iterator[Any]:
        from tqdm import tqdm  # noqa: PLC0415

        total = self.most if self.exact else None
        with tqdm(total=total, unit="B", unit_scale=True, disable=not self.progress,
                  leave=False, dynamic_ncols=True) as bar:  # fmt: skip
            yield bar


class _Clock:
    """The transfer's time bounds: the floor rate after the grace period, the ceiling."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    def check(self, written: int) -> None:
        elapsed = time.monotonic() - self.start
        if elapsed > CEILING_SECONDS:
            raise MirrorFailed(f"took longer than {CEILING_SECONDS / 3600:g} h")
        if elapsed > GRACE_SECONDS and written < FLOOR_RATE * elapsed:
            raise MirrorFailed(
                f"too slow ({written / elapsed / 1000:.1f} kB/s after {elapsed:.0f} s; at "
                f"least {FLOOR_RATE / 1000:g} kB/s is needed)"
            )


def _http(url: str, write: Callable[[bytes], None], bar: Any, bounded: Bounded) -> None:
    """An http(s) transfer read as bytes arrive (``read1``: a read returns what came,
    so the clock is checked between drips), decoded as the server encoded it."""
    import requests  # noqa: PLC0415 - only a fetch needs it
    import urllib3  # noqa: PLC0415

    try:
        with requests.get(url, stream=True, timeout=READ_SECONDS) as response:
            response.raise_for_status()
            length = response.headers.get("Content-Length", "")
            if length.isdigit() and not response.headers.get("Content-Encoding"):
                bounded.announced(int(length))
                if not bounded.exact:
                    bar.reset(total=int(length))
            raw = response.raw
            read = getattr(raw, "read1", None) or raw.read  # urllib3 2; 1.x reads whole blocks
            while block := read(_BLOCK, decode_content=True):
                write(block)
    except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as exc:
        raise MirrorFailed(_reason(exc)) from exc  # a 404, refused, cut short, timed out


def _ftp(url: str, write: Callable[[bytes], None], bar: Any) -> None:
    """An ftp transfer (anonymous unless the URL names a user), each wait bounded."""
    parts = urllib.parse.urlsplit(url)
    try:
        with ftplib.FTP(timeout=READ_SECONDS) as ftp:
            ftp.connect(parts.hostname or "", parts.port or 21)
            ftp.login(urllib.parse.unquote(parts.username or "anonymous"),
                      urllib.parse.unquote(parts.password or ""))  # fmt: skip
            ftp.voidcmd("TYPE I")
            path = urllib.parse.unquote(parts.path)
            with suppress(ftplib.Error):
                bar.reset(total=ftp.size(path))
            ftp.retrbinary(f"RETR {path}", write, blocksize=_BLOCK)
    except (ftplib.Error, OSError, EOFError) as exc:
        raise MirrorFailed(_reason(exc)) from exc


_TROUBLES = (
    ("refused", "connection refused"),
    ("name or service not known", "host not found"),
    ("nodename nor servname", "host not found"),
    ("temporary failure in name resolution", "host not found"),
    ("timed out", "timed out"),
    ("incompleteread", "transfer cut short"),
    ("connection broken", "transfer cut short"),
)


def _reason(exc: BaseException) -> str:
    """A download failure in a few words: the HTTP status, the FTP reply, or the
    connection's trouble."""
    from ..errors import one_line  # noqa: PLC0415

    response = getattr(exc, "response", None)
    if response is not None and getattr(response, "status_code", None):
        return f"HTTP {response.status_code}"
    if isinstance(exc, ftplib.Error):
        return f"FTP {one_line(exc, 80)}"
    text = f"{type(exc).__name__} {exc}".lower()
    for hint, words in _TROUBLES:
        if hint in text:
            return words
    if isinstance(exc, EOFError):
        return "connection closed"
    return f"{type(exc).__name__}: {one_line(exc, 120)}"


@contextmanager
def staging(folder: Path) -> Iterator[Path]:
    """A folder of this process beside ``folder``'s files for pooch's temporary file,
    removed at the end (SIGTERM ends the fetch through here too); those of fetches killed
    before are removed first."""
    folder.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().replace("-", "_")
    for left in folder.glob(f"{STAGING}{host}-*"):
        pid = left.name.rpartition("-")[2]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(left, ignore_errors=True)
    place = folder / f"{STAGING}{host}-{os.getpid()}"
    with _terminate_as_exit():
        try:
            place.mkdir(exist_ok=True)
            yield place
        finally:
            shutil.rmtree(place, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


@contextmanager
def _terminate_as_exit() -> Iterator[None]:
    """SIGTERM raises SystemExit meanwhile (its default ends the process at once, skipping
    every clean-up); only in the main thread, where Python runs signal handlers."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def exit_now(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)

    before = signal.signal(signal.SIGTERM, exit_now)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, before)


def free_space(folder: Path, needed: int | None, what: str) -> None:
    """Refuse ``needed`` bytes the disk of ``folder`` does not have free."""
    if not needed:
        return
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise BenchbenchError(
            f"{what} needs {size_text(needed)}, and {folder} has {size_text(free)} free; "
            "nothing was written"
        )


def size_text(size: int | None) -> str:
    """Bytes as people read them: ``11.6 MB``."""
    if not size:
        return "size unknown"
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"
