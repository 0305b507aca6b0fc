"""What a data folder holds: each data set complete, incomplete, unverified or corrupt.

A downloaded file is checked against its published SHA-256 (:func:`mismatch`). An archive is
checked when it is downloaded and then unpacked and deleted; the unpacked folder keeps a
manifest (``.memxbar-fetch.json``: the archive's checksum and the size of every file) that marks
it as verified. A folder without one was put there by hand: present, checksum not verified.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import zlib
from pathlib import Path

from .catalog import DataSource, RemoteFile

__all__ = [
    "MANIFEST",
    "Presence",
    "file_sha256",
    "mismatch",
    "location",
    "inspect",
    "write_manifest",
]

#: The file in an unpacked archive's folder that records what was unpacked from what.
MANIFEST = ".memxbar-fetch.json"
_CHUNK = 1 << 20


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _gunzipped_sha256(path: Path, limit: int | None) -> str | None:
    """SHA-256 of the uncompressed bytes; None if not gzip or larger than ``limit`` bytes."""
    digest, total = hashlib.sha256(), 0
    try:
        with gzip.open(path, "rb") as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if limit is not None and total > limit:
                    return None  # never inflate a gzip bomb past the published size
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def mismatch(path: Path, remote: RemoteFile, sha256: str | None = None) -> str | None:
    """None when ``path`` holds ``remote``'s published data, else what differs (both hashes).

    ``sha256`` is the file's digest when the caller already has it.
    """
    got = sha256 or file_sha256(path)
    if got == remote.sha256:
        return None
    problem = f"sha256 {got}, expected {remote.sha256}"
    if remote.content_sha256 is None:
        return problem
    content = _gunzipped_sha256(path, remote.content_size)
    if content == remote.content_sha256:
        return None  # recompressed by a mirror, same data
    shown = content or "none (not gzip, or larger than published)"
    return f"{problem}; uncompressed sha256 {shown}, expected {remote.content_sha256}"


def location(source: DataSource, root: Path) -> Path:
    """Where ``source``'s files are in data folder ``root``: its subfolder, or ``root`` itself
    when that holds them directly (a folder laid out by hand) and has no subfolder."""
    sub = root / source.folder
    if sub.is_dir() or not any((root / name).is_file() for name in source.needed):
        return sub
    return root


@dataclasses.dataclass(frozen=True)
class Presence:
    """What the data folder holds of one data set.

    ``state`` is "complete" (verified), "absent", "incomplete" (files missing), "unverified"
    (all files there, not fetched by memxbar) or "corrupt" (a checksum or size differs).
    """

    source: DataSource
    folder: Path
    state: str
    detail: str


def _names(names) -> str:
    names = list(names)
    return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


def _inspect_files(source: DataSource, folder: Path) -> Presence:
    present = [f for f in source.files if (folder / f.name).is_file()]
    missing = [f.name for f in source.files if f not in present]
    if not present:
        return Presence(source, folder, "absent", "no files")
    bad = [f.name for f in present if mismatch(folder / f.name, f) is not None]
    if bad:
        return Presence(source, folder, "corrupt", f"checksum mismatch: {_names(bad)}")
    if missing:
        return Presence(source, folder, "incomplete", f"missing {_names(missing)}")
    return Presence(source, folder, "complete", f"{len(present)} files, sha256 verified")


def _read_manifest(folder: Path) -> dict | None:
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(manifest, dict) and isinstance(manifest.get("files"), dict)
    return manifest if ok else None


def _inspect_archive(source: DataSource, folder: Path) -> Presence:
    if not folder.is_dir():
        return Presence(source, folder, "absent", "no files")
    missing = [n for n in source.needed if not (folder / n).is_file()]
    manifest = _read_manifest(folder)
    if manifest is None or manifest.get("sha256") != source.files[0].sha256:
        if len(missing) == len(source.needed):
            return Presence(source, folder, "absent", "no files")
        if missing:
            return Presence(source, folder, "incomplete", f"missing {_names(missing)}")
        detail = "files present, not fetched by memxbar: checksum not verified"
        return Presence(source, folder, "unverified", detail)
    files = manifest["files"]
    gone = [n for n in files if not (folder / n).is_file()]
    if gone or missing:
        return Presence(source, folder, "incomplete", f"missing {_names(gone or missing)}")
    changed = [n for n, size in files.items() if (folder / n).stat().st_size != size]
    if changed:
        return Presence(source, folder, "corrupt", f"changed since fetched: {_names(changed)}")
    archive = manifest.get("archive", "the archive")
    return Presence(
        source, folder, "complete", f"{len(files)} files from {archive}, sha256 verified"
    )


def inspect(source: DataSource, root: Path) -> Presence:
    """What data folder ``root`` holds of ``source`` (MNIST files are hashed: ~11 MB)."""
    if source.archive:
        return _inspect_archive(source, root / source.folder)
    return _inspect_files(source, location(source, root))


def write_manifest(folder: Path, remote: RemoteFile, sizes: dict[str, int]) -> None:
    """Record in ``folder`` that its files were unpacked from the verified ``remote``."""
    manifest = {"archive": remote.name, "sha256": remote.sha256, "files": sizes}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
