"""``memxbar data fetch`` / ``data list`` against a local HTTP server (never the internet).

The server on 127.0.0.1 serves small fixture files written by the tests (tiny IDX files, tiny
archives in the CIFAR-10 and STL-10 layouts); the Python API takes a checksum table for them.
The CLI tests use the real, published checksums: a file that is not the original is refused,
and the real MNIST test files (when the shared copy exists) are accepted.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import hashlib
import http.server
import io
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from support import MNIST_DIR, REPO, assert_one_line_error, files_under, idx_bytes, run_cli

from memxbar.runtime.data import fetch as fetch_module
from memxbar.runtime.data.catalog import CATALOG, DataSource, RemoteFile
from memxbar.runtime.data.fetch import fetch, list_data
from memxbar.runtime.data.home import default_data_dir
from memxbar.runtime.data.images import load_cifar10_arrays, load_stl10_arrays
from memxbar.runtime.data.inventory import MANIFEST, mismatch
from memxbar.runtime.data.mnist import load_mnist_arrays

# -- the local server -------------------------------------------------------------------------


@dataclasses.dataclass
class Server:
    folder: Path  # what it serves
    url: str  # its base URL, ending in '/'
    requests: list[str]  # paths of the GET requests it answered


@pytest.fixture
def server(tmp_path):
    folder = tmp_path / "served"
    folder.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(folder), **kwargs)

        def do_GET(self):
            requests.append(self.path)
            super().do_GET()

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield Server(folder, f"http://127.0.0.1:{httpd.server_port}/", requests)
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# -- fixture data sets ------------------------------------------------------------------------


def write_mnist(folder: Path, rng) -> tuple[DataSource, dict[str, np.ndarray]]:
    """Tiny IDX files under the official names, served by ``folder``; their catalog entry."""
    arrays = {  # in the order of the real catalog
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (4, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, 4),
        "train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, 6),
    }
    files = []
    for name, array in arrays.items():
        data = gzip.compress(idx_bytes(array), mtime=0)
        (folder / f"{name}.gz").write_bytes(data)
        files.append(RemoteFile(f"{name}.gz", sha256(data), len(data)))
    source = dataclasses.replace(CATALOG["mnist"], files=tuple(files), mirrors=("unused/",))
    return source, arrays


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def cifar_members(rng) -> tuple[dict[str, bytes], np.ndarray]:
    """The python-version layout: five training batches and a test batch, 2 images each."""
    members, labels = {}, []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch_labels = rng.integers(0, 10, 2).tolist()
        labels.append(batch_labels)
        batch = {b"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8), b"labels": batch_labels}
        members[f"cifar-10-batches-py/{name}"] = pickle.dumps(batch, protocol=2)
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps({b"num_cases_per_batch": 2})
    return members, np.array(labels)


def stl_members(rng) -> tuple[dict[str, bytes], np.ndarray]:
    members, test_labels = {}, None
    for split, n in (("train", 3), ("test", 2)):
        images = rng.integers(0, 256, n * 27648).astype(np.uint8)
        members[f"stl10_binary/{split}_X.bin"] = images.tobytes()
        labels = rng.integers(1, 11, n).astype(np.uint8)
        members[f"stl10_binary/{split}_y.bin"] = labels.tobytes()
        test_labels = labels
    members["stl10_binary/class_names.txt"] = b"airplane\nbird\n"
    return members, test_labels


def archive_source(name: str, data: bytes) -> DataSource:
    remote = CATALOG[name].files[0]
    files = (RemoteFile(remote.name, sha256(data), len(data)),)
    return dataclasses.replace(CATALOG[name], files=files, mirrors=("unused/",))


# -- success: files land, loaders read them, a second fetch downloads nothing -----------------


def test_mnist_lands_in_the_default_folder_where_the_loader_finds_it(server, no_data_env):
    source, arrays = write_mnist(server.folder, np.random.default_rng(0))
    catalog = {"mnist": source}
    lines: list[str] = []

    folder = fetch("mnist", mirror=server.url, catalog=catalog, progress=False, log=lines.append)

    assert folder == default_data_dir() / "mnist"
    assert sorted(files_under(default_data_dir())) == sorted(f"mnist/{n}.gz" for n in arrays)
    assert sorted(server.requests) == sorted(f"/{n}.gz" for n in arrays)
    assert sum("sha256 verified" in line for line in lines) == 4
    # The loaders find it with no folder given (neither the job, --data-dir nor MEMXBAR_DATA).
    x_train, y_train, x_test, y_test = load_mnist_arrays(None)
    np.testing.assert_array_equal(y_train, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(y_test, arrays["t10k-labels-idx1-ubyte"])
    np.testing.assert_array_equal(
        np.rint(x_test * 255).astype(np.uint8), arrays["t10k-images-idx3-ubyte"].reshape(4, 784)
    )
    assert x_train.shape == (6, 784)

    server.requests.clear()
    lines.clear()
    assert fetch("mnist", mirror=server.url, catalog=catalog, progress=False, log=lines.append)
    assert server.requests == []
    assert lines == [f"{folder}: MNIST already present (4 files, sha256 verified)"]

    # One file gone: only that one is downloaded again.
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    fetch("mnist", mirror=server.url, catalog=catalog, progress=False, log=lines.append)
    assert server.requests == ["/t10k-labels-idx1-ubyte.gz"]


def test_the_progress_bar_shows_each_file_on_stderr(server, tmp_path, capsys):
    source, _ = write_mnist(server.folder, np.random.default_rng(1))
    fetch("mnist", tmp_path / "d", mirror=server.url, catalog={"mnist": source}, progress=True)
    err = capsys.readouterr().err
    for name in ("train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        assert name in err
    assert "100%" in err


@pytest.mark.parametrize("name", ["cifar10", "stl10"])
def test_archives_unpack_into_the_loaders_layout_and_are_not_fetched_twice(
    server, tmp_path, no_data_env, name
):
    rng = np.random.default_rng(2)
    members, labels = cifar_members(rng) if name == "cifar10" else stl_members(rng)
    data = tar_gz(members)
    source = archive_source(name, data)
    (server.folder / source.files[0].name).write_bytes(data)
    root = tmp_path / "data"

    folder = fetch(name, root, mirror=server.url, catalog={name: source}, progress=False)

    assert folder == root / source.folder
    expected = sorted(members) + [f"{source.folder}/{MANIFEST}"]
    assert sorted(files_under(root)) == sorted(expected)  # the archive itself was deleted
    for member, content in members.items():
        assert (root / member).read_bytes() == content
    if name == "cifar10":
        _, y_train, _, y_test = load_cifar10_arrays(str(root))
        np.testing.assert_array_equal(y_train, labels[:5].ravel())
        np.testing.assert_array_equal(y_test, labels[5])
    else:
        _, _, x_test, y_test = load_stl10_arrays(str(root))
        np.testing.assert_array_equal(y_test, labels.astype(np.int32) - 1)
        assert x_test.shape == (2, 27648)

    _, (presence,) = list_data(root, catalog={name: source})
    assert presence.state == "complete"
    assert presence.detail == f"{len(members)} files from {source.files[0].name}, sha256 verified"
    server.requests.clear()
    fetch(name, root, mirror=server.url, catalog={name: source}, progress=False)
    assert server.requests == []


# -- refusals ---------------------------------------------------------------------------------


def test_a_file_that_is_not_the_published_one_is_refused_and_deleted(server, tmp_path):
    # Real checksums: a tiny IDX file served as the official test labels is refused.
    fake = gzip.compress(idx_bytes(np.zeros(3, np.uint8)), mtime=0)
    (server.folder / "t10k-images-idx3-ubyte.gz").write_bytes(fake)
    published = CATALOG["mnist"].files[0]
    root = tmp_path / "data"

    result = run_cli("data", "fetch", "mnist", "--dir", str(root), "--mirror", server.url)

    assert_one_line_error(
        result.returncode,
        result.stderr,
        f"{server.url}t10k-images-idx3-ubyte.gz",
        "checksum mismatch",
        f"sha256 {sha256(fake)}, expected {published.sha256}",
        f"expected {published.content_sha256}",
        "deleted",
    )
    assert files_under(root) == {}  # no partial or temporary file


def test_an_unknown_mirror_scheme_and_a_bad_data_set_name_are_refused(tmp_path):
    result = run_cli("data", "fetch", "mnist", "--dir", str(tmp_path), "--mirror", "ftp://x/")
    assert_one_line_error(result.returncode, result.stderr, "--mirror", "ftp://x/")
    result = run_cli("data", "fetch", "mnist2", "--dir", str(tmp_path))
    assert result.returncode == 2 and "invalid choice: 'mnist2'" in result.stderr
    assert files_under(tmp_path) == {}


def test_http_404_and_a_server_that_is_down_are_one_line_naming_the_url(server, tmp_path):
    root = tmp_path / "data"
    result = run_cli("data", "fetch", "cifar10", "--dir", str(root), "--mirror", server.url)
    url = f"{server.url}cifar-10-python.tar.gz"
    assert_one_line_error(result.returncode, result.stderr, url, "HTTP 404")

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    down = f"http://127.0.0.1:{port}/"
    result = run_cli("data", "fetch", "mnist", "--dir", str(root), "--mirror", down)
    assert_one_line_error(
        result.returncode, result.stderr, f"{down}t10k-images-idx3-ubyte.gz", "refused"
    )
    assert files_under(root) == {}


def test_the_next_mirror_is_tried_when_one_fails(server, tmp_path):
    source, _ = write_mnist(server.folder, np.random.default_rng(3))
    source = dataclasses.replace(source, mirrors=(server.url + "missing/", server.url))
    lines: list[str] = []
    fetch("mnist", tmp_path, catalog={"mnist": source}, progress=False, log=lines.append)
    assert sorted(files_under(tmp_path / "mnist")) == sorted(f.name for f in source.files)
    assert f"downloading {server.url}missing/t10k-images-idx3-ubyte.gz" in lines
    # Every mirror failing: one error naming every URL tried.
    source = dataclasses.replace(source, mirrors=(server.url + "a/", server.url + "b/"))
    shutil.rmtree(tmp_path / "mnist")
    with pytest.raises(OSError) as err:
        fetch("mnist", tmp_path, catalog={"mnist": source}, progress=False, log=lines.append)
    message = str(err.value)
    assert message.startswith("cannot download t10k-images-idx3-ubyte.gz: ")
    assert f"{server.url}a/t10k-images-idx3-ubyte.gz: HTTP 404" in message
    assert f"{server.url}b/t10k-images-idx3-ubyte.gz: HTTP 404" in message


def link_member(name: str, kind: bytes, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


@pytest.mark.parametrize(
    "bad",
    [
        "cifar-10-batches-py/../../escaped",
        "/tmp/escaped",
        "elsewhere/escaped",
        ("cifar-10-batches-py/link", tarfile.SYMTYPE, "/etc/passwd"),
        ("cifar-10-batches-py/hard", tarfile.LNKTYPE, "cifar-10-batches-py/test_batch"),
        ("cifar-10-batches-py/fifo", tarfile.FIFOTYPE, ""),
    ],
    ids=["dot-dot", "absolute", "outside top folder", "symlink", "hard link", "fifo"],
)
def test_an_archive_member_outside_the_folder_or_not_a_regular_file_is_refused(
    server, tmp_path, bad
):
    members, _ = cifar_members(np.random.default_rng(4))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in list(members.items())[:3]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        if isinstance(bad, str):
            info = tarfile.TarInfo(bad)
            info.size = 4
            tar.addfile(info, io.BytesIO(b"evil"))
            shown = bad
        else:
            tar.addfile(link_member(*bad))
            shown = bad[0]
    data = buffer.getvalue()
    source = archive_source("cifar10", data)  # its checksum matches: the unpacker must refuse
    (server.folder / "cifar-10-python.tar.gz").write_bytes(data)
    root = tmp_path / "deep" / "data"

    with pytest.raises(ValueError, match="refused member") as err:
        fetch("cifar10", root, mirror=server.url, catalog={"cifar10": source}, progress=False)

    assert str(err.value).startswith(f"{root / 'cifar-10-python.tar.gz'}: refused member ")
    assert repr(shown) in str(err.value)
    assert files_under(tmp_path / "deep") == {}  # nothing unpacked, staging and archive removed
    assert not Path("/tmp/escaped").exists()


def test_an_unwritable_folder_and_a_full_disk_name_the_path(server, tmp_path, monkeypatch):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    result = run_cli("data", "fetch", "mnist", "--dir", str(blocker / "data"))
    assert_one_line_error(
        result.returncode, result.stderr, str(blocker / "data"), "cannot create the data folder"
    )

    source, _ = write_mnist(server.folder, np.random.default_rng(5))
    real_open_part = fetch_module._open_part

    class FullDisk(io.RawIOBase):
        def __init__(self, stream):
            self.stream = stream

        def writable(self):
            return True

        def write(self, data):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.stream.close()
            super().close()

    def open_full(target):
        path, stream = real_open_part(target)
        return path, FullDisk(stream)

    monkeypatch.setattr(fetch_module, "_open_part", open_full)
    root = tmp_path / "data"
    with pytest.raises(OSError) as err:
        fetch("mnist", root, mirror=server.url, catalog={"mnist": source}, progress=False)
    target = root / "mnist" / "t10k-images-idx3-ubyte.gz"
    assert str(err.value) == f"{target}: cannot write (No space left on device)"
    assert files_under(root) == {}


def test_ctrl_c_during_a_download_leaves_no_partial_file_and_exits_130(tmp_path):
    """SIGINT to the CLI while it is receiving a file: exit 130, no .part file left."""
    sent_some = threading.Event()
    release = threading.Event()

    class SlowHandler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(10**7))
            self.end_headers()
            self.wfile.write(b"\0" * 65536)
            self.wfile.flush()
            sent_some.set()
            release.wait(30)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SlowHandler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    root = tmp_path / "data"
    try:
        process = subprocess.Popen(
            [sys.executable, "-m", "memxbar.cli", "data", "fetch", "mnist", "--dir", str(root)]
            + ["--mirror", f"http://127.0.0.1:{httpd.server_port}/"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert sent_some.wait(60), "the CLI never requested the file"
        deadline = time.monotonic() + 30
        while not list((root / "mnist").glob(".*.part")) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert list((root / "mnist").glob(".*.part")), "no temporary file while downloading"
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        release.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join()
    assert process.returncode == 130, err
    assert err.strip() == "memxbar: interrupted: no partial file was kept"
    assert files_under(root) == {}


# -- checksums --------------------------------------------------------------------------------


def test_a_recompressed_gzip_is_accepted_by_its_content_and_a_bomb_is_not_inflated(tmp_path):
    content = idx_bytes(np.arange(100) % 10)
    original = gzip.compress(content, compresslevel=9, mtime=0)
    remote = RemoteFile("x.gz", sha256(original), len(original), sha256(content), len(content))
    path = tmp_path / "x.gz"

    path.write_bytes(original)
    assert mismatch(path, remote) is None
    path.write_bytes(gzip.compress(content, compresslevel=1, mtime=12345))  # other gzip bytes
    assert mismatch(path, remote) is None
    path.write_bytes(gzip.compress(content[:-1] + b"\x07", mtime=0))  # other data
    problem = mismatch(path, remote)
    assert problem.startswith(f"sha256 {sha256(path.read_bytes())}, expected {remote.sha256}; ")
    assert f"expected {remote.content_sha256}" in problem
    path.write_bytes(gzip.compress(content + bytes(10**6), mtime=0))  # larger than published
    assert "larger than published" in mismatch(path, remote)
    path.write_bytes(content)  # not gzip at all
    assert "not gzip" in mismatch(path, remote)


@pytest.mark.skipif(
    not (MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason=f"needs the official MNIST test files in {MNIST_DIR} (not shipped with the repository)",
)
def test_the_real_mnist_test_files_pass_the_published_checksums(server, tmp_path):
    # The shared copies were recompressed (their gzip bytes differ from the published ones), so
    # they pass on the published SHA-256 of their content: the original IDX bytes.
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(MNIST_DIR / name, server.folder / name)
    root = tmp_path / "data"

    result = run_cli("data", "fetch", "mnist", "--dir", str(root), "--mirror", server.url)

    # The training files are not served: the fetch stops there, with the test files verified.
    assert_one_line_error(
        result.returncode, result.stderr, f"{server.url}train-images-idx3-ubyte.gz: HTTP 404"
    )
    assert sorted(files_under(root)) == [
        f"mnist/t10k-{n}-idx{d}-ubyte.gz" for n, d in (("images", 3), ("labels", 1))
    ]
    assert result.stdout.count("sha256 verified") == 2
    listed = run_cli("data", "list", "--dir", str(root))
    assert listed.returncode == 0, listed.stderr
    mnist_line = next(line for line in listed.stdout.splitlines() if line.startswith("mnist "))
    assert mnist_line.split()[1] == "incomplete"
    assert "missing train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in mnist_line


# -- data list and help -----------------------------------------------------------------------


def test_data_list_says_what_the_folder_holds(tmp_path):
    root = tmp_path / "data"
    (root / "mnist").mkdir(parents=True)
    (root / "mnist" / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"not mnist"))
    (root / "cifar-10-batches-py").mkdir()
    for name in CATALOG["cifar10"].needed:  # unpacked by hand: no manifest
        (root / "cifar-10-batches-py" / name).write_bytes(b"x")
    (root / "stl10_binary").mkdir()
    (root / "stl10_binary" / "train_X.bin").write_bytes(b"x")

    result = run_cli("data", "list", "--dir", str(root))

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"data folder: {root}"
    rows = {line.split()[0]: line for line in lines[1:]}
    assert rows["mnist"].split()[1:3] == ["corrupt", "mnist/"]
    assert "checksum mismatch: t10k-labels-idx1-ubyte.gz" in rows["mnist"]
    assert rows["cifar10"].split()[1:3] == ["unverified", "cifar-10-batches-py/"]
    assert "checksum not verified" in rows["cifar10"]
    assert rows["stl10"].split()[1] == "incomplete"
    assert "missing train_y.bin, test_X.bin, test_y.bin" in rows["stl10"]
    assert f"(memxbar data fetch stl10 --dir {root})" in rows["stl10"]


def test_data_list_of_the_default_folder_and_the_help_name_it(no_data_env, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # argparse would break the long path across lines
    result = run_cli("data", "list")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"data folder: {default_data_dir()}",
        "mnist    absent      mnist/                 no files (memxbar data fetch mnist)",
        "cifar10  absent      cifar-10-batches-py/   no files (memxbar data fetch cifar10)",
        "stl10    absent      stl10_binary/          no files (memxbar data fetch stl10)",
    ]
    help_text = " ".join(run_cli("data", "fetch", "--help").stdout.split())
    assert str(default_data_dir()) in help_text
    assert "$MEMXBAR_DATA if set" in help_text and "$MEMXBAR_DATA_MIRROR" in help_text
    assert "SHA-256" in help_text


def test_loader_errors_say_which_fetch_command_gets_the_data(tmp_path, no_data_env):
    with pytest.raises(ValueError) as err:
        load_mnist_arrays(None)
    assert "`memxbar data fetch mnist`" in str(err.value)
    assert str(default_data_dir()) in str(err.value)
    with pytest.raises(ValueError) as err:
        load_stl10_arrays(str(tmp_path))
    assert f"`memxbar data fetch stl10 --dir {tmp_path}` downloads it there" in str(err.value)
