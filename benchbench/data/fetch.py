"""Tasks' data files: where each comes from (a registry), whether it is here, and fetching it.

A **registry** says, per task, which files its data is made of, where to download each, and
its checksum, as JSON::

    {"mnist": [{"file": "MNIST/raw/train-images-idx3-ubyte.gz",
                "urls": ["https://mirror-a/...", "https://mirror-b/..."],
                "md5": "f68b3c2dcbeaaa9fbdd348bbdeb94873", "size": 9912422}, ...],
     "cifar10": [{"file": "cifar-10-python.tar.gz", "urls": [...], "md5": "...",
                  "extract": true}]}

``file`` is a path under the data folder (it may not leave it), ``urls`` are tried in order
(a mirror after a failure), ``sha256`` or ``md5`` is the checksum, ``extract`` unpacks an
archive into the folder that holds it, ``size`` (bytes, optional) is what a fetch will
download. A task plugin declares its entries on the task class (``downloads``, the same list);
a site's own registry (``--registry FILE`` or ``$BENCHBENCH_DATA_REGISTRY``) replaces a task's
entries wholesale: an air-gapped site points every task at its mirror, and the tests point
the fetcher at a server on the loopback address.

Downloads go through pooch: each file is written under a temporary name, checked
against its checksum and only then renamed into place, so an interrupted or corrupted
transfer never leaves a file a reader would take for data, and fetching again starts it over.
Each transfer is bounded in size and time (:mod:`.download`), and archives are unpacked all
or nothing, through no link and no larger than they can honestly hold (:mod:`.archives`).
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import os
import warnings
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import BenchbenchError, BenchbenchWarning, one_line
from ..phrasing import either, flag
from . import download
from .archives import unpack
from .download import STAGING, Bounded, MirrorFailed, free_space, size_text, staging

REGISTRY_ENV = "BENCHBENCH_DATA_REGISTRY"
"""The environment variable naming a site registry file (what ``--registry`` overrides)."""


@dataclass(frozen=True)
class DataFile:
    """One file of a task's data: its path under the data folder, where to download it,
    its checksum (``"sha256:..."`` or ``"md5:..."``), whether it is an archive to unpack,
    and its size in bytes when the registry says."""

    file: str
    urls: tuple[str, ...]
    checksum: str
    extract: bool = False
    size: int | None = None

    def path(self, data_dir: Path) -> Path:
        return Path(data_dir) / self.file


@dataclass(frozen=True)
class DataStatus:
    """What :func:`status` says of one task's data: ``state`` is ``present``, ``missing``,
    ``damaged`` (a file whose checksum is wrong), or ``included`` (a task that needs no
    files: it ships in a package or is generated); ``size`` the bytes a fetch downloads;
    ``where`` the folder its files live in; ``fetch`` how to get them, in the caller's words
    (``benchbench data fetch TASK`` on the command line, ``bb.fetch_data('TASK')`` in
    Python); ``detail`` what is wrong with a damaged file."""

    task: str
    """The task's name."""
    state: str
    """``present``, ``missing``, ``damaged`` or ``included``."""
    size: int | None
    """Bytes a fetch downloads (None when not known)."""
    where: str
    """The folder its files live in."""
    fetch: str | None
    """How to fetch them, in the caller's words; None for a task with nothing to fetch."""
    detail: str = ""
    """What is wrong with a damaged file."""

    @property
    def size_text(self) -> str:
        """The size as people read it (empty for a task with nothing to fetch)."""
        return size_text(self.size) if self.size else ""


