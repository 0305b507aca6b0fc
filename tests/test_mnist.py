"""MNIST from a data folder: IDX (gzipped or not) and the CSV subset, and clear errors."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from support import MNIST_DIR, assert_one_line_error, idx_bytes, needs_mnist, run_cli

from memxbar.runtime.data.datasets import load_mnist
from memxbar.runtime.data.home import default_data_dir
from memxbar.runtime.data.mnist import load_mnist_arrays, read_csv_images, read_idx


def write_folder(folder, n_train=6, n_test=4, *, gz=True, csv_train=False, seed=0):
    rng = np.random.default_rng(seed)
    images = {
        s: rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        for s, n in (("train", n_train), ("t10k", n_test))
    }
    labels = {s: rng.integers(0, 10, len(x), dtype=np.uint8) for s, x in images.items()}
    suffix = ".gz" if gz else ""
    pack = gzip.compress if gz else (lambda b: b)
    for split in ("train", "t10k"):
        if split == "train" and csv_train:
            rows = np.concatenate([images[split].reshape(n_train, -1), labels[split][:, None]], 1)
            text = "\n".join(",".join(map(str, r)) for r in rows) + "\n"
            (folder / "mnist_5k.csv.gz").write_bytes(gzip.compress(text.encode()))
            continue
        (folder / f"{split}-images-idx3-ubyte{suffix}").write_bytes(pack(idx_bytes(images[split])))
        (folder / f"{split}-labels-idx1-ubyte{suffix}").write_bytes(pack(idx_bytes(labels[split])))
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    images, labels = write_folder(tmp_path, gz=gz)
    x_tr, y_tr, x_te, y_te = load_mnist_arrays(str(tmp_path))
    np.testing.assert_array_equal(x_tr, images["train"].reshape(6, 784) / np.float32(255))
    np.testing.assert_array_equal(y_tr, labels["train"])
    np.testing.assert_array_equal(x_te * 255, images["t10k"].reshape(4, 784).astype(np.float32))
    np.testing.assert_array_equal(y_te, labels["t10k"])
    assert x_tr.dtype == np.float32 and y_tr.dtype == np.int32


def test_csv_training_subset_round_trip(tmp_path):
    images, labels = write_folder(tmp_path, csv_train=True)
    x_tr, y_tr, _, _ = load_mnist_arrays(str(tmp_path))
    np.testing.assert_array_equal(
        np.rint(x_tr * 255).astype(np.uint8), images["train"].reshape(6, 784)
    )
    np.testing.assert_array_equal(y_tr, labels["train"])


def test_data_folder_from_environment(tmp_path, monkeypatch):
    write_folder(tmp_path)
    monkeypatch.setenv("MEMXBAR_DATA", str(tmp_path))
    data = load_mnist()
    assert data.image_shape == (28, 28, 1) and data.n_features == 784


def test_the_mnist_subfolder_of_a_data_folder_is_read(tmp_path, no_data_env):
    # `memxbar data fetch mnist` puts the files in DATA/mnist/; DATA itself is the data folder.
    (tmp_path / "mnist").mkdir()
    _, labels = write_folder(tmp_path / "mnist")
    np.testing.assert_array_equal(load_mnist_arrays(str(tmp_path))[3], labels["t10k"])
    # With no folder given, the per-user folder's mnist/ (where the fetch puts it) is read.
    default_data_dir().joinpath("mnist").mkdir(parents=True)
    _, labels = write_folder(default_data_dir() / "mnist", n_test=3, seed=1)
    np.testing.assert_array_equal(load_mnist_arrays(None)[3], labels["t10k"])


def test_truncated_and_foreign_files_are_named(tmp_path):
    good = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    (tmp_path / "short").write_bytes(good[:-5])
    with pytest.raises(ValueError, match="short.*truncated or corrupt"):
        read_idx(tmp_path / "short")
    (tmp_path / "png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="png.*bad magic"):
        read_idx(tmp_path / "png")
    (tmp_path / "broken.gz").write_bytes(b"not gzip at all")
    with pytest.raises(ValueError, match="broken.gz.*cannot be read"):
        read_idx(tmp_path / "broken.gz")
    (tmp_path / "bad.csv").write_text("\n" + ",".join(["1"] * 784) + ",x\n")
    with pytest.raises(ValueError, match="bad.csv: line 2: expected integers, found 'x'"):
        read_csv_images(tmp_path / "bad.csv")
    (tmp_path / "wide.csv").write_text(",".join(["300"] * 785) + "\n")
    with pytest.raises(ValueError, match="wide.csv.*0–255"):
        read_csv_images(tmp_path / "wide.csv")


def test_missing_folder_and_files(tmp_path, no_data_env):
    with pytest.raises(ValueError, match="MEMXBAR_DATA.*`memxbar data fetch mnist`"):
        load_mnist_arrays(None)
    with pytest.raises(ValueError, match="does not exist"):
        load_mnist_arrays(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="no MNIST training data.*memxbar data fetch mnist --dir"):
        load_mnist_arrays(str(tmp_path))
    write_folder(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(ValueError, match="no MNIST test data"):
        load_mnist_arrays(str(tmp_path))


def test_images_and_labels_must_match(tmp_path):
    write_folder(tmp_path)
    labels = idx_bytes(np.zeros(5, np.uint8))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    with pytest.raises(ValueError, match=r"5 labels for the 6 images of train-images"):
        load_mnist_arrays(str(tmp_path))


def test_cli_names_the_missing_folder(tmp_path):
    result = run_cli(
        "run",
        "examples/softhebb_mnist_ideal.yaml",
        "-o",
        str(tmp_path / "r.h5"),
        "--data-dir",
        str(tmp_path / "absent"),
    )
    assert_one_line_error(result.returncode, result.stderr, "absent", "does not exist")


@needs_mnist()
def test_shared_subset_is_the_documented_one():
    data = load_mnist(str(MNIST_DIR))
    assert data.x_train.shape == (5000, 784) and data.x_test.shape == (10000, 784)
    # DESIGN.md 9: 500 training images per class; the official test set's class counts.
    np.testing.assert_array_equal(np.bincount(data.y_train), np.full(10, 500))
    np.testing.assert_array_equal(
        np.bincount(data.y_test), [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    )
    assert 0.0 <= data.x_train.min() and data.x_train.max() == 1.0
