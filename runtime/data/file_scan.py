"""File metadata of a real directory tree, for the spiking file classifier (issue 15).

:func:`scan_tree` walks a tree and records, per entry, what ``lstat`` says and what the first
bytes hold — the columns of the Debian snapshot the classifier is tested on:

    path, size_bytes, mode_octal, uid, gid, nlink, mtime_s, content_type

``path`` is relative to the scanned folder, with ``/`` separators; ``mode_octal`` is
``st_mode`` in octal (file type and permission bits, ``100755`` for an executable file,
``120777`` for a symlink); ``content_type`` is read from the file's first bytes, never from
its name (:func:`content_type`): the label a classifier predicts from the other columns.

Symlinks are recorded as entries of their own (``symlink``, their size the length of the
target) and never followed, so a scan never leaves the tree and never loops. Entries that
cannot be read (permissions, a file removed during the scan) and special files (FIFOs,
sockets, devices: opening one could block) are skipped and counted. Names that are not
valid UTF-8 are kept byte for byte: the CSV is written and read with ``surrogateescape``.
"""

from __future__ import annotations

import csv
import dataclasses
import gzip
import io
import os
import stat
import sys
from pathlib import Path

from ...hw_configs.files import atomic_write_bytes

__all__ = [
    "COLUMNS",
    "CONTENT_TYPES",
    "ScanResult",
    "content_type",
    "scan_tree",
    "write_scan_csv",
    "read_scan_csv",
]

COLUMNS = ("path", "size_bytes", "mode_octal", "uid", "gid", "nlink", "mtime_s", "content_type")
#: Every content type :func:`content_type` returns, and ``symlink`` for links.
CONTENT_TYPES = (
    "elf",
    "gzip",
    "zip",
    "png",
    "gif",
    "jpeg",
    "gettext_mo",
    "svg",
    "script",
    "text",
    "binary_other",
    "empty",
    "symlink",
)
#: Bytes read from the start of each file.
HEAD_BYTES = 512

_MAGIC = (
    (b"\x7fELF", "elf"),
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
    (b"\xff\xd8\xff", "jpeg"),
    (b"\xde\x12\x04\x95", "gettext_mo"),  # GNU gettext, little-endian
    (b"\x95\x04\x12\xde", "gettext_mo"),  # big-endian
    (b"#!", "script"),
)


def content_type(head: bytes) -> str:
    """What a file holds, from its first bytes: a magic number, else SVG, text or other.

    Text: no NUL byte and valid UTF-8 (a character cut at the end of ``head`` allowed). SVG:
    text whose first 512 bytes contain ``<svg``.
    """
    if not head:
        return "empty"
    for magic, name in _MAGIC:
        if head.startswith(magic):
            return name
    if b"\x00" in head:
        return "binary_other"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        # A multi-byte character cut by the head's end is still text.
        if err.start < len(head) - 3:
            return "binary_other"
        text = head[: err.start].decode("utf-8")
    return "svg" if "<svg" in text else "text"


@dataclasses.dataclass
class ScanResult:
    """Rows (one tuple of :data:`COLUMNS` values per entry, sorted by path) and what was left
    out: ``unreadable`` (errors) and ``special`` (FIFOs, sockets, devices) entries."""

    rows: list[tuple]
    unreadable: int = 0
    special: int = 0


def _row(relative: str, st: os.stat_result, kind: str) -> tuple:
    return (
        relative,
        st.st_size,
        format(st.st_mode, "o"),
        st.st_uid,
        st.st_gid,
        st.st_nlink,
        int(st.st_mtime),
        kind,
    )


def scan_tree(root: str | Path, *, progress: bool = False) -> ScanResult:
    """The metadata of every entry under ``root`` (see the module docstring).

    Raises:
        ValueError: ``root`` is not a folder.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"{root}: not a folder (memxbar files scan needs a directory)")
    result = ScanResult(rows=[])
    bar = _bar(progress)

    def failed(_err):
        result.unreadable += 1

    for folder, dirs, files in os.walk(root, onerror=failed, followlinks=False):
        dirs.sort()
        # A symlink to a folder is listed among the folders but not entered: record it.
        names = sorted(files) + [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        for name in names:
            full = os.path.join(folder, name)
            relative = os.path.relpath(full, root).replace(os.sep, "/")
            try:
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    kind = "symlink"
                elif stat.S_ISREG(st.st_mode):
                    with open(full, "rb") as f:
                        kind = content_type(f.read(HEAD_BYTES))
                else:
                    result.special += 1
                    continue
            except OSError:
                result.unreadable += 1
                continue
            result.rows.append(_row(relative, st, kind))
            if bar is not None:
                bar.update(1)
    if bar is not None:
        bar.close()
    result.rows.sort(key=lambda row: row[0])
    return result


def _bar(enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="scanning", unit=" files", file=sys.stderr, leave=False)


def write_scan_csv(path: str | Path, result: ScanResult) -> None:
    """Write the rows as CSV with a header (atomically; non-UTF-8 names kept byte for byte)."""
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(result.rows)
    atomic_write_bytes(path, text.getvalue().encode("utf-8", "surrogateescape"))


def read_scan_csv(path: str | Path) -> list[dict]:
    """The rows of a scan CSV (``.csv``, or gzip-compressed ``.csv.gz``) as dicts of strings
    (the inverse of :func:`write_scan_csv`).

    Raises:
        ValueError: naming the file, when its header is not :data:`COLUMNS`.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8", errors="surrogateescape") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(
                f"{path}: expected the columns {', '.join(COLUMNS)}, got "
                f"{', '.join(reader.fieldnames or ()) or 'none'}"
            )
        return list(reader)