def parse_registry(data: Any, source: str) -> dict[str, list[DataFile]]:
    """A registry's entries, checked: one clear line for anything malformed (naming the
    task and the entry), and no ``file`` that would leave the data folder."""
    if not isinstance(data, Mapping):
        raise BenchbenchError(f"{source}: a data registry is a JSON object of task -> files")
    found: dict[str, list[DataFile]] = {}
    for task, entries in data.items():
        if not isinstance(entries, list) or not entries:
            raise BenchbenchError(f"{source}: {task!r} must map to a non-empty list of files")
        files = []
        for number, entry in enumerate(entries, start=1):
            where = f"{source}: {task!r} file {number}"
            if not isinstance(entry, Mapping):
                raise BenchbenchError(f"{where} is not an object")
            name = entry.get("file")
            if isinstance(name, str) and _too_long(name):
                raise BenchbenchError(
                    f"{where}: 'file' is too long for a file system ({len(name)} characters, "
                    f"a part over 255 bytes or the whole over {FILE_MOST})"
                )
            if not isinstance(name, str) or not _inside(name):
                raise BenchbenchError(
                    f"{where}: 'file' must be a relative path inside the data folder, "
                    f"outside benchbench's own {', '.join(OWN_PLACES)}, without control "
                    f"characters, got {ascii(name)[:80]}"
                )
            urls = entry.get("urls")
            if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
                raise BenchbenchError(f"{where}: 'urls' must be a non-empty list of URLs")
            odd = [u for u in urls if not u.lower().startswith(URL_SCHEMES)]
            if odd:
                raise BenchbenchError(f"{where}: {odd[0][:80]!r} is not an http, https or ftp URL")
            checksum = _checksum(entry, where)
            size = entry.get("size")
            if size is not None and (
                not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= SIZE_MOST
            ):
                raise BenchbenchError(
                    f"{where}: 'size' must be a whole number of bytes from 1 to {SIZE_MOST:.0e}, "
                    f"got {str(size)[:40]!r}"
                )
            extract = entry.get("extract", False)
            if not isinstance(extract, bool):
                raise BenchbenchError(
                    f"{where}: 'extract' must be true or false (JSON's), got {extract!r}"
                )
            files.append(DataFile(name, tuple(urls), checksum, extract, size))
        found[str(task)] = files
    return found


def _checksum(entry: Mapping[str, Any], where: str) -> str:
    for kind, length in (("sha256", 64), ("md5", 32)):
        value = entry.get(kind)
        if value is not None:
            if not isinstance(value, str) or len(value) != length or not _is_hex(value):
                raise BenchbenchError(f"{where}: {kind!r} must be {length} hex digits")
            return f"{kind}:{value.lower()}"
    raise BenchbenchError(f"{where}: give its 'sha256' (or 'md5') checksum")


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


URL_SCHEMES = ("http://", "https://", "ftp://")
"""What a mirror's URL may start with (what pooch can download from)."""
FILE_MOST = 1024
"""The longest registry ``file`` path, in bytes (each part at most 255, as file systems take)."""


def _too_long(name: str) -> bool:
    """Whether ``name`` is longer than a file system takes (each part, or the whole)."""
    encoded = name.encode("utf-8", "surrogateescape")
    return len(encoded) > FILE_MOST or any(len(part) > 255 for part in encoded.split(b"/"))


OWN_PLACES = (".fingerprints.json", "sources", "declared", "splits")
"""What benchbench itself keeps in the data folder (the fingerprint cache, which decides run
identity; cached source models; decoded own data; cached splits): no registry file may go
there (nor into the scratch folders of a fetch or an unpacking in progress)."""
SIZE_MOST = 10**15
"""The largest ``size`` a registry entry may give (a petabyte)."""


def _inside(name: str) -> bool:
    """Whether a registry's ``file`` stays inside the data folder and out of benchbench's
    own places in it: a relative path without ``..``, a backslash or a leading ``~`` (which
    pooch would expand to a home folder)."""
    path = PurePosixPath(name)
    return (
        bool(name)
        and not path.is_absolute()
        and ".." not in path.parts
        and "\\" not in name
        and not name.startswith("~")
        and name.isprintable()
        and path.parts[0] not in OWN_PLACES
        and not any(part.startswith((STAGING, ".unpacking-")) for part in path.parts)
    )


REGISTRY_MOST = 16 * 2**20
"""The most bytes a registry file may hold: it lists files (a few kilobytes), so a larger one
(``/dev/zero``) is a mistake, refused before it fills the memory."""


