"""CIFAR-10 and STL-10 from a data folder, in the formats their authors distribute.

Nothing is downloaded here (``memxbar data fetch cifar10`` / ``stl10`` does that). The folder
comes from the job (``data.data_dir``), the ``--data-dir`` option, the ``MEMXBAR_DATA``
environment variable or else the per-user data folder (see :mod:`memxbar.runtime.data.home`),
and holds (or is) the unpacked archive:

- CIFAR-10, "python version" (``cifar-10-python.tar.gz``): ``cifar-10-batches-py/`` with the
  pickled batches ``data_batch_1`` … ``data_batch_5`` (training, 50,000 images) and
  ``test_batch`` (10,000). Each is a dict with ``b'data'``, uint8 (n, 3072) — per image 1024
  red, 1024 green, then 1024 blue values, each plane 32×32 row-major — and ``b'labels'``
  (n ints 0–9).
- STL-10, binary (``stl10_binary.tar.gz``): ``stl10_binary/`` with ``train_X.bin`` /
  ``train_y.bin`` (5,000 images) and ``test_X.bin`` / ``test_y.bin`` (8,000). Images are uint8
  3×96×96, channel after channel, each plane column-major (written from MATLAB); labels are
  one byte each, 1–10. ``unlabeled_X.bin`` is not read.

Both loaders return images flattened in (height, width, channel) row-major order, float32 in
[0, 1] — pixel (row r, column c, channel k) of an H×W×C image is feature ``(r*W + c)*C + k`` —
so a consumer recovers the images with ``x.reshape(n, H, W, C)``; labels are int32 0–9.

The CIFAR batches are pickles, and unpickling can run arbitrary code: they are read by an
unpickler that only builds dicts, lists, numbers, strings and numpy arrays and refuses
anything else.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .home import fetch_hint, find_data_folder

__all__ = [
    "CIFAR10_DIR",
    "STL10_DIR",
    "read_cifar10_batch",
    "read_stl10_split",
    "load_cifar10_arrays",
    "load_stl10_arrays",
]

CIFAR10_DIR = "cifar-10-batches-py"
STL10_DIR = "stl10_binary"
CIFAR10_SHAPE = (32, 32, 3)
STL10_SHAPE = (96, 96, 3)
_CIFAR10_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR10_TEST = "test_batch"
_CIFAR10_LAYOUT = (
    f"{CIFAR10_DIR}/ with data_batch_1 … data_batch_5 and test_batch "
    "(the unpacked 'python version' of CIFAR-10)"
)
_STL10_LAYOUT = (
    f"{STL10_DIR}/ with train_X.bin, train_y.bin, test_X.bin and test_y.bin "
    "(the unpacked binary STL-10)"
)


def _archive_folder(root: Path, name: str, marker: str, what: str, fetch: str, layout: str) -> Path:
    """``root/name`` when present, else ``root`` itself if it holds ``marker``."""
    if (root / name).is_dir():
        return root / name
    if (root / marker).is_file():
        return root
    raise ValueError(f"{root}: no {what} data here (expected {layout}; {fetch_hint(fetch, root)})")


def _file(folder: Path, name: str, what: str, fetch: str, layout: str) -> Path:
    path = folder / name
    if not path.is_file():
        root = folder.parent if folder.name in (CIFAR10_DIR, STL10_DIR) else folder
        raise ValueError(f"{path}: missing ({what} needs {layout}; {fetch_hint(fetch, root)})")
    return path


def _to_float(images_hwc: np.ndarray) -> np.ndarray:
    """(n, H, W, C) uint8 → (n, H*W*C) float32 in [0, 1], without a float64 copy."""
    flat = images_hwc.reshape(len(images_hwc), -1).astype(np.float32)
    flat /= 255  # correctly rounded in float32: 0 → 0.0 and 255 → 1.0 exactly
    return flat


# -- CIFAR-10 ---------------------------------------------------------------------------------


class _RefusedGlobal(pickle.UnpicklingError):
    pass


def _latin1_encode(text, encoding="utf-8"):
    # Protocol-2 pickles written by Python 3 spell bytes as _codecs.encode(str, 'latin1').
    if not isinstance(text, str) or encoding != "latin1":
        raise _RefusedGlobal(
            f"calls _codecs.encode with encoding {encoding!r}; only (str, 'latin1') is allowed"
        )
    return text.encode("latin1")


def _array_globals() -> dict[tuple[str, str], object]:
    # Ask numpy for its own pickle constructors, so the allow-list holds the same objects
    # whatever numpy version wrote or reads the file (numpy 2 moved numpy.core to numpy._core).
    reconstruct = np.zeros(1).__reduce__()[0]
    frombuffer = np.zeros(1).__reduce_ex__(5)[0]
    allowed: dict[tuple[str, str], object] = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_encode,
    }
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = reconstruct
        allowed[(f"{core}.numeric", "_frombuffer")] = frombuffer
    return allowed


class _ArrayUnpickler(pickle.Unpickler):
    """Builds only containers, scalars, strings and numpy arrays; refuses any other global."""

    _allowed = _array_globals()

    def find_class(self, module, name):
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise _RefusedGlobal(
                f"refers to {module}.{name}, which a CIFAR-10 batch never needs "
                "(refused: unpickling it could run code)"
            ) from None


def _get(batch: dict, key: str):
    # encoding='bytes' gives the original (Python 2) files bytes keys; a batch re-saved by
    # Python 3 has str keys.
    return batch[key.encode()] if key.encode() in batch else batch.get(key)


def read_cifar10_batch(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One pickled CIFAR-10 batch: (images (n, 32, 32, 3) uint8, labels (n,) int32).

    Raises:
        ValueError naming the file: unreadable, truncated or corrupt pickle, a pickle that
            refers to anything but numpy arrays, or contents of the wrong type or shape.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            batch = _ArrayUnpickler(stream, encoding="bytes").load()
    except _RefusedGlobal as err:
        raise ValueError(f"{path}: not a plain CIFAR-10 batch: the pickle {err}") from None
    except OSError as err:
        raise ValueError(f"{path}: cannot be read ({err})") from None
    except Exception as err:  # a damaged pickle fails in many ways; all mean the same here
        raise ValueError(
            f"{path}: truncated or corrupt pickle ({type(err).__name__}: {err})"
        ) from None
    if not isinstance(batch, dict):
        raise ValueError(f"{path}: expected a pickled dict, found {type(batch).__name__}")
    data, labels = _get(batch, "data"), _get(batch, "labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise ValueError(f"{path}: expected b'data' to be a uint8 array of shape (n, 3072)")
    if data.shape[1] != np.prod(CIFAR10_SHAPE):
        raise ValueError(f"{path}: expected b'data' of shape (n, 3072), found {data.shape}")
    try:
        labels = np.asarray(labels)
    except (TypeError, ValueError):
        labels = np.asarray(None)
    if labels.shape != (len(data),) or labels.dtype.kind not in "iu":
        raise ValueError(
            f"{path}: expected b'labels' to be {len(data)} integers (one per image), "
            f"found {labels.dtype} of shape {labels.shape}"
        )
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise ValueError(f"{path}: labels must be 0–9, found {labels.min()}–{labels.max()}")
    # (n, channel, row, column) → (n, row, column, channel)
    images = data.reshape(len(data), 3, 32, 32).transpose(0, 2, 3, 1)
    return images, labels.astype(np.int32)


def load_cifar10_arrays(data_dir: str | None):
    """(x_train, y_train, x_test, y_test): 50,000 / 10,000 images, (n, 3072) HWC float32.

    ``data_dir`` holds ``cifar-10-batches-py/`` or is that folder. See the module docstring
    for the file format and the flat layout (reshape x to (n, 32, 32, 3)).
    """
    what, fetch, layout = "CIFAR-10", "cifar10", _CIFAR10_LAYOUT
    root = find_data_folder(data_dir, what, fetch, layout)
    folder = _archive_folder(root, CIFAR10_DIR, _CIFAR10_TEST, what, fetch, layout)
    paths = [_file(folder, n, what, fetch, layout) for n in (*_CIFAR10_TRAIN, _CIFAR10_TEST)]
    batches = [read_cifar10_batch(p) for p in paths]
    x_train = np.concatenate([images for images, _ in batches[:-1]])
    y_train = np.concatenate([labels for _, labels in batches[:-1]])
    x_test, y_test = batches[-1]
    return _to_float(x_train), y_train, _to_float(x_test), y_test


# -- STL-10 -----------------------------------------------------------------------------------


def read_stl10_split(images_path: str | Path, labels_path: str | Path):
    """One STL-10 split: (images (n, 96, 96, 3) uint8, labels (n,) int32 0–9).

    Raises:
        ValueError naming the file: unreadable, a size that is not whole images, a label
            count that differs from the image count, labels outside 1–10.
    """
    images_path, labels_path = Path(images_path), Path(labels_path)
    size = int(np.prod(STL10_SHAPE))
    try:
        raw = np.fromfile(images_path, np.uint8)
        labels = np.fromfile(labels_path, np.uint8)
    except OSError as err:
        raise ValueError(f"{err.filename}: cannot be read ({err.strerror})") from None
    if len(raw) % size:
        raise ValueError(
            f"{images_path}: {len(raw)} bytes is not a whole number of 3×96×96 images "
            f"({size} bytes each): truncated or corrupt"
        )
    n = len(raw) // size
    if len(labels) != n:
        raise ValueError(
            f"{labels_path}: expected one label byte per image of {images_path.name} "
            f"({n}), found {len(labels)} (truncated or corrupt)"
        )
    if n and (labels.min() < 1 or labels.max() > 10):
        raise ValueError(f"{labels_path}: labels must be 1–10, found {labels.min()}–{labels.max()}")
    # Each plane is column-major, so the C-order reshape gives (n, channel, column, row).
    images = raw.reshape(n, 3, 96, 96).transpose(0, 3, 2, 1)
    return images, labels.astype(np.int32) - 1


def load_stl10_arrays(data_dir: str | None):
    """(x_train, y_train, x_test, y_test): 5,000 / 8,000 images, (n, 27648) HWC float32.

    ``data_dir`` holds ``stl10_binary/`` or is that folder. See the module docstring for the
    file format and the flat layout (reshape x to (n, 96, 96, 3)). The unlabeled images are
    not read.
    """
    what, fetch, layout = "STL-10", "stl10", _STL10_LAYOUT
    root = find_data_folder(data_dir, what, fetch, layout)
    folder = _archive_folder(root, STL10_DIR, "test_X.bin", what, fetch, layout)
    splits = []
    for split in ("train", "test"):
        images = _file(folder, f"{split}_X.bin", what, fetch, layout)
        labels = _file(folder, f"{split}_y.bin", what, fetch, layout)
        splits.append(read_stl10_split(images, labels))
    (x_train, y_train), (x_test, y_test) = splits
    return _to_float(x_train), y_train, _to_float(x_test), y_test
