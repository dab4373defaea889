"""Unpacking a fetched archive (a registry entry with ``extract``): all or nothing, through
no link, and no larger than the archive can honestly hold.

Every member must be a plain file or a folder whose name stays inside (no ``..``, no absolute
path): datasets need no links, and a link (a chain of them can pass any check of where it
points before it exists, past PATH_MAX) or a device is refused, naming it. The members'
sizes (each one's header says it) are added up before anything is written: more than
:data:`RATIO_MOST` times the archive (a decompression bomb: 3 MB of gzip holding 3 GiB of
zeros), more than :data:`MEMBERS_MOST` members, or more than the disk has free is refused.
Members go to a fresh folder beside their destination, moved into place only once every one
is in, so a refused or broken archive leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import BenchbenchError, one_line

RATIO_MOST = 100
"""How many times its own size an archive may unpack to (datasets' archives: about 1 to 10)."""
FLOOR_MOST = 100 * 10**6
"""What any archive may unpack to, however small (a tiny archive of text compresses well)."""
MEMBERS_MOST = 5_000_000
"""The most members an archive may hold (ImageNet's training set is 1.3 million images)."""


def unpack(archive: Path, into: Path) -> None:
    """Unpack a ``.tar[.gz|.bz2|.xz]`` or ``.zip`` into ``into``, all or nothing (see the
    module's docstring)."""
    into = Path(into).resolve()
    fresh = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=into))
    try:
        try:
            if archive.name.lower().endswith(".zip"):
                _unzip(archive, fresh)
            else:
                _untar(archive, fresh)
        except (tarfile.TarError, zipfile.BadZipFile, EOFError) as exc:
            raise BenchbenchError(f"cannot unpack {archive}: {one_line(exc, 160)}") from exc
        except OSError as exc:  # clashing members, a full disk
            raise BenchbenchError(
                f"cannot unpack {archive}: {exc.strerror or exc}; nothing was unpacked"
            ) from exc
        _move_in(fresh, into)
    finally:
        shutil.rmtree(fresh, ignore_errors=True)


class _Tally:
    """The members seen so far and their sizes, refused as soon as they pass a bound."""

    def __init__(self, archive: Path, into: Path) -> None:
        self.archive, self.count, self.total = archive, 0, 0
        self.most = max(RATIO_MOST * archive.stat().st_size, FLOOR_MOST)
        self.free = shutil.disk_usage(into).free

    def add(self, name: str, size: int) -> None:
        self.count += 1
        self.total += size
        if self.count > MEMBERS_MOST:
            _refuse(self.archive, name, f"is past {MEMBERS_MOST:,} members")
        if self.total > self.most:
            raise BenchbenchError(
                f"{self.archive} unpacks to at least {self.total:,} bytes (by {name[:80]!r}), "
                f"over {RATIO_MOST} times its own size: a decompression bomb, or not a "
                "dataset's archive; nothing was unpacked"
            )
        if self.total > self.free:
            raise BenchbenchError(
                f"{self.archive} unpacks to at least {self.total:,} bytes, and the disk has "
                f"{self.free:,} free; nothing was unpacked"
            )


def _untar(archive: Path, fresh: Path) -> None:
    with tarfile.open(archive) as bundle:
        tally = _Tally(archive, fresh)
        members = []
        for member in bundle:  # read one header at a time: a bomb stops at its bound
            if not (member.isfile() or member.isdir()):
                kind = "link" if member.issym() or member.islnk() else "special file"
                _refuse(archive, member.name, f"is a {kind}")
            _check_name(archive, member.name)
            tally.add(member.name, member.size)
            members.append(member)
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4 and later
            bundle.extractall(fresh, members=members, filter="data")
        else:
            bundle.extractall(fresh, members=members)


def _unzip(archive: Path, fresh: Path) -> None:
    with zipfile.ZipFile(archive) as bundle:
        tally = _Tally(archive, fresh)
        for info in bundle.infolist():
            kind = stat.S_IFMT(info.external_attr >> 16)  # 0: no type recorded, a plain file
            if kind not in (0, stat.S_IFREG, stat.S_IFDIR):
                _refuse(archive, info.filename, "is a link or a special file")
            _check_name(archive, info.filename)
            tally.add(info.filename, info.file_size)  # zipfile writes no more than this
        bundle.extractall(fresh)


def _check_name(archive: Path, member: str) -> None:
    path = PurePosixPath(member.replace("\\", "/"))
    if member.startswith(("/", "\\")) or path.is_absolute() or ".." in path.parts:
        _refuse(archive, member, "would land outside the folder it unpacks into")


def _refuse(archive: Path, member: str, why: str) -> None:
    raise BenchbenchError(f"{archive} holds {member[:120]!r}, which {why}; nothing was unpacked")


def _move_in(fresh: Path, into: Path) -> None:
    """Merge the unpacked tree ``fresh`` into ``into`` as extracting there would: folders
    merged (another archive's files beside them stay), files replaced; a link found on the
    way is replaced, never followed."""
    for item in sorted(fresh.iterdir()):
        target = into / item.name
        if item.is_dir():
            if target.is_symlink() or (target.exists() and not target.is_dir()):
                target.unlink()
            target.mkdir(exist_ok=True)
            _move_in(item, target)
            continue
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        os.replace(item, target)  # over a file or a link: the name is replaced
