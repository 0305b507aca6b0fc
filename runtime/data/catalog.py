"""The data sets ``memxbar data fetch`` downloads: official files, mirrors, published SHA-256.

Every checksum below is a published one, with its source next to it; none was computed from a
download made for this project. A download that matches none of them is refused.
"""

from __future__ import annotations

import dataclasses

__all__ = ["RemoteFile", "DataSource", "CATALOG"]


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """One file as its mirrors serve it.

    Attributes:
        name: the file name on every mirror and on disk.
        sha256: published SHA-256 of the file (hex).
        size: its size in bytes when published (a download is cut off well beyond it).
        content_sha256: for a gzip file, the published SHA-256 of its uncompressed bytes. A
            mirror that recompressed the same data serves different gzip bytes; the data
            (what the loaders read) is accepted when this matches.
        content_size: the uncompressed size in bytes (decompression stops beyond it).
    """

    name: str
    sha256: str
    size: int | None = None
    content_sha256: str | None = None
    content_size: int | None = None


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A data set: where its files come from and where they go in the data folder.

    Attributes:
        name: the name on the command line (``memxbar data fetch NAME``).
        title: the name in messages.
        folder: the subfolder of the data folder that holds the data set.
        mirrors: base URLs tried in order; a file's URL is ``mirror + name``.
        files: the files to download.
        archive: the files are tar archives whose members all lie under ``folder/``; they are
            unpacked into the data folder and the archive is deleted.
        needed: the files in ``folder`` that the loader reads.
    """

    name: str
    title: str
    folder: str
    mirrors: tuple[str, ...]
    files: tuple[RemoteFile, ...]
    archive: bool
    needed: tuple[str, ...]

    def __post_init__(self):
        if self.archive and len(self.files) != 1:
            raise ValueError(f"data set {self.name}: an archive data set has one file")


# MNIST (LeCun, Cortes & Burges). SHA-256 and sizes of the gzip files: TensorFlow Datasets,
# tensorflow_datasets/url_checksums/mnist.txt (the CVDF mirror; the PyTorch mirror serves the
# same bytes: torchvision's MD5s 9fb629c4…, ec29112d…, f68b3c2d…, d53e105e… belong to them).
# SHA-256 of the uncompressed IDX files: no authority publishes them, but a dozen independent
# public MNIST loaders (Python, Rust, Go, shell) pin these same values; the t10k ones also
# match the test copies this project was developed with (recompressed gzip files whose
# content is the original).
_MNIST_FILES = (
    RemoteFile(
        "t10k-images-idx3-ubyte.gz",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        1648877,
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        7840016,
    ),
    RemoteFile(
        "t10k-labels-idx1-ubyte.gz",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        4542,
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        10008,
    ),
    RemoteFile(
        "train-images-idx3-ubyte.gz",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        9912422,
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        47040016,
    ),
    RemoteFile(
        "train-labels-idx1-ubyte.gz",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        28881,
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        60008,
    ),
)

CATALOG: dict[str, DataSource] = {
    "mnist": DataSource(
        name="mnist",
        title="MNIST",
        folder="mnist",
        mirrors=(
            "https://ossci-datasets.s3.amazonaws.com/mnist/",
            "https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        files=_MNIST_FILES,
        archive=False,
        needed=tuple(f.name for f in _MNIST_FILES),
    ),
    # CIFAR-10, python version (Krizhevsky 2009). SHA-256: Keras,
    # keras/src/datasets/cifar10.py (file_hash of this URL); the authors publish the MD5
    # c58f30108f718f92721af3b95e74349a. Size 170,498,071 bytes.
    "cifar10": DataSource(
        name="cifar10",
        title="CIFAR-10",
        folder="cifar-10-batches-py",
        mirrors=("https://www.cs.toronto.edu/~kriz/",),
        files=(
            RemoteFile(
                "cifar-10-python.tar.gz",
                "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
                170498071,
            ),
        ),
        archive=True,
        needed=tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",),
    ),
    # STL-10, binary (Coates, Lee & Ng, AISTATS 2011). SHA-256 and size: TensorFlow Datasets,
    # tensorflow_datasets/url_checksums/stl10.txt. The authors serve it over http only; the
    # checksum is what makes that safe.
    "stl10": DataSource(
        name="stl10",
        title="STL-10",
        folder="stl10_binary",
        mirrors=("http://ai.stanford.edu/~acoates/stl10/",),
        files=(
            RemoteFile(
                "stl10_binary.tar.gz",
                "f31fd99273a1acb8609c8db427cebb1de3f71de77758cdc0e22956e1289b9866",
                2640397119,
            ),
        ),
        archive=True,
        needed=("train_X.bin", "train_y.bin", "test_X.bin", "test_y.bin"),
    ),
}
