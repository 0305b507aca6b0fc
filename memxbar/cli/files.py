"""``memxbar files scan``: the metadata of a directory tree, for the file classifier."""

from __future__ import annotations

import sys


def _files_scan(args) -> int:
    from pathlib import Path

    from ..runtime.data.file_scan import scan_tree, write_scan_csv

    # Refused before the walk, which can take minutes on a large tree.
    folder = Path(args.output).parent
    if not folder.is_dir():
        raise ValueError(f"{args.output}: the folder {folder} does not exist")
    result = scan_tree(args.dir, progress=not args.quiet and sys.stderr.isatty())
    write_scan_csv(args.output, result)
    skipped = ""
    if result.unreadable or result.special:
        skipped = f" (skipped: {result.unreadable} unreadable, {result.special} special files)"
    print(f"{args.output}: {len(result.rows)} entries of {args.dir}{skipped}")
    return 0


def add_files_commands(commands) -> None:
    files = commands.add_parser(
        "files",
        help="scan a directory tree into a file-metadata CSV (the file classifier's data)",
    )
    files_cmds = files.add_subparsers(dest="files_command", required=True)
    scan = files_cmds.add_parser(
        "scan",
        help="write the metadata of every file under DIR to a CSV",
        description="Walk DIR (symlinks are recorded, never followed) and write one row per "
        "entry: path (relative), size_bytes, mode_octal, uid, gid, nlink, mtime_s and "
        "content_type, read from the file's first bytes (elf, gzip, zip, png, gif, jpeg, "
        "gettext_mo, svg, script, text, binary_other, empty, symlink). Unreadable entries "
        "and special files (FIFOs, sockets, devices) are skipped and counted.",
    )
    scan.add_argument("dir", help="the folder to scan")
    scan.add_argument("-o", "--output", required=True, help="the CSV to write")
    scan.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    scan.set_defaults(func=_files_scan)
