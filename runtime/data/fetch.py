"""``memxbar data fetch``: download a data set's official files, verify them, unpack archives.

Each file is streamed into a temporary ``.NAME.*.part`` file in the folder it belongs in, hashed
on the way, checked against its published SHA-256 and only then renamed into place; a mismatch,
an error or Ctrl-C deletes the temporary file, so nothing partial is ever left. Files already
present and verified are not downloaded again. The data folder is ``--dir``, else
``$MEMXBAR_DATA``, else the per-user folder (:mod:`memxbar.runtime.data.home`); the mirror is
``--mirror``, else ``$MEMXBAR_DATA_MIRROR``, else the official sites (a mirror serves every file
under its official name, e.g. ``http://host/data/cifar-10-python.tar.gz``; ``file://`` works).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

from tqdm import tqdm

from .catalog import CATALOG, DataSource, RemoteFile
from .home import data_root
from .inventory import Presence, inspect, location, mismatch, write_manifest
from .safe_tar import unpack_tar

__all__ = ["MIRROR_ENV", "find_source", "mirror_bases", "fetch", "list_data"]

#: The environment variable that names a mirror (base URL) for every data set.
MIRROR_ENV = "MEMXBAR_DATA_MIRROR"
_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


class _NetworkError(Exception):
    """A mirror could not deliver a file (the next mirror is tried)."""


def find_source(name: str, catalog: Mapping[str, DataSource] | None = None) -> DataSource:
    catalog = CATALOG if catalog is None else catalog
    try:
        return catalog[name]
    except KeyError:
        raise ValueError(
            f"unknown data set {name[:100]!r} (expected one of: {', '.join(catalog)})"
        ) from None


def mirror_bases(source: DataSource, mirror: str | None = None) -> tuple[str, ...]:
    """Base URLs to try in order: ``mirror`` (else $MEMXBAR_DATA_MIRROR) or the official ones."""
    mirror = mirror or os.environ.get(MIRROR_ENV, "")
    if not mirror:
        return source.mirrors
    if urllib.parse.urlsplit(mirror).scheme not in ("http", "https", "file"):
        raise ValueError(
            f"--mirror / ${MIRROR_ENV}: expected an http://, https:// or file:// URL, "
            f"got {mirror[:200]!r}"
        )
    return (mirror.rstrip("/") + "/",)


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(f"{folder}: cannot create the data folder ({err.strerror or err})") from None


def _open_part(target: Path) -> tuple[Path, BinaryIO]:
    """A new temporary file next to ``target`` (same file system, so the rename is atomic)."""
    try:
        fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as err:
        raise OSError(f"{target.parent}: cannot write there ({err.strerror or err})") from None
    return Path(name), os.fdopen(fd, "wb")


def _network_reason(err: BaseException) -> str:
    if isinstance(err, urllib.error.HTTPError):
        return f"HTTP {err.code} {err.reason}"
    reason = getattr(err, "reason", None) or err
    return str(getattr(reason, "strerror", None) or reason) or type(err).__name__


def _max_bytes(remote: RemoteFile) -> int | None:
    # A guard against a server that never stops, not a check (the checksum is): room for a
    # mirror that recompressed the file less tightly.
    sizes = [s for s in (remote.size, remote.content_size) if s is not None]
    return 2 * max(sizes) + _CHUNK if sizes else None


def _receive(response, stream: BinaryIO, url: str, remote: RemoteFile, bar) -> str:
    """Copy the response body to ``stream``; return its SHA-256."""
    digest, received, limit = hashlib.sha256(), 0, _max_bytes(remote)
    while True:
        try:
            chunk = response.read(_CHUNK)
        except (OSError, http.client.HTTPException) as err:
            raise _NetworkError(_network_reason(err)) from None
        if not chunk:
            return digest.hexdigest()
        received += len(chunk)
        if limit is not None and received > limit:
            raise ValueError(
                f"{url}: more than {limit} bytes (published size {remote.size}); refused, "
                "nothing kept"
            )
        digest.update(chunk)
        stream.write(chunk)
        bar.update(len(chunk))


def _download_from(url: str, remote: RemoteFile, target: Path, progress: bool) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "memxbar"})
    try:
        response = urllib.request.urlopen(request, timeout=_TIMEOUT_S)
    except (OSError, http.client.HTTPException) as err:
        raise _NetworkError(_network_reason(err)) from None
    length = response.headers.get("Content-Length")
    bar = tqdm(
        total=int(length) if length and length.isdigit() else remote.size,
        desc=remote.name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        disable=not progress,
        file=sys.stderr,
        mininterval=0.5,
        dynamic_ncols=True,
    )
    with response, bar:
        part, stream = _open_part(target)
        try:
            with stream:
                sha256 = _receive(response, stream, url, remote, bar)
            problem = mismatch(part, remote, sha256=sha256)
            if problem is not None:
                raise ValueError(
                    f"{url}: checksum mismatch for {remote.name}: {problem}; the download was "
                    "deleted"
                )
            os.replace(part, target)
        except OSError as err:
            raise OSError(f"{target}: cannot write ({err.strerror or err})") from None
        finally:
            part.unlink(missing_ok=True)  # gone already after a successful rename


def _download(
    remote: RemoteFile,
    bases: tuple[str, ...],
    target: Path,
    progress: bool,
    log: Callable[[str], None],
) -> None:
    """``remote`` from the first base URL that delivers it, verified, to ``target``."""
    failures = []
    for base in bases:
        url = base + remote.name
        log(f"downloading {url}")
        try:
            _download_from(url, remote, target, progress)
        except _NetworkError as err:
            failures.append(f"{url}: {err}")
            continue
        log(f"{target}: sha256 verified")
        return
    raise OSError(f"cannot download {remote.name}: {'; '.join(failures)}")


def _fetch_archive(
    source: DataSource,
    root: Path,
    bases: tuple[str, ...],
    progress: bool,
    log: Callable[[str], None],
) -> Path:
    remote = source.files[0]
    archive = root / remote.name
    # A verified archive left by an interrupted unpack is used again.
    if not (archive.is_file() and mismatch(archive, remote) is None):
        _download(remote, bases, archive, progress, log)
    log(f"unpacking {archive.name} into {root / source.folder}")
    try:
        unpack_tar(
            archive,
            root,
            source.folder,
            finish=lambda folder, sizes: write_manifest(folder, remote, sizes),
        )
    except ValueError:
        archive.unlink(missing_ok=True)  # verified, but not what a data set may unpack
        raise
    archive.unlink()
    return root / source.folder


def fetch(
    name: str,
    data_dir: str | os.PathLike | None = None,
    *,
    mirror: str | None = None,
    catalog: Mapping[str, DataSource] | None = None,
    progress: bool = True,
    log: Callable[[str], None] = print,
) -> Path:
    """Download data set ``name`` into the data folder unless it is there and verified.

    Args:
        name: "mnist", "cifar10" or "stl10" (a key of ``catalog``).
        data_dir: the data folder (default: $MEMXBAR_DATA, else the per-user folder).
        mirror: a base URL serving the files under their official names (default:
            $MEMXBAR_DATA_MIRROR, else the official sites).
        catalog: the data sets and their published checksums (default: :data:`CATALOG`).
        progress: show a progress bar per file on stderr.
        log: receives one line per step (default: print to stdout).

    Returns:
        The folder holding the data set's files.

    Raises:
        ValueError: unknown data set or mirror, checksum mismatch, archive refused.
        OSError naming the URL or path: network failure or HTTP error on every mirror,
            unwritable folder, disk full.
    """
    source = find_source(name, catalog)
    bases = mirror_bases(source, mirror)
    root = data_root(data_dir)
    _make_folder(root)
    presence = inspect(source, root)
    if presence.state == "complete":
        log(f"{presence.folder}: {source.title} already present ({presence.detail})")
        return presence.folder
    if source.archive:
        return _fetch_archive(source, root, bases, progress, log)
    folder = location(source, root)
    _make_folder(folder)
    for remote in source.files:
        target = folder / remote.name
        if target.is_file() and mismatch(target, remote) is None:
            log(f"{target}: present, sha256 verified")
            continue
        _download(remote, bases, target, progress, log)
    return folder


def list_data(
    data_dir: str | os.PathLike | None = None,
    *,
    catalog: Mapping[str, DataSource] | None = None,
) -> tuple[Path, list[Presence]]:
    """(the data folder, what it holds of every data set in ``catalog``)."""
    root = data_root(data_dir)
    sources = (CATALOG if catalog is None else catalog).values()
    return root, [inspect(source, root) for source in sources]
