"""CIFAR-10 and STL-10 loaders, on small files written here in the standard formats.

The synthetic files are laid out from the formats' own descriptions (byte offsets of a pixel
in the file), independently of the loaders' reshapes, so a swapped axis or channel order
shows up as a pixel at the wrong flat index. The real data sets are only checked when they
are found under $MEMXBAR_DATA.
"""

from __future__ import annotations

import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import EXAMPLES

from memxbar.hw_configs import ConfigError, build
from memxbar.runtime.data.datasets import load_dataset
from memxbar.runtime.data.home import default_data_dir
from memxbar.runtime.data.images import (
    load_cifar10_arrays,
    load_stl10_arrays,
    read_cifar10_batch,
    read_stl10_split,
)
from memxbar.runtime.job import load_job
from memxbar.runtime.rate_job import DataConfig

CIFAR_TRAIN = [f"data_batch_{i}" for i in range(1, 6)]
STL_IMAGE_BYTES = 3 * 96 * 96


# -- writers for the standard formats ---------------------------------------------------------


class _Dtype:
    """Stands for numpy's uint8 dtype in :func:`py2_pickle`."""


def py2_pickle(obj) -> bytes:
    """``obj`` as Python 2's cPickle (protocol 2) with numpy 1.x wrote the CIFAR-10 batches.

    Python 3 cannot write this form (Python 2 ``str`` is a byte string, opcodes U/T, and
    arrays refer to ``numpy.core.multiarray``), so it is assembled opcode by opcode.
    Handles bytes, ints, bools, None, tuples, lists, dicts and uint8 arrays.
    """
    out = [b"\x80\x02"]

    def emit(o):
        if isinstance(o, bytes):
            head = b"U" + bytes([len(o)]) if len(o) < 256 else b"T" + struct.pack("<i", len(o))
            out.extend([head, o])
        elif isinstance(o, bool):
            out.append(b"\x88" if o else b"\x89")
        elif o is None:
            out.append(b"N")
        elif isinstance(o, int):
            out.append(b"J" + struct.pack("<i", o))
        elif isinstance(o, tuple | list):
            out.append(b"(" if isinstance(o, tuple) else b"](")
            for item in o:
                emit(item)
            out.append(b"t" if isinstance(o, tuple) else b"e")
        elif isinstance(o, dict):
            out.append(b"}(")
            for key, value in o.items():
                emit(key)
                emit(value)
            out.append(b"u")
        elif o is _Dtype:
            out.append(b"cnumpy\ndtype\n")
            emit((b"u1", 0, 1))
            out.append(b"R")
            emit((3, b"|", None, None, None, -1, -1, 0))
            out.append(b"b")
        elif isinstance(o, np.ndarray):
            assert o.dtype == np.uint8
            out.append(b"cnumpy.core.multiarray\n_reconstruct\n")
            out.append(b"cnumpy\nndarray\n")
            emit((0,))
            emit(b"b")
            out.append(b"\x87R")  # TUPLE3, REDUCE: _reconstruct(ndarray, (0,), b'b')
            emit((1, o.shape, _Dtype, False, np.ascontiguousarray(o).tobytes()))
            out.append(b"b")
        else:
            raise TypeError(type(o))

    emit(obj)
    out.append(b".")
    return b"".join(out)


def cifar_rows(images_hwc: np.ndarray) -> np.ndarray:
    """(n, 32, 32, 3) → the format's rows: per image the red, green, blue planes, row-major."""
    n = len(images_hwc)
    rows = np.zeros((n, 3072), np.uint8)
    for k in range(3):
        for r in range(32):
            rows[:, k * 1024 + r * 32 : k * 1024 + r * 32 + 32] = images_hwc[:, r, :, k]
    return rows


def write_cifar_batch(path: Path, rows: np.ndarray, labels, *, protocol=None, str_keys=False):
    """A batch file: Python 2 form by default, else pickled by Python 3 with ``protocol``."""
    name, data_key, labels_key = (
        ("batch_label", "data", "labels") if str_keys else (b"batch_label", b"data", b"labels")
    )
    batch = {name: b"synthetic", labels_key: list(labels), data_key: rows}
    if protocol is None:
        path.write_bytes(py2_pickle(batch))
    else:
        path.write_bytes(pickle.dumps(batch, protocol=protocol))
    return path