def read_registry(path: Path) -> dict[str, list[DataFile]]:
    """A registry file's entries (:func:`parse_registry`); one line if it cannot be read:
    missing, not a regular file (a pipe would block), larger than :data:`REGISTRY_MOST`,
    not UTF-8, not JSON, or nested too deeply to parse."""
    path = Path(path).expanduser()
    try:
        if not path.is_file():
            raise BenchbenchError(f"data registry {path} is not a regular file")
        with path.open("rb") as source:
            raw = source.read(REGISTRY_MOST + 1)
    except OSError as exc:
        raise BenchbenchError(f"cannot read data registry {path}: {exc.strerror or exc}") from exc
    if len(raw) > REGISTRY_MOST:
        raise BenchbenchError(f"data registry {path} is larger than {size_text(REGISTRY_MOST)}")
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BenchbenchError(f"data registry {path} is not UTF-8 text ({exc.reason})") from exc
    except ValueError as exc:
        raise BenchbenchError(f"data registry {path} is not JSON ({one_line(exc, 120)})") from exc
    except RecursionError:
        raise BenchbenchError(f"data registry {path} nests too deeply to be a registry") from None
    return parse_registry(data, str(path))


def registry(
    tasks: Mapping[str, Any], site: Path | str | None = None, known: Collection[str] = ()
) -> dict[str, list[DataFile]]:
    """The entries of every task that declares ``downloads`` (``tasks``: name -> class),
    with a site registry's entries in place of a task's own: ``site``, else the file
    ``$BENCHBENCH_DATA_REGISTRY`` names. A site entry also serves every task that declares
    the same files (``cifar10``'s serves ``cifar10-semi``), so a mirror is listed once.
    With ``known`` (every installed task's name), a site entry for a task not among them is
    a warning: a misspelled name would otherwise leave the task on its own mirrors."""
    found: dict[str, list[DataFile]] = {}
    for name, cls in tasks.items():
        declared = getattr(cls, "downloads", None)
        if declared:
            found.update(parse_registry({name: list(declared)}, f"task {name}"))
    chosen = site or os.environ.get(REGISTRY_ENV)
    if chosen:
        mirrored = read_registry(Path(chosen))
        by_files = {frozenset(f.file for f in files): files for files in mirrored.values()}
        for name, files in list(found.items()):
            found[name] = by_files.get(frozenset(f.file for f in files), files)
        found.update(mirrored)
        for name in sorted(set(mirrored) - set(known)) if known else ():
            close = difflib.get_close_matches(name, sorted(known), n=1)
            warnings.warn(
                f"data registry {chosen}: {name!r} is no installed task"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + "; its entries serve nothing",
                BenchbenchWarning,
                stacklevel=3,
            )
    return found


def file_checksum(path: Path, kind: str) -> str:
    """The hex digest of a file (``kind``: sha256 or md5), read in 1 MiB blocks."""
    digest = hashlib.new(kind)
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def _matches(path: Path, checksum: str) -> bool:
    kind, _, value = checksum.partition(":")
    return file_checksum(path, kind) == value


def fetch_command(tasks: Iterable[str]) -> str:
    """How the caller fetches the data of ``tasks``: the command in a shell
    (``benchbench data fetch mnist``), the API's call in Python (``bb.fetch_data('mnist')``)."""
    tasks = list(tasks)
    return either(
        "benchbench data fetch " + " ".join(tasks),
        f"bb.fetch_data({', '.join(repr(t) for t in tasks)})",
    )


def status(task: str, cls: Any, files: Sequence[DataFile] | None, data_dir: Path) -> DataStatus:
    """Where one task's data stands. Present means every file the task reads is here and
    every registry file that is here has its checksum (an archive kept after unpacking is
    checked too); a task without registry entries that reads files is present or missing."""
    data_dir = Path(data_dir)
    try:
        needed = list(cls().data_files(data_dir))
    except Exception:  # noqa: BLE001 - a plugin's own failure is that task's line, not ours
        needed = []
    size = sum(f.size or 0 for f in files) if files else None
    where = str(_common_folder(data_dir, needed or [f.file for f in files or ()]))
    fetch = fetch_command([task]) if files else None
    if not files and not needed:
        return DataStatus(task, "included", None, "", None)
    for entry in files or ():
        path = entry.path(data_dir)
        if path.is_file() and not _matches(path, entry.checksum):
            return DataStatus(task, "damaged", size, where, fetch, f"{entry.file}: wrong checksum")
    absent = [p for p in needed if not Path(p).exists()]
    if files and not needed:  # nothing declared to read: the registry's own files decide
        absent = [e.path(data_dir) for e in files if not e.path(data_dir).is_file()]
    if absent:
        shown = os.path.relpath(absent[0], data_dir)
        more = f" and {len(absent) - 1} more" if len(absent) > 1 else ""
        return DataStatus(task, "missing", size, where, fetch, f"no {shown}{more}")
    return DataStatus(task, "present", size, where, fetch)


