"""memxbar files scan (issue 15): content types from the first bytes, symlink loops, unreadable
files, unicode and undecodable names, an empty tree, the CSV round trip and the CLI."""

from __future__ import annotations

import gzip
import os

import pytest
from support import assert_one_line_error, run_cli

from memxbar.runtime.data.file_scan import (
    COLUMNS,
    content_type,
    read_scan_csv,
    scan_tree,
    write_scan_csv,
)


@pytest.mark.parametrize(
    "head, kind",
    [
        (b"", "empty"),
        (b"\x7fELF\x02\x01\x01" + b"\x00" * 20, "elf"),
        (gzip.compress(b"hello", mtime=0), "gzip"),  # mtime 0: the same id on every xdist worker
        (b"PK\x03\x04rest", "zip"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "png"),
        (b"GIF89a\x01\x00", "gif"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
        (b"\xde\x12\x04\x95\x00\x00\x00\x00", "gettext_mo"),
        (b"#!/bin/sh\necho hi\n", "script"),
        (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg"/>', "svg"),
        ("plain text, ünïcode\n".encode(), "text"),
        ("cut at the end: é".encode()[:-1], "text"),  # a character cut by the head's end
        (b"\x00\x01\x02binary", "binary_other"),
        (b"\xff\xfe not utf-8 \x80\x80 in the middle of it all", "binary_other"),
    ],
)
def test_content_type_from_the_first_bytes(head, kind):
    assert content_type(head) == kind


def make_tree(root):
    root.mkdir()
    (root / "bin").mkdir()
    (root / "bin" / "tool").write_bytes(b"\x7fELF" + b"\x00" * 60)
    (root / "bin" / "tool").chmod(0o755)
    (root / "doc").mkdir()
    (root / "doc" / "readme.txt").write_text("hello\n")
    (root / "doc" / "changelog.gz").write_bytes(gzip.compress(b"log"))
    (root / "doc" / "empty").write_bytes(b"")
    (root / "doc" / "ünïcødé.txt").write_text("unicode name\n")
    (root / "bin" / "link").symlink_to("tool")
    (root / "loop").symlink_to(".")  # a symlink loop: recorded, never entered
    (root / "outside").symlink_to("/")  # a way out of the tree: recorded, never followed
    return root


def test_scan_records_every_entry_and_follows_no_symlink(tmp_path):
    root = make_tree(tmp_path / "tree")
    result = scan_tree(root)
    rows = {row[0]: row for row in result.rows}
    assert set(rows) == {
        "bin/link",
        "bin/tool",
        "doc/changelog.gz",
        "doc/empty",
        "doc/readme.txt",
        "doc/ünïcødé.txt",
        "loop",
        "outside",
    }
    assert [r[0] for r in result.rows] == sorted(rows)
    kinds = {path: row[7] for path, row in rows.items()}
    assert kinds == {
        "bin/link": "symlink",
        "bin/tool": "elf",
        "doc/changelog.gz": "gzip",
        "doc/empty": "empty",
        "doc/readme.txt": "text",
        "doc/ünïcødé.txt": "text",
        "loop": "symlink",
        "outside": "symlink",
    }
    tool = rows["bin/tool"]
    st = os.lstat(root / "bin" / "tool")
    assert tool[1:7] == (64, format(st.st_mode, "o"), st.st_uid, st.st_gid, 1, int(st.st_mtime))
    assert tool[2] == "100755"
    assert rows["bin/link"][1] == len("tool") and rows["bin/link"][2].startswith("120")
    assert result.unreadable == 0 and result.special == 0


def test_unreadable_files_and_folders_are_skipped_and_counted(tmp_path, monkeypatch):
    # Simulated (root, as on some CI machines, reads everything): opening one file and
    # listing one folder fail with EACCES.
    root = make_tree(tmp_path / "tree")
    (root / "closed").mkdir()
    (root / "closed" / "inside").write_text("y")
    real_open, real_scandir = open, os.scandir

    def failing_open(path, *args, **kwargs):
        if str(path).endswith("readme.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *args, **kwargs)

    def failing_scandir(path):
        if str(path).endswith("closed"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr("builtins.open", failing_open)
    monkeypatch.setattr(os, "scandir", failing_scandir)
    result = scan_tree(root)
    paths = {row[0] for row in result.rows}
    assert "doc/readme.txt" not in paths and "closed/inside" not in paths
    assert result.unreadable == 2 and len(result.rows) == 7


def test_special_files_are_skipped_not_opened(tmp_path):
    root = make_tree(tmp_path / "tree")
    os.mkfifo(root / "pipe")  # opening it for reading would block
    result = scan_tree(root)
    assert result.special == 1 and "pipe" not in {row[0] for row in result.rows}


def test_empty_tree_and_not_a_folder(tmp_path):
    assert scan_tree(tmp_path).rows == []
    with pytest.raises(ValueError, match="not a folder"):
        scan_tree(tmp_path / "missing")


def test_csv_round_trip_keeps_undecodable_names(tmp_path):
    root = make_tree(tmp_path / "tree")
    # A name that is not valid UTF-8 (Linux allows any bytes but / and NUL).
    os.close(os.open(os.path.join(os.fsencode(root), b"latin-\xe9.txt"), os.O_CREAT | os.O_WRONLY))
    result = scan_tree(root)
    path = tmp_path / "files.csv"
    write_scan_csv(path, result)
    rows = read_scan_csv(path)
    assert [tuple(r[c] for c in COLUMNS) for r in rows] == [
        tuple(str(v) for v in row) for row in result.rows
    ]
    assert any(os.fsencode(r["path"]) == b"latin-\xe9.txt" for r in rows)


def test_reading_a_csv_with_other_columns_names_the_file(tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="other.csv: expected the columns path"):
        read_scan_csv(path)


def test_cli_scans_a_tree_it_has_never_seen(tmp_path):
    root = make_tree(tmp_path / "tree")
    out = tmp_path / "files.csv"
    done = run_cli("files", "scan", str(root), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert f"{out}: 8 entries of {root}" in done.stdout
    assert len(read_scan_csv(out)) == 8
    missing = tmp_path / "nowhere"
    done = run_cli("files", "scan", str(missing), "-o", str(tmp_path / "x.csv"))
    assert_one_line_error(done.returncode, done.stderr, str(missing), "not a folder")
    assert not (tmp_path / "x.csv").exists()
    no_folder = tmp_path / "none" / "files.csv"
    done = run_cli("files", "scan", str(root), "-o", str(no_folder))
    assert_one_line_error(done.returncode, done.stderr, str(no_folder), "does not exist")