def write_cifar(root: Path, *, rng, n_train=3, n_test=4) -> tuple[np.ndarray, ...]:
    """A complete ``cifar-10-batches-py`` under ``root``; returns the HWC images and labels."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    x_tr = rng.integers(0, 256, (5 * n_train, 32, 32, 3), dtype=np.uint8)
    y_tr = rng.integers(0, 10, 5 * n_train)
    x_te = rng.integers(0, 256, (n_test, 32, 32, 3), dtype=np.uint8)
    y_te = rng.integers(0, 10, n_test)
    for i, name in enumerate(CIFAR_TRAIN):
        part = slice(i * n_train, (i + 1) * n_train)
        write_cifar_batch(folder / name, cifar_rows(x_tr[part]), y_tr[part].tolist())
    write_cifar_batch(folder / "test_batch", cifar_rows(x_te), y_te.tolist())
    return x_tr, y_tr, x_te, y_te


def stl_bytes(images_hwc: np.ndarray) -> bytes:
    """(n, 96, 96, 3) → the format: per image three planes, each column-major."""
    n = len(images_hwc)
    raw = np.zeros((n, STL_IMAGE_BYTES), np.uint8)
    for k in range(3):
        for c in range(96):
            start = k * 9216 + c * 96
            raw[:, start : start + 96] = images_hwc[:, :, c, k]
    return raw.tobytes()


def write_stl(root: Path, *, rng, n_train=3, n_test=2) -> tuple[np.ndarray, ...]:
    """A complete ``stl10_binary`` under ``root``; returns the HWC images and labels 1–10."""
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    arrays = []
    for split, n in (("train", n_train), ("test", n_test)):
        x = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        y = rng.integers(1, 11, n).astype(np.uint8)
        (folder / f"{split}_X.bin").write_bytes(stl_bytes(x))
        (folder / f"{split}_y.bin").write_bytes(y.tobytes())
        arrays += [x, y]
    return tuple(arrays)


def flat_hwc(images_hwc: np.ndarray) -> np.ndarray:
    return images_hwc.reshape(len(images_hwc), -1).astype(np.float32) / np.float32(255)


# -- CIFAR-10 ---------------------------------------------------------------------------------


def test_every_cifar_byte_lands_on_its_pixel_and_channel(tmp_path):
    # One image per byte position of the format: image i has only byte i lit. Byte
    # k*1024 + r*32 + c is (row r, column c, channel k), flat feature (r*32 + c)*3 + k.
    n = 3072
    rows = np.zeros((n, n), np.uint8)
    values = (1 + np.arange(n) % 255).astype(np.uint8)
    rows[np.arange(n), np.arange(n)] = values
    labels = np.arange(n) % 10
    path = write_cifar_batch(tmp_path / "test_batch", rows, labels.tolist())

    images, got_labels = read_cifar10_batch(path)
    assert images.shape == (n, 32, 32, 3) and images.dtype == np.uint8
    k, r, c = np.arange(n) // 1024, np.arange(n) % 1024 // 32, np.arange(n) % 32
    assert np.array_equal(images[np.arange(n), r, c, k], values)
    assert np.count_nonzero(images) == n
    np.testing.assert_array_equal(got_labels, labels)
    assert got_labels.dtype == np.int32

    # A named example: byte 2*1024 + 3*32 + 5 is row 3, column 5, channel 2 (blue), which the
    # loaders' flat HWC features hold at (3*32 + 5)*3 + 2 = 305.
    i = 2 * 1024 + 3 * 32 + 5
    assert images[i, 3, 5, 2] == values[i]
    assert images[i].reshape(-1)[305] == values[i] and np.count_nonzero(images[i]) == 1


def test_cifar_loader_concatenates_batches_in_order_as_flat_hwc_floats(tmp_path, monkeypatch):
    monkeypatch.delenv("MEMXBAR_DATA", raising=False)
    rng = np.random.default_rng(0)
    x_tr, y_tr, x_te, y_te = write_cifar(tmp_path, rng=rng)
    got = load_cifar10_arrays(str(tmp_path))
    np.testing.assert_array_equal(got[0], flat_hwc(x_tr))
    np.testing.assert_array_equal(got[1], y_tr)
    np.testing.assert_array_equal(got[2], flat_hwc(x_te))
    np.testing.assert_array_equal(got[3], y_te)
    assert got[0].dtype == got[2].dtype == np.float32
    assert got[1].dtype == got[3].dtype == np.int32
    assert got[0].min() >= 0.0 and got[0].max() <= 1.0
    # The documented way back to images.
    np.testing.assert_array_equal(got[2].reshape(-1, 32, 32, 3) * 255, x_te)
    # The batch folder itself is accepted too, and $MEMXBAR_DATA when no folder is given.
    np.testing.assert_array_equal(
        load_cifar10_arrays(str(tmp_path / "cifar-10-batches-py"))[3], y_te
    )
    monkeypatch.setenv("MEMXBAR_DATA", str(tmp_path))
    np.testing.assert_array_equal(load_cifar10_arrays(None)[1], y_tr)


@pytest.mark.parametrize(("protocol", "str_keys"), [(2, False), (4, True), (5, False)])
def test_cifar_batches_pickled_by_python3_load_the_same(tmp_path, protocol, str_keys):
    rng = np.random.default_rng(protocol)
    images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    labels = [3, 1, 4, 1, 5]
    path = tmp_path / "batch"
    write_cifar_batch(path, cifar_rows(images), labels, protocol=protocol, str_keys=str_keys)
    got_images, got_labels = read_cifar10_batch(path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)


class _Remove:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (os.remove, (str(self.target),))


class _Exec:
    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (exec, (f"open({str(self.target)!r}, 'w').write('pwned')",))


class _Rot13:
    def __reduce__(self):
        import _codecs

        return (_codecs.encode, ("data", "rot13"))


@pytest.mark.parametrize(
    ("payload", "named"),
    [(_Remove, "remove"), (_Exec, "builtin__.exec"), (lambda _: _Rot13(), "(str, 'latin1')")],
)
def test_a_pickle_that_would_run_code_is_refused_before_it_runs(tmp_path, payload, named):
    sentinel = tmp_path / "sentinel"
    sentinel.write_text("intact")
    path = tmp_path / "data_batch_1"
    rows = np.zeros((1, 3072), np.uint8)
    path.write_bytes(pickle.dumps({b"data": rows, b"labels": [0], b"x": payload(sentinel)}, 2))
    with pytest.raises(ValueError, match="not a plain CIFAR-10 batch") as err:
        read_cifar10_batch(path)
    assert str(path) in str(err.value) and named in str(err.value)
    assert sentinel.read_text() == "intact"


def test_truncated_or_corrupt_cifar_batches_name_the_file(tmp_path):
    good = write_cifar_batch(tmp_path / "good", np.zeros((4, 3072), np.uint8), [0, 1, 2, 3])
    data = good.read_bytes()
    for name, content in [
        ("truncated", data[: len(data) // 2]),
        ("garbage", bytes(range(256)) * 4),
        ("empty", b""),
    ]:
        path = tmp_path / name
        path.write_bytes(content)
        with pytest.raises(ValueError, match="truncated or corrupt pickle") as err:
            read_cifar10_batch(path)
        assert str(path) in str(err.value), name


@pytest.mark.parametrize(
    ("batch", "expected"),
    [
        ([1, 2], "expected a pickled dict, found list"),
        ({b"labels": [0]}, r"b'data' to be a uint8 array of shape \(n, 3072\)"),
        ({b"data": np.zeros((2, 3071), np.uint8), b"labels": [0, 0]}, r"found \(2, 3071\)"),
        ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 0]}, "uint8 array"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "b'labels' to be 2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8)}, "b'labels' to be 2 integers"),
        ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 10]}, "labels must be 0–9"),
    ],
)
def test_cifar_batches_with_wrong_contents_say_what_was_expected(tmp_path, batch, expected):
    path = tmp_path / "data_batch_1"
    path.write_bytes(pickle.dumps(batch, protocol=4))
    with pytest.raises(ValueError, match=expected) as err:
        read_cifar10_batch(path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_missing_cifar_batch_is_named(tmp_path):
    write_cifar(tmp_path, rng=np.random.default_rng(1))
    missing = tmp_path / "cifar-10-batches-py" / "data_batch_3"
    missing.unlink()
    with pytest.raises(ValueError, match="missing") as err:
        load_cifar10_arrays(str(tmp_path))
    assert str(err.value).startswith(f"{missing}: missing")
    assert "data_batch_1 … data_batch_5 and test_batch" in str(err.value)


# -- STL-10 -----------------------------------------------------------------------------------


def test_stl_bytes_land_on_their_pixels_and_channels(tmp_path):
    # Byte k*9216 + c*96 + r of an image is (row r, column c, channel k): planes are
    # column-major. One image per sampled byte position, corners and edges included.
    rng = np.random.default_rng(2)
    corners = [0, 95, 96, 9215, 9216, STL_IMAGE_BYTES - 1]
    positions = np.array(corners + sorted(rng.choice(STL_IMAGE_BYTES, 200, replace=False)))
    n = len(positions)
    raw = np.zeros((n, STL_IMAGE_BYTES), np.uint8)
    raw[np.arange(n), positions] = 200
    labels = (np.arange(n) % 10 + 1).astype(np.uint8)
    (tmp_path / "X.bin").write_bytes(raw.tobytes())
    (tmp_path / "y.bin").write_bytes(labels.tobytes())

    images, got_labels = read_stl10_split(tmp_path / "X.bin", tmp_path / "y.bin")
    assert images.shape == (n, 96, 96, 3)
    k, c, r = positions // 9216, positions % 9216 // 96, positions % 96
    assert np.all(images[np.arange(n), r, c, k] == 200)
    assert np.count_nonzero(images) == n
    np.testing.assert_array_equal(got_labels, labels.astype(np.int32) - 1)
    assert got_labels.dtype == np.int32 and got_labels.min() == 0 and got_labels.max() == 9


def test_stl_loader_returns_flat_hwc_floats(tmp_path, no_data_env):
    x_tr, y_tr, x_te, y_te = write_stl(tmp_path, rng=np.random.default_rng(3))
    got = load_stl10_arrays(str(tmp_path))
    np.testing.assert_array_equal(got[0], flat_hwc(x_tr))
    np.testing.assert_array_equal(got[1], y_tr.astype(np.int32) - 1)
    np.testing.assert_array_equal(got[2], flat_hwc(x_te))
    np.testing.assert_array_equal(got[3], y_te.astype(np.int32) - 1)
    assert got[0].dtype == np.float32 and got[1].dtype == np.int32
    np.testing.assert_array_equal(got[2].reshape(-1, 96, 96, 3) * 255, x_te)
    np.testing.assert_array_equal(load_stl10_arrays(str(tmp_path / "stl10_binary"))[1], got[1])


def test_broken_stl_files_name_the_file_and_the_expectation(tmp_path):
    write_stl(tmp_path, rng=np.random.default_rng(4), n_train=2, n_test=2)
    folder = tmp_path / "stl10_binary"
    x, y = folder / "test_X.bin", folder / "test_y.bin"
    x_bytes, y_bytes = x.read_bytes(), y.read_bytes()

    x.write_bytes(x_bytes[:-1])
    with pytest.raises(ValueError, match="not a whole number of 3×96×96 images") as err:
        load_stl10_arrays(str(tmp_path))
    assert str(err.value).startswith(f"{x}: ")

    x.write_bytes(x_bytes)
    y.write_bytes(y_bytes[:1])
    with pytest.raises(ValueError, match=r"one label byte per image of test_X.bin \(2\), found 1"):
        load_stl10_arrays(str(tmp_path))

    for bad in (0, 11):
        y.write_bytes(bytes([1, bad]))
        with pytest.raises(ValueError, match=f"labels must be 1–10, found .*{bad}") as err:
            load_stl10_arrays(str(tmp_path))
        assert str(err.value).startswith(f"{y}: ")

    y.unlink()
    with pytest.raises(ValueError, match="missing") as err:
        load_stl10_arrays(str(tmp_path))
    assert str(err.value).startswith(f"{y}: missing") and "train_X.bin" in str(err.value)


# -- folders and jobs -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "what", "name", "layout"),
    [
        (load_cifar10_arrays, "CIFAR-10", "cifar10", "cifar-10-batches-py/"),
        (load_stl10_arrays, "STL-10", "stl10", "stl10_binary/"),
    ],
)
def test_an_absent_folder_says_where_data_goes_and_how_to_fetch_it(
    tmp_path, no_data_env, loader, what, name, layout
):
    with pytest.raises(ValueError, match=f"{what} needs a data folder") as err:
        loader(None)
    for fragment in (
        layout,
        "data.data_dir",
        "--data-dir",
        "MEMXBAR_DATA",
        f"`memxbar data fetch {name}`, which downloads it to {default_data_dir()}",
        "a run itself downloads nothing",
    ):
        assert fragment in str(err.value)

    absent = tmp_path / "absent"
    with pytest.raises(ValueError, match=f"{what} data folder does not exist") as err:
        loader(str(absent))
    assert str(err.value).startswith(f"{absent}: ") and layout in str(err.value)
    assert f"`memxbar data fetch {name} --dir {absent}` downloads it there" in str(err.value)

    with pytest.raises(ValueError, match=f"no {what} data here") as err:
        loader(str(tmp_path))  # exists, but holds neither the archive folder nor its files
    assert layout in str(err.value)
    assert f"`memxbar data fetch {name} --dir {tmp_path}` downloads it there" in str(err.value)

    # The per-user folder is where runs look when no folder is given.
    default_data_dir().mkdir(parents=True)
    with pytest.raises(ValueError, match=f"no {what} data here") as err:
        loader(None)
    assert str(err.value).startswith(f"{default_data_dir()}: ")
    assert f"`memxbar data fetch {name}` downloads it)" in str(err.value)


def data_config(**data) -> DataConfig:
    """A job's data section, built by the job loader's strict machinery."""
    mapping = {"test_fraction": 0.2, "center": False, "train_limit": 0, "test_limit": 0}
    return build(DataConfig, {**mapping, **data}, source="job.yaml", prefix="data.")


def test_load_dataset_reads_both_from_the_jobs_folder_or_the_override(tmp_path, no_data_env):
    rng = np.random.default_rng(5)
    x_tr, y_tr, _, y_te = write_cifar(tmp_path / "a", rng=rng)
    _, s_ytr, s_xte, _ = write_stl(tmp_path / "a", rng=rng)

    cifar = load_dataset(data_config(dataset="cifar10", data_dir=str(tmp_path / "a")))
    assert (cifar.name, cifar.n_classes, cifar.image_shape) == ("cifar10", 10, (32, 32, 3))
    assert cifar.n_features == 3072
    np.testing.assert_array_equal(cifar.x_train, flat_hwc(x_tr))
    np.testing.assert_array_equal(cifar.y_test, y_te)

    stl = load_dataset(data_config(dataset="stl10"), data_dir=str(tmp_path / "a"))
    assert (stl.name, stl.n_classes, stl.image_shape) == ("stl10", 10, (96, 96, 3))
    assert stl.n_features == 96 * 96 * 3
    np.testing.assert_array_equal(stl.y_train, s_ytr.astype(np.int32) - 1)
    np.testing.assert_array_equal(stl.x_test, flat_hwc(s_xte))

    # The --data-dir override wins over the job's folder, and limits and centring apply.
    config = data_config(
        dataset="cifar10", data_dir=str(tmp_path / "absent"), train_limit=4, center=True
    )
    limited = load_dataset(config, data_dir=str(tmp_path / "a"))
    assert limited.x_train.shape == (4, 3072)
    np.testing.assert_allclose(limited.x_train.mean(axis=0), 0.0, atol=1e-6)
    with pytest.raises(ValueError, match="CIFAR-10 data folder does not exist"):
        load_dataset(config)


def test_job_files_accept_the_new_data_sets_and_reject_others(tmp_path, no_data_env):
    job = yaml.safe_load((EXAMPLES / "softhebb_digits_ideal.yaml").read_text())
    write_cifar(tmp_path, rng=np.random.default_rng(6), n_train=1, n_test=2)
    job["data"].update(dataset="cifar10", data_dir=str(tmp_path), center=False)
    path = tmp_path / "job.yaml"
    path.write_text(yaml.safe_dump(job))
    data = load_dataset(load_job(path).data)
    assert data.name == "cifar10" and data.x_train.shape == (5, 3072) and len(data.y_test) == 2

    with pytest.raises(ConfigError) as err:
        data_config(dataset="cifar100")
    assert "data.dataset" in str(err.value) and "cifar10" in str(err.value)


# -- the real data sets, when present ---------------------------------------------------------


def real_folder(name: str) -> Path:
    root = os.environ.get("MEMXBAR_DATA", "")
    if root and (Path(root) / name).is_dir():
        return Path(root) / name
    if root and Path(root).name == name and Path(root).is_dir():
        return Path(root)
    pytest.skip(f"no {name}/ under $MEMXBAR_DATA ({root or 'unset'}): real-data check only")


def test_real_cifar10_has_the_published_sizes():
    folder = real_folder("cifar-10-batches-py")
    images, labels = read_cifar10_batch(folder / "test_batch")
    assert images.shape == (10_000, 32, 32, 3)
    assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, 1000))
    for name in CIFAR_TRAIN:
        images, labels = read_cifar10_batch(folder / name)
        assert images.shape == (10_000, 32, 32, 3) and labels.min() >= 0 and labels.max() <= 9


def test_real_stl10_has_the_published_sizes():
    folder = real_folder("stl10_binary")
    for split, per_class in (("train", 500), ("test", 800)):
        images, labels = read_stl10_split(folder / f"{split}_X.bin", folder / f"{split}_y.bin")
        assert images.shape == (10 * per_class, 96, 96, 3)
        assert np.array_equal(np.bincount(labels, minlength=10), np.full(10, per_class))
