"""From a file-metadata scan (:mod:`.file_scan`) to the key–values the classifier sees.

Each row of a scan becomes a record (key → value) of

- nominal keys: ``uid``, ``gid``, ``mode`` (file type and permission bits), ``nlink`` (as a
  name: 1, 2, ... up to "many"), ``dir1`` … ``dir<max_depth>`` (the names of the directory
  levels, "" below the file's depth) and, optionally, ``ext`` (the file name's extension,
  lower case, "" for none);
- ordinal keys: ``log_size`` (log10 of 1 + bytes), ``log_age`` (log10 of 1 + days before
  the newest file of the scan) and ``depth`` (directory levels above the file).

The label is ``content_type`` by default (read from the file's bytes by the scan, never a
feature); another scan column can be the label (``uid``, ``gid``, ``mode_octal``, ``nlink``),
and then the feature read from it is dropped. The
same records feed the spike code (:class:`.file_code.CorrelativeTimeCode`) and the baselines'
one-hot features (:func:`one_hot`), so both see the same information.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .file_code import OrdinalKey

__all__ = ["FEATURE_KEYS", "LABEL_COLUMNS", "FileRecords", "file_records", "one_hot", "split"]

#: Every key a record can have (``ext`` only with the extension).
FEATURE_KEYS = ("ext", "uid", "gid", "mode", "nlink", "log_size", "log_age", "depth", "dirs")
#: Scan columns that can be the label → the feature key they would leak (dropped).
LABEL_COLUMNS = {
    "content_type": None,
    "uid": "uid",
    "gid": "gid",
    "mode_octal": "mode",
    "nlink": "nlink",
}

_DAY_S = 86400.0


class FileRecords:
    """Records, labels and the keys of a scan (see :func:`file_records`).

    Attributes:
        records: one dict per file.
        labels: (n,) int class index of each file.
        classes: the class names (content types), index order.
        nominal: nominal key names; ordinal: the ordinal keys with their ranges.
    """

    def __init__(self, records, labels, classes, nominal, ordinal):
        self.records = records
        self.labels = labels
        self.classes = classes
        self.nominal = nominal
        self.ordinal = ordinal

    def __len__(self) -> int:
        return len(self.records)


def _extension(name: str) -> str:
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem else ""


def file_records(
    rows: Sequence[dict],
    *,
    with_extension: bool,
    max_depth: int = 4,
    label: str = "content_type",
    exclude: Sequence[str] = (),
    source: str = "scan",
) -> FileRecords:
    """The records of scan rows (dicts of strings, as :func:`.file_scan.read_scan_csv` gives).

    Args:
        label: the scan column that is the class (:data:`LABEL_COLUMNS`); a column a feature
            is read from (e.g. ``uid``) drops that feature.
        exclude: feature keys left out (:data:`FEATURE_KEYS`; ``dirs``: every directory level).

    Raises:
        ValueError: naming ``source`` and the row, for a value that is not a number where one is
            expected, or an empty scan; naming the argument for an unknown label or key.
    """
    if not rows:
        raise ValueError(f"{source}: no files")
    if max_depth < 1:
        raise ValueError(f"max_depth must be ≥ 1, got {max_depth}")
    if label not in LABEL_COLUMNS:
        raise ValueError(f"label must be one of {', '.join(LABEL_COLUMNS)}, got {label!r}")
    unknown = sorted(set(exclude) - set(FEATURE_KEYS))
    if unknown:
        raise ValueError(f"exclude: unknown keys {unknown} (known: {', '.join(FEATURE_KEYS)})")
    dropped = {*exclude, LABEL_COLUMNS[label]} - {None}
    try:
        mtimes = [float(r["mtime_s"]) for r in rows]
    except (KeyError, ValueError) as err:
        raise ValueError(f"{source}: mtime_s must be a number in every row ({err})") from None
    newest = max(mtimes)
    classes = sorted({r[label] for r in rows})
    index = {c: i for i, c in enumerate(classes)}
    records = []
    for line, (row, mtime) in enumerate(zip(rows, mtimes, strict=True), start=2):
        try:
            size = int(row["size_bytes"])
            nlink = int(row["nlink"])
        except ValueError as err:
            raise ValueError(f"{source}, line {line}: {err}") from None
        parts = row["path"].split("/")
        folders, name = parts[:-1], parts[-1]
        record = {
            "uid": row["uid"],
            "gid": row["gid"],
            "mode": row["mode_octal"],
            "nlink": str(nlink) if nlink < 4 else "many",
            **{f"dir{d + 1}": folders[d] if d < len(folders) else "" for d in range(max_depth)},
            "log_size": math.log10(1 + max(size, 0)),
            "log_age": math.log10(1 + max(newest - mtime, 0.0) / _DAY_S),
            "depth": float(len(folders)),
        }
        if with_extension:
            record["ext"] = _extension(name)
        records.append(record)
    dirs = () if "dirs" in dropped else tuple(f"dir{d + 1}" for d in range(max_depth))
    nominal = ("ext",) if with_extension and "ext" not in dropped else ()
    nominal += tuple(k for k in ("uid", "gid", "mode", "nlink") if k not in dropped) + dirs
    ordinal = tuple(
        OrdinalKey(key, 0.0, max(max(r[key] for r in records), 1.0))
        for key in ("log_size", "log_age", "depth")
        if key not in dropped
    )
    if not nominal and not ordinal:
        raise ValueError("no feature keys are left (every key is excluded or the label)")
    labels = np.array([index[r[label]] for r in rows], np.int32)
    return FileRecords(records, labels, classes, nominal, ordinal)


def split(labels: np.ndarray, test_fraction: float, *, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train, test) indices: per class, a seeded shuffle and the first
    round(test_fraction · n_class) files to the test set (stratified; a class of one file
    stays in training). Both sorted."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_test = min(int(round(test_fraction * len(members))), len(members) - 1)
        test.append(members[:n_test])
    test = np.sort(np.concatenate(test)) if test else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test


def one_hot(files: FileRecords):
    """The baselines' features: one column per nominal key=value seen, plus the ordinal
    values scaled to [0, 1] by their ranges; a scipy sparse matrix (n_files, n_features)."""
    from sklearn.feature_extraction import DictVectorizer

    rows = []
    for record in files.records:
        row = {f"{k}={record[k]}": 1.0 for k in files.nominal}
        for key in files.ordinal:
            row[key.name] = (record[key.name] - key.low) / (key.high - key.low)
        rows.append(row)
    return DictVectorizer(sparse=True).fit_transform(rows)
