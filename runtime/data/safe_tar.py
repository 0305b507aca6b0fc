"""Unpacking a tar archive without trusting it: regular files only, inside one folder."""

from __future__ import annotations

import shutil
import tarfile
from collections.abc import Callable
from pathlib import Path, PurePosixPath

__all__ = ["unpack_tar"]


def _relative_parts(name: str) -> tuple[str, ...] | None:
    """The path components of a member name, or None if it could point outside the folder."""
    path = PurePosixPath(name)
    parts = tuple(p for p in path.parts if p != ".")
    if path.is_absolute() or not parts or any(p == ".." or "\\" in p or ":" in p for p in parts):
        return None
    return parts


def unpack_tar(
    archive: Path,
    dest: Path,
    top: str,
    *,
    finish: Callable[[Path, dict[str, int]], None] | None = None,
) -> dict[str, int]:
    """Unpack the regular files of ``archive`` (any tar compression) into ``dest/top``.

    All or nothing: the files are written to a staging folder ``dest/.top.unpacking`` and moved
    into place at the end (an existing ``dest/top`` is replaced); on any error the staging
    folder is removed and ``dest/top`` is left as it was.

    Args:
        archive: the tar file.
        dest: the folder that receives ``top``.
        top: the one top-level folder every member must lie in.
        finish: called with the staged ``top`` folder and the sizes before it is moved into
            place (e.g. to write a manifest into it).

    Returns:
        {path relative to ``top`` (with '/'): size in bytes} of every file unpacked.

    Raises:
        ValueError naming the archive and the member: an absolute name, '..', a member outside
            ``top/``, or anything but a regular file or folder (links, devices, FIFOs).
        OSError naming the path: unreadable archive, unwritable folder, disk full.
    """
    staging = dest / f".{top}.unpacking"
    shutil.rmtree(staging, ignore_errors=True)  # left by an interrupted unpack
    sizes: dict[str, int] = {}
    try:
        staging.mkdir(parents=True)
        with tarfile.open(archive, "r:*") as tar:
            for member in tar:
                parts = _relative_parts(member.name)
                if parts is None or parts[0] != top:
                    raise ValueError(
                        f"{archive}: refused member {member.name[:200]!r}: every member must lie "
                        f"inside {top}/ (no absolute paths, no '..')"
                    )
                if member.isdir():
                    continue
                if not member.isfile():
                    raise ValueError(
                        f"{archive}: refused member {member.name[:200]!r}: only regular files "
                        "are unpacked (links, devices and FIFOs are not)"
                    )
                target = staging.joinpath(*parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out, 1 << 20)
                sizes["/".join(parts[1:])] = member.size
        folder = staging / top
        folder.mkdir(exist_ok=True)
        if finish is not None:
            finish(folder, sizes)
        _replace(folder, dest / top, staging / f"{top}.previous")
    except (tarfile.TarError, EOFError) as err:
        raise ValueError(f"{archive}: not a readable tar archive ({err})") from None
    except OSError as err:
        raise OSError(f"{dest / top}: cannot unpack {archive.name} ({err})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return sizes


def _replace(new: Path, final: Path, previous: Path) -> None:
    """Move folder ``new`` to ``final``; an existing ``final`` is moved to ``previous`` first and
    restored if the move fails."""
    if final.exists():
        final.rename(previous)
    try:
        new.rename(final)
    except OSError:
        if previous.exists():
            previous.rename(final)
        raise
