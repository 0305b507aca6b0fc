"""Writing files so that a reader sees the old file or the complete new one, never a part."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write_bytes", "check_output_file", "temporary_siblings"]


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return  # not possible on every platform; the rename itself is atomic
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically: temporary file in the same folder, fsync, rename.

    On any failure (including an interrupt) the temporary file is removed and an existing
    ``path`` is left as it was.
    """
    path = Path(path)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise OSError(err.errno, f"cannot write there ({err.strerror})", str(path)) from None
    tmp = Path(name)
    try:
        # mkstemp creates the file private (0600); give it the mode a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        # ENOSPC, EDQUOT, EIO, EISDIR...: the message names the file the user asked for.
        raise OSError(err.errno, f"cannot write ({err.strerror or err})", str(path)) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def temporary_siblings(path: str | Path) -> list[Path]:
    """Temporary files :func:`atomic_write_bytes` left for ``path`` when a process was killed."""
    path = Path(path)
    return sorted(path.parent.glob(f".{path.name}.*.tmp"))


def check_output_file(path: str | Path, option: str = "-o") -> Path:
    """Check, before any work, that a file can be written at ``path``; return it as a Path.

    The folder must exist and be writable and ``path`` must not be a folder. Errors name
    ``option`` (the command-line option or argument that gave the path) and the path.

    Raises:
        OSError: with a one-line message.
    """
    path = Path(path)
    folder = path.parent
    if path.is_dir():
        raise OSError(f"{option} {path}: is a folder; give a file name")
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        raise OSError(f"{option} {path}: output folder '{folder}' {what}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OSError(f"{option} {path}: output folder '{folder}' is not writable")
    if path.exists() and not path.is_file():
        raise OSError(f"{option} {path}: exists and is not a regular file")
    if path.exists() and not os.access(path, os.W_OK):
        raise OSError(f"{option} {path}: exists and is not writable")
    return path
