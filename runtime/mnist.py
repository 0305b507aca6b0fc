"""MNIST from a data folder: the standard IDX files (gzipped or not) or the CSV subset.

Nothing is downloaded here (``memxbar data fetch mnist`` does that). The folder comes from the
job (``data.data_dir``), the ``--data-dir`` option, the ``MEMXBAR_DATA`` environment variable
or else the per-user data folder (see :mod:`memxbar.runtime.data_home`); the files are in it or
in its ``mnist/`` subfolder, where ``memxbar data fetch mnist`` puts them. Training data:
``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` when present, else ``mnist_5k.csv``
(784 pixel values 0–255 then the label per row); test data: the official
``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from .data_home import fetch_hint, find_data_folder

__all__ = ["read_idx", "read_csv_images", "mnist_folder", "load_mnist_arrays"]

_IDX_TYPES = {0x08: np.uint8}


def _open(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
        return gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (OSError, EOFError, gzip.BadGzipFile) as err:
        raise ValueError(f"{path}: cannot be read ({err})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """An IDX array (images (n, rows, cols) or labels (n,)); errors name the file."""
    path = Path(path)
    data = _open(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise ValueError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape))
    if len(data) - header != size:
        raise ValueError(
            f"{path}: IDX header announces {size} bytes of data for shape {shape}, "
            f"found {len(data) - header} (truncated or corrupt)"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_csv_images(path: str | Path, n_pixels: int = 784) -> tuple[np.ndarray, np.ndarray]:
    """(images (n, n_pixels) uint8, labels (n,)) from rows of pixels followed by the label."""
    path = Path(path)
    text = _open(path).decode("ascii", errors="replace")
    rows = [line for line in text.splitlines() if line.strip()]
    try:
        table = np.array([[int(v) for v in line.split(",")] for line in rows], np.int64)
    except ValueError as err:
        raise ValueError(f"{path}: not a CSV of integers ({err})") from None
    if table.ndim != 2 or table.shape[1] != n_pixels + 1:
        raise ValueError(f"{path}: expected {n_pixels + 1} values per row (pixels, then label)")
    if table.min() < 0 or table[:, :-1].max() > 255 or table[:, -1].max() > 9:
        raise ValueError(f"{path}: pixel values must be 0–255 and labels 0–9")
    return table[:, :-1].astype(np.uint8), table[:, -1].astype(np.int32)


#: The subfolder of a data folder that ``memxbar data fetch mnist`` fills.
MNIST_SUBFOLDER = "mnist"
_LAYOUT = "the MNIST IDX files (or mnist_5k.csv), directly or in mnist/"


def mnist_folder(data_dir: str | None) -> Path:
    """The folder holding the MNIST files: the data folder (``data_dir`` if given, else
    $MEMXBAR_DATA, else the per-user default) or its ``mnist/`` subfolder when it has one.
    """
    root = find_data_folder(data_dir, "MNIST", "mnist", _LAYOUT)
    sub = root / MNIST_SUBFOLDER
    return sub if sub.is_dir() else root


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _hint(folder: Path) -> str:
    root = folder.parent if folder.name == MNIST_SUBFOLDER else folder
    return fetch_hint("mnist", root)


def load_mnist_arrays(data_dir: str | None):
    """(x_train, y_train, x_test, y_test): images flattened to 784 floats in [0, 1]."""
    folder = mnist_folder(data_dir)
    train_images = _find(folder, "train-images-idx3-ubyte")
    train_labels = _find(folder, "train-labels-idx1-ubyte")
    if train_images and train_labels:
        x_train, y_train = read_idx(train_images), read_idx(train_labels)
    else:
        csv = _find(folder, "mnist_5k.csv")
        if csv is None:
            raise ValueError(
                f"{folder}: no MNIST training data (train-images-idx3-ubyte[.gz] with "
                f"train-labels-idx1-ubyte[.gz], or mnist_5k.csv[.gz]; {_hint(folder)})"
            )
        x_train, y_train = read_csv_images(csv)
    test_images = _find(folder, "t10k-images-idx3-ubyte")
    test_labels = _find(folder, "t10k-labels-idx1-ubyte")
    if not (test_images and test_labels):
        raise ValueError(
            f"{folder}: no MNIST test data (t10k-images/labels-idx?-ubyte[.gz]; {_hint(folder)})"
        )
    x_test, y_test = read_idx(test_images), read_idx(test_labels)
    for name, x, y in (("training", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise ValueError(f"{folder}: {name} images ({len(x)}) and labels ({len(y)}) differ")

    def flat(x):
        return (x.reshape(len(x), -1) / 255.0).astype(np.float32)

    return flat(x_train), y_train.astype(np.int32), flat(x_test), y_test.astype(np.int32)
