"""MNIST from a data folder: the standard IDX files (gzipped or not) or the CSV subset.

Nothing is downloaded here (``memxbar data fetch mnist`` does that). The folder comes from the
job (``data.data_dir``), the ``--data-dir`` option, the ``MEMXBAR_DATA`` environment variable
or else the per-user data folder (see :mod:`memxbar.runtime.data.home`); the files are in it or
in its ``mnist/`` subfolder, where ``memxbar data fetch mnist`` puts them. Training data:
``train-images-idx3-ubyte`` / ``train-labels-idx1-ubyte`` when present, else ``mnist_5k.csv``
(784 pixel values 0–255 then the label per row); test data: the official
``t10k-images-idx3-ubyte`` / ``t10k-labels-idx1-ubyte``.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from ...hw_configs import brief
from .home import fetch_hint, find_data_folder
from .labels import check_labels

__all__ = [
    "IMAGE_SIZE",
    "read_idx",
    "read_images",
    "read_labels",
    "read_csv_images",
    "mnist_folder",
    "load_mnist_arrays",
]

#: (rows, columns) of an MNIST image.
IMAGE_SIZE = (28, 28)
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
    """(images (n, n_pixels) uint8, labels (n,)) from rows of pixels followed by the label.

    Raises:
        ValueError naming the file and the (1-based) line of the first bad row: a value that
            is not an integer, a row of the wrong length, a pixel outside 0–255 or a label
            outside 0–9.
    """
    path = Path(path)
    text = _open(path).decode("ascii", errors="replace")
    rows, numbers = [], []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        values = line.split(",")
        if len(values) != n_pixels + 1:
            raise ValueError(
                f"{path}: line {line_number} has {len(values)} values, expected {n_pixels + 1} "
                f"({n_pixels} pixels, then the label)"
            )
        try:
            row = [int(v) for v in values]
        except ValueError:
            bad = next(v for v in values if not _is_int(v))
            raise ValueError(
                f"{path}: line {line_number}: expected integers, found {brief(bad.strip())}"
            ) from None
        rows.append(row)
        numbers.append(line_number)
    if not rows:
        raise ValueError(f"{path}: no rows (expected {n_pixels} pixels, then the label, per row)")
    table = np.array(rows, np.int64)
    pixels, labels = table[:, :-1], table[:, -1]
    bad_pixel = np.flatnonzero(((pixels < 0) | (pixels > 255)).any(axis=1))
    if bad_pixel.size:
        row = int(bad_pixel[0])
        value = pixels[row][(pixels[row] < 0) | (pixels[row] > 255)][0]
        raise ValueError(f"{path}: line {numbers[row]}: pixel value {value} is outside 0–255")
    bad_label = np.flatnonzero((labels < 0) | (labels > 9))
    if bad_label.size:
        row = int(bad_label[0])
        raise ValueError(
            f"{path}: line {numbers[row]}: label {labels[row]} is outside 0–9 "
            "(the last value of a row is the label)"
        )
    return pixels.astype(np.uint8), labels.astype(np.int32)


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def read_images(path: str | Path, size: tuple[int, int] = IMAGE_SIZE) -> np.ndarray:
    """An IDX file of images (n, rows, cols) of ``size``; errors name the file."""
    images = read_idx(path)
    if images.ndim != 3:
        hint = " (a labels file?)" if images.ndim == 1 else ""
        raise ValueError(
            f"{path}: expected images, an IDX array of 3 dimensions (count, rows, columns), "
            f"found {images.ndim} of shape {images.shape}{hint}"
        )
    if images.shape[1:] != size:
        raise ValueError(
            f"{path}: expected {size[0]}×{size[1]} images, found "
            f"{images.shape[1]}×{images.shape[2]}"
        )
    return images


def read_labels(path: str | Path) -> np.ndarray:
    """An IDX file of labels (n,) 0–9; errors name the file (and a bad label's index)."""
    labels = read_idx(path)
    if labels.ndim != 1:
        hint = " (an images file?)" if labels.ndim == 3 else ""
        raise ValueError(
            f"{path}: expected labels, an IDX array of 1 dimension (count), found "
            f"{labels.ndim} of shape {labels.shape}{hint}"
        )
    check_labels(path, labels, 0, 9)
    return labels


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


def _same_count(images_path: Path, images, labels_path: Path, labels) -> None:
    if len(images) != len(labels):
        raise ValueError(
            f"{labels_path}: {len(labels)} labels for the {len(images)} images of "
            f"{images_path.name}: the counts must be equal"
        )


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
        x_train, y_train = read_images(train_images), read_labels(train_labels)
        _same_count(train_images, x_train, train_labels, y_train)
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
    x_test, y_test = read_images(test_images), read_labels(test_labels)
    _same_count(test_images, x_test, test_labels, y_test)

    def flat(x):
        return (x.reshape(len(x), -1) / 255.0).astype(np.float32)

    return flat(x_train), y_train.astype(np.int32), flat(x_test), y_test.astype(np.int32)
