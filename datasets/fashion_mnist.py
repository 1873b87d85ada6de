"""Fashion-MNIST: 70000 photographs of clothes, 28x28 grayscale, ten classes, MNIST's format.

``load()`` returns the same arrays as ``keras.datasets.fashion_mnist.load_data()``. The data are
four idx files (train and test images and labels). The cache keeps them decompressed, each pinned
by the sha256 of its idx bytes: the compressed files differ from one source to another (Debian
recompressed them), the bytes inside do not. For each file ``load()`` looks, in order, in
``$SEMINAR_DATA_DIR``, in the cache, at Keras's canonical URL, in Debian's package
``dataset-fashion-mnist`` when it is installed (``apt install dataset-fashion-mnist``), and at that
package in Debian's archive (``apt-get download``, unpacked with ``dpkg-deb``, never installed) on
Debian-like machines that reach only the operating system's package mirror.
"""

from __future__ import annotations

import functools
import gzip
import pathlib
import shutil
import struct
import subprocess
import tarfile
import tempfile
import time

import numpy as np

from datasets import _download

CANONICAL_BASE_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
DEBIAN_PACKAGE = "dataset-fashion-mnist"
DEBIAN_FOLDER = pathlib.Path("/usr/share/datasets/fashion-mnist")  # where the package puts them

NUM_TRAIN, NUM_TEST, SIDE = 60000, 10000, 28
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot")

# The idx files, decompressed: sha256 of their bytes and their size.
IDX_FILES = {
    "train-images-idx3-ubyte": ("c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888", 47040016),
    "train-labels-idx1-ubyte": ("bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9", 60008),
    "t10k-images-idx3-ubyte": ("5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b", 7840016),
    "t10k-labels-idx1-ubyte": ("0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34", 10008),
}
# apt-get, like every download, waits at most STALL_SECONDS for an answer and does not retry (by
# default it waits longer, and retries).
APT_OPTIONS = ["-o", f"Acquire::http::Timeout={_download.STALL_SECONDS:g}",
               "-o", f"Acquire::https::Timeout={_download.STALL_SECONDS:g}",
               "-o", "Acquire::Retries=0"]


def _decompress_into(source: pathlib.Path, destination: pathlib.Path, sha256: str) -> pathlib.Path:
    """Write the decompressed bytes of ``source`` (a .gz) to ``destination`` atomically, only if
    they have the pinned hash."""
    with _download.atomic_destination(destination, sha256) as temporary:
        with _download.open_regular(source, "the compressed Fashion-MNIST file") as raw, \
                gzip.GzipFile(fileobj=raw) as compressed, open(temporary, "wb") as out:
            shutil.copyfileobj(compressed, out, _download.CHUNK_BYTES)
    return destination


def _from_canonical_url(name: str, destination: pathlib.Path) -> pathlib.Path:
    sha256, _ = IDX_FILES[name]
    with tempfile.TemporaryDirectory(dir=destination.parent,
                                     prefix=_download.temporary_prefix("fashion")) as folder:
        compressed = pathlib.Path(folder) / f"{name}.gz"
        # The compressed bytes are not pinned (sources differ); what they decompress to is.
        _download.download_url(CANONICAL_BASE_URL + f"{name}.gz", compressed, None)
        return _decompress_into(compressed, destination, sha256)


def _from_installed_package(name: str, destination: pathlib.Path) -> pathlib.Path:
    source = DEBIAN_FOLDER / f"{name}.gz"
    try:
        _download.regular_file(source, "the installed package's file")
    except FileNotFoundError:
        raise FileNotFoundError(f"{source} is not there (the package is not installed: "
                                f"`sudo apt install {DEBIAN_PACKAGE}` on Debian or Ubuntu)") from None
    return _decompress_into(source, destination, IDX_FILES[name][0])


def _run(command: list[str], folder: pathlib.Path, deadline: float,
         **kwargs) -> subprocess.CompletedProcess:
    """Run ``command`` in ``folder``, stopped (and killed) at ``deadline`` (``time.monotonic``)."""
    seconds = max(deadline - time.monotonic(), 1.0)
    shown = " ".join(part for part in command if part not in APT_OPTIONS)
    try:
        return subprocess.run(command, cwd=folder, check=True, timeout=seconds, **kwargs)
    except FileNotFoundError:
        raise OSError(f"`{command[0]}` is not available (not a Debian-like system)") from None
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"`{shown}` did not finish within {_download.SOURCE_SECONDS:g} s: "
                           f"given up") from None
    except subprocess.CalledProcessError as error:
        detail = (error.stderr or b"").decode(errors="replace").strip().splitlines()
        line = detail[-1] if detail else str(error)
        if "timed out" in "\n".join(detail).lower():  # apt's own wait for the mirror ran out
            raise TimeoutError(f"`{shown}`: no answer within {_download.STALL_SECONDS:g} s: "
                               f"{line}") from None
        raise OSError(f"`{shown}` failed: {line}") from None


