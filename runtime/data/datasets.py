"""Data sets: the embedded scikit-learn digits (default); MNIST, CIFAR-10, STL-10 from a folder."""

from __future__ import annotations

import dataclasses

import numpy as np

from ...hw_configs import ConfigError
from .home import find_data_folder
from .images import (
    CIFAR10_DIR,
    CIFAR10_SHAPE,
    STL10_DIR,
    STL10_SHAPE,
    load_cifar10_arrays,
    load_stl10_arrays,
)
from .mnist import IMAGE_SIZE, load_mnist_arrays, mnist_folder

__all__ = [
    "Dataset",
    "centered",
    "load_digits_split",
    "load_mnist",
    "load_cifar10",
    "load_stl10",
    "load_dataset",
    "check_network_input",
]


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Train and test arrays: images flattened to (n, features) in [0, 1], integer labels."""

    name: str
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    #: (height, width, channels) of one image; the flat features are this array row-major.
    image_shape: tuple[int, int, int] = ()
    #: Where the data came from (a folder, or the package that ships it), for messages.
    source: str = ""

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]

    def limited(self, train_limit: int, test_limit: int, *, seed: int = 0) -> Dataset:
        """A random subset of ``train_limit`` / ``test_limit`` samples (0 keeps all).

        Random (by ``seed``), not the first rows: some files are sorted by class.
        """
        rng = np.random.default_rng(seed)

        def pick(n, limit):
            return np.sort(rng.permutation(n)[:limit]) if 0 < limit < n else np.arange(n)

        tr = pick(len(self.x_train), train_limit)
        te = pick(len(self.x_test), test_limit)
        return dataclasses.replace(
            self,
            x_train=self.x_train[tr],
            y_train=self.y_train[tr],
            x_test=self.x_test[te],
            y_test=self.y_test[te],
        )


def centered(data: Dataset) -> Dataset:
    """Both splits minus the training set's mean image (test statistics are never used).

    Without it every pixel that is dark in all images points the same way in every sample,
    and a Hebbian neuron initialised against that direction never wins a competition.
    """
    mean = data.x_train.mean(axis=0, keepdims=True)
    return dataclasses.replace(data, x_train=data.x_train - mean, x_test=data.x_test - mean)


def load_digits_split(test_fraction: float = 0.2, *, seed: int = 0) -> Dataset:
    """scikit-learn's 1,797 8×8 digits (shipped with scikit-learn), a stratified split.

    Pixels are scaled from 0–16 to [0, 1]. The split depends only on ``seed``.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.data / 16.0).astype(np.float32)
    y = digits.target.astype(np.int32)
    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=test_fraction, random_state=seed, stratify=y
    )
    return Dataset("digits", x_tr, y_tr, x_te, y_te, 10, (8, 8, 1), "scikit-learn's load_digits")


def load_mnist(data_dir: str | None = None) -> Dataset:
    """MNIST from a data folder (see :mod:`memxbar.runtime.data.mnist`); nothing is downloaded."""
    x_tr, y_tr, x_te, y_te = load_mnist_arrays(data_dir)
    folder = str(mnist_folder(data_dir))
    return Dataset("mnist", x_tr, y_tr, x_te, y_te, 10, (*IMAGE_SIZE, 1), folder)


def load_cifar10(data_dir: str | None = None) -> Dataset:
    """CIFAR-10's python-version batches from a data folder; nothing is downloaded.

    Features are each 32×32×3 image in (height, width, channel) order: reshape x to
    (n, 32, 32, 3). See :mod:`memxbar.runtime.data.images`.
    """
    x_tr, y_tr, x_te, y_te = load_cifar10_arrays(data_dir)
    folder = str(find_data_folder(data_dir, "CIFAR-10", "cifar10", CIFAR10_DIR))
    return Dataset("cifar10", x_tr, y_tr, x_te, y_te, 10, CIFAR10_SHAPE, folder)


def load_stl10(data_dir: str | None = None) -> Dataset:
    """STL-10's labelled binary splits from a data folder; nothing is downloaded.

    Features are each 96×96×3 image in (height, width, channel) order: reshape x to
    (n, 96, 96, 3). See :mod:`memxbar.runtime.data.images`.
    """
    x_tr, y_tr, x_te, y_te = load_stl10_arrays(data_dir)
    folder = str(find_data_folder(data_dir, "STL-10", "stl10", STL10_DIR))
    return Dataset("stl10", x_tr, y_tr, x_te, y_te, 10, STL10_SHAPE, folder)


def load_dataset(config, *, seed: int = 0, data_dir: str | None = None) -> Dataset:
    """The data set a job's ``data`` section names, limited as it asks.

    ``data_dir`` (e.g. from --data-dir) overrides the job's folder for MNIST, CIFAR-10, STL-10.
    """
    if config.dataset == "digits":
        data = load_digits_split(config.test_fraction, seed=seed)
    elif config.dataset == "mnist":
        data = load_mnist(data_dir or config.data_dir or None)
    elif config.dataset == "cifar10":
        data = load_cifar10(data_dir or config.data_dir or None)
    elif config.dataset == "stl10":
        data = load_stl10(data_dir or config.data_dir or None)
    else:
        raise ValueError(
            f"data set '{config.dataset}' is not supported (digits, mnist, cifar10, stl10)"
        )
    data = data.limited(config.train_limit, config.test_limit, seed=seed)
    return centered(data) if config.center else data


def check_network_input(network, data: Dataset, *, source: str) -> None:
    """Refuse a network whose first layer does not take ``data``'s samples.

    Checked once the data are loaded and before any tile is built, so the message names the
    job file ``source``, the key and both sizes instead of a shape error deep in a tile.

    Raises:
        ConfigError naming ``network.layers[0].<key>``.
    """
    layer = network.layers[0]
    key = "network.layers[0]"
    h, w, c = data.image_shape
    origin = f"the {data.name} data ({data.source})" if data.source else f"the {data.name} data"
    if layer.type == "conv2d":
        for name, have, want in (
            ("input_size", tuple(layer.input_size), (h, w)),
            ("in_channels", layer.in_channels, c),
        ):
            if have != want:
                raise ConfigError(
                    source,
                    f"{key}.{name}",
                    f"is {have}, but {origin} are {h}×{w} images of {c} channel(s)",
                )
        return
    name = "in_features" if hasattr(layer, "in_features") else "n_inputs"
    have = getattr(layer, name)
    if have != data.n_features:
        raise ConfigError(
            source,
            f"{key}.{name}",
            f"is {have}, but {origin} have {data.n_features} features per sample "
            f"({h}×{w}×{c} images)",
        )