def _common_folder(data_dir: Path, names: Sequence[Any]) -> Path:
    """The folder under ``data_dir`` that holds all of ``names`` (``data_dir`` itself when
    they spread over several)."""
    folders = [Path(os.path.relpath(Path(data_dir) / n, data_dir)).parent for n in names]
    if not folders:
        return data_dir
    common = Path(os.path.commonpath([str(f) for f in folders]))
    return data_dir if str(common) in ("", ".") else data_dir / common


def fetch(
    task: str, files: Sequence[DataFile], data_dir: Path, progress: bool = True
) -> list[Path]:
    """Download ``task``'s files into ``data_dir`` (those already here with the right
    checksum are kept), each from the first of its URLs that gives the right bytes, and
    unpack its archives; the paths written. One line naming the file and each mirror's
    failure when none works."""
    data_dir = Path(os.path.abspath(data_dir))  # pooch expands a leading ~ in a folder
    written = []
    for entry in files:
        path = entry.path(data_dir)
        _check_folder(task, path, data_dir)
        if not (path.is_file() and _matches(path, entry.checksum)):
            _download(task, entry, path, progress)
        if entry.extract:
            unpack(path, path.parent)
        written.append(path)
    return written


def _check_folder(task: str, path: Path, data_dir: Path) -> None:
    """Refuse a file whose folder, as it exists now, leads out of the data folder (a folder
    on the way that is a link elsewhere): a registry's ``file`` may not leave it."""
    root, folder = data_dir.resolve(), path.parent.resolve()
    if folder != root and root not in folder.parents:
        raise BenchbenchError(
            f"{task}: {path.relative_to(data_dir)} would be written to {folder}, outside the "
            f"data folder {root} (a folder on its way is a link out of it); nothing was fetched"
        )


def _download(task: str, entry: DataFile, path: Path, progress: bool) -> None:
    """``entry`` into ``path`` from the first mirror that gives the right bytes, each
    transfer bounded (:mod:`.download`); one line naming each mirror's failure when none
    does."""
    import pooch  # noqa: PLC0415 - only a fetch needs it

    pooch.get_logger().setLevel(logging.WARNING)  # its own "Downloading ..." lines
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchbenchError(f"cannot create {path.parent}: {exc.strerror or exc}") from exc
    free_space(path.parent, entry.size, f"{task}: {entry.file}")
    bounded = Bounded(entry.size or download.UNSIZED_MOST, entry.size is not None, progress)
    failures = []
    with staging(path.parent) as place:
        for url in entry.urls:
            try:
                pooch.retrieve(
                    url, known_hash=entry.checksum, fname=path.name, path=place,
                    downloader=bounded,
                )  # fmt: skip
                os.replace(place / path.name, path)
                return
            except MirrorFailed as exc:
                failures.append(f"{url}: {exc}")
            except ValueError as exc:  # pooch: the bytes did not match the checksum
                failures.append(f"{url}: wrong checksum" if "hash" in str(exc) else f"{url}: {exc}")
            except OSError as exc:  # a folder that cannot be written
                raise BenchbenchError(
                    f"{task}: cannot write {path}: {exc.strerror or exc} (nothing was kept)"
                ) from exc
    raise BenchbenchError(
        f"{task}: could not fetch {entry.file} ({'; '.join(failures)}); nothing was kept"
    )


def prepare(
    tasks: Mapping[str, Any],
    data_dir: Path,
    download: bool,
    site: Path | str | None = None,
    progress: bool = True,
) -> dict[str, str]:
    """Before anything trains: with ``download``, fetch the data of every task in ``tasks``
    (name -> class) that has registry entries and is missing or damaged here; without, say
    how to. The hint per task whose data is not here (what to add to its missing-data
    line)."""
    entries = registry(tasks, site)
    hints = {}
    for name, cls in tasks.items():
        files = entries.get(name)
        if not files:
            continue
        state = status(name, cls, files, data_dir)
        if state.state in ("present", "included"):
            continue
        if download:
            fetch(name, files, data_dir, progress)
        else:
            hints[name] = (
                f"fetch it with {either(repr(fetch_command([name])), fetch_command([name]))} "
                f"({size_text(state.size)}), or pass {flag('download')}"
            )
    return hints