def _from_debian_archive(name: str, destination: pathlib.Path) -> pathlib.Path:
    """``apt-get download`` the package (no root needed, nothing installed) and decompress the
    idx files out of its data archive into the cache: all four, as one download holds them, each
    written only if its bytes have the pinned hash. Nothing is written under the archive's paths.
    Both commands together are stopped after ``SOURCE_SECONDS``."""
    deadline = time.monotonic() + _download.SOURCE_SECONDS
    with tempfile.TemporaryDirectory(dir=destination.parent,
                                     prefix=_download.temporary_prefix("deb")) as folder:
        folder = pathlib.Path(folder)
        _run(["apt-get", *APT_OPTIONS, "download", "-q", DEBIAN_PACKAGE], folder, deadline,
             capture_output=True)
        packages = sorted(folder.glob(f"{DEBIAN_PACKAGE}_*.deb"))
        if len(packages) != 1:
            raise OSError(f"apt-get download {DEBIAN_PACKAGE} gave {len(packages)} packages")
        tar_path = folder / "data.tar"
        with open(tar_path, "wb") as out:
            _run(["dpkg-deb", "--fsys-tarfile", str(packages[0])], folder, deadline, stdout=out,
                 stderr=subprocess.PIPE)
        with tarfile.open(tar_path) as archive:
            for other in [name, *(n for n in IDX_FILES if n != name)]:
                target = destination.parent / other
                if other != name and _download.is_verified(target, IDX_FILES[other][0]):
                    continue
                member = f"./usr/share/datasets/fashion-mnist/{other}.gz"
                try:
                    source = archive.extractfile(member)
                    if source is None:
                        raise KeyError(member)
                    compressed = folder / f"{other}.gz"  # our own path, not the archive's
                    with source, open(compressed, "wb") as out:
                        shutil.copyfileobj(source, out, _download.CHUNK_BYTES)
                    _decompress_into(compressed, target, IDX_FILES[other][0])
                except (KeyError, OSError, ValueError) as error:
                    if other == name:
                        raise OSError(f"{packages[0].name}: {member}: {error}") from None
                    # Another file's trouble is reported when that file is asked for.
    return destination


def remote_files(name: str) -> list[_download.RemoteFile]:
    """The sources of one idx file, in the order they are tried after the data folder and cache."""
    sha256, _ = IDX_FILES[name]
    return [
        _download.RemoteFile(name, sha256, CANONICAL_BASE_URL + f"{name}.gz",
                             functools.partial(_from_canonical_url, name)),
        _download.RemoteFile(name, sha256, f"Debian's installed package ({DEBIAN_FOLDER})",
                             functools.partial(_from_installed_package, name)),
        _download.RemoteFile(name, sha256, f"Debian's archive (apt-get download {DEBIAN_PACKAGE})",
                             functools.partial(_from_debian_archive, name)),
    ]


def parse_idx(path: pathlib.Path) -> np.ndarray:
    """Read an idx file (unsigned bytes): a big-endian header with the magic number 0x0000080N
    (N dimensions), N sizes, then the data. A named pipe or anything else that is not a regular
    file raises :class:`datasets._download.NotARegularFile` without being read."""
    with _download.open_regular(path, "the Fashion-MNIST file") as handle:
        data = handle.read()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":
        raise ValueError(f"{path}: not an idx file of unsigned bytes")
    dimensions = data[3]
    header = 4 + 4 * dimensions
    shape = struct.unpack(f">{dimensions}I", data[4:header])
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(f"{path}: {len(data) - header} data bytes for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def obtain(name: str) -> pathlib.Path:
    """A verified copy of one idx file (see :func:`load` for where it is looked for)."""
    _, path = _download.obtain(remote_files(name), "fashion-mnist")
    return path


@functools.lru_cache(maxsize=1)
def _load_cached(data_variable: str | None, cache_variable: str):
    arrays = {name: parse_idx(obtain(name)) for name in IDX_FILES}
    return ((arrays["train-images-idx3-ubyte"], arrays["train-labels-idx1-ubyte"]),
            (arrays["t10k-images-idx3-ubyte"], arrays["t10k-labels-idx1-ubyte"]))


def load():
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes (60000, 28, 28),
    (60000,), (10000, 28, 28), (10000,), pixels 0..255, labels 0..9 (names in
    :data:`CLASS_NAMES`), in the canonical order.

    Raises ``datasets.DatasetUnavailable`` with what was tried and what to do when a file cannot be
    found or fetched with its pinned hash. The files are read once per process; callers get copies.
    """
    key = (str(_download.data_dir()), str(_download.cache_dir()))
    (x_train, y_train), (x_test, y_test) = _load_cached(*key)
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())


def fetch(to: pathlib.Path | None = None) -> pathlib.Path:
    """Make sure the four verified idx files are in the cache; with ``to``, copy them there too
    (for ``$SEMINAR_DATA_DIR``). Return the folder holding them."""
    advice = "choose a folder you can write to for the copy"
    if to is not None:
        to = pathlib.Path(to)
        try:
            _download.ensure_writable(to)
        except _download.FolderNotWritable as error:
            raise _download.FolderNotWritable(to, error.reason, f"{error}; {advice}") from None
    paths = {name: obtain(name) for name in IDX_FILES}
    if to is None:
        return next(iter(paths.values())).parent
    for name, path in paths.items():
        try:
            _download.copy_verified(path, to / name, IDX_FILES[name][0])
        except OSError as error:
            reason = _download.describe(error)
            raise _download.FolderNotWritable(to, reason, f"cannot write {to / name}: {reason}; "
                                                          f"{advice}") from None
    return to
