"""datasets.fashion_mnist: where the four idx files come from (data folder, cache, canonical URL,
Debian's installed package, Debian's archive), that each is pinned by its decompressed bytes,
what happens to a corrupt cache, and the error when nothing works."""

import gzip
import hashlib
import pathlib
import struct

import numpy as np
import pytest

from datasets import _download, fashion_mnist
from datasets.__main__ import main as datasets_main


def idx_bytes(array: np.ndarray) -> bytes:
    header = b"\x00\x00\x08" + bytes([array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """Tiny stand-ins for the four files, pinned like the real ones, and three empty sources: a
    canonical 'URL' (a file:// folder), an installed-package folder, and no Debian archive."""
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (6, 28, 28)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, 6),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (3, 28, 28)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, 3)}
    contents = {name: idx_bytes(array) for name, array in arrays.items()}
    monkeypatch.setattr(fashion_mnist, "IDX_FILES", {
        name: (hashlib.sha256(data).hexdigest(), len(data)) for name, data in contents.items()})
    cache, url_folder, installed = tmp_path / "cache", tmp_path / "url", tmp_path / "installed"
    url_folder.mkdir()
    installed.mkdir()
    monkeypatch.setenv(_download.CACHE_VARIABLE, str(cache))
    monkeypatch.delenv(_download.DATA_VARIABLE, raising=False)
    monkeypatch.setattr(fashion_mnist, "CANONICAL_BASE_URL", url_folder.as_uri() + "/")
    monkeypatch.setattr(fashion_mnist, "DEBIAN_FOLDER", installed)
    monkeypatch.setattr(fashion_mnist, "DEBIAN_PACKAGE", "no-such-package-for-the-seminar-tests")
    fashion_mnist._load_cached.cache_clear()
    yield {"arrays": arrays, "contents": contents, "cache": cache, "url": url_folder,
           "installed": installed}
    fashion_mnist._load_cached.cache_clear()


def put_gz(folder: pathlib.Path, contents: dict, level: int) -> None:
    for name, data in contents.items():
        (folder / f"{name}.gz").write_bytes(gzip.compress(data, compresslevel=level, mtime=level))


def loaded_matches(arrays) -> bool:
    fashion_mnist._load_cached.cache_clear()
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load()
    return all(np.array_equal(a, arrays[n]) for a, n in zip(
        (x_train, y_train, x_test, y_test), fashion_mnist.IDX_FILES))


def test_from_the_canonical_url_decompressed_into_the_cache(fake):
    put_gz(fake["url"], fake["contents"], level=9)
    assert loaded_matches(fake["arrays"])
    for name, (sha256, _) in fashion_mnist.IDX_FILES.items():
        assert _download.sha256_of(fake["cache"] / name) == sha256
    assert not [p for p in fake["cache"].iterdir() if p.name.startswith(".")]  # no temporaries


def test_debian_recompressed_files_are_accepted_by_their_decompressed_hash(fake):
    put_gz(fake["installed"], fake["contents"], level=1)  # other .gz bytes, same idx bytes
    assert gzip.compress(b"x", compresslevel=1, mtime=1) != gzip.compress(b"x", compresslevel=9, mtime=9)
    assert loaded_matches(fake["arrays"])


def test_a_source_with_other_content_is_refused_and_the_next_one_used(fake):
    altered = dict(fake["contents"])
    altered["t10k-labels-idx1-ubyte"] = idx_bytes((fake["arrays"]["t10k-labels-idx1-ubyte"] + 1) % 10)
    put_gz(fake["url"], altered, level=9)  # the first source serves a wrong test-label file
    put_gz(fake["installed"], fake["contents"], level=1)
    assert loaded_matches(fake["arrays"])


def test_a_corrupt_cached_file_is_replaced(fake, capsys):
    put_gz(fake["url"], fake["contents"], level=9)
    fake["cache"].mkdir()
    (fake["cache"] / "train-labels-idx1-ubyte").write_bytes(b"garbage")
    (fake["cache"] / "t10k-images-idx3-ubyte").mkdir()  # a folder squatting on the name
    assert loaded_matches(fake["arrays"])
    assert (fake["cache"] / "t10k-images-idx3-ubyte").is_file()


def test_the_data_folder_comes_first_and_is_never_modified(fake, tmp_path, monkeypatch):
    usb = tmp_path / "usb"
    usb.mkdir()
    for name, data in fake["contents"].items():
        (usb / name).write_bytes(data)
    monkeypatch.setenv(_download.DATA_VARIABLE, str(usb))
    assert loaded_matches(fake["arrays"])  # no source holds anything: the data folder served
    assert not fake["cache"].exists() or not any(fake["cache"].iterdir())


@pytest.mark.slow
def test_nothing_available_says_what_was_tried_and_what_to_do(fake):
    fashion_mnist._load_cached.cache_clear()
    with pytest.raises(_download.DatasetUnavailable) as raised:
        fashion_mnist.load()
    message = str(raised.value)
    assert "fashion-mnist" in message
    for source in (fake["url"].as_uri(), str(fake["installed"]), "apt-get download"):
        assert source in message
    assert "python -m datasets fetch fashion-mnist --to DIR" in message


def test_fetch_all_to_a_folder_then_use_it_as_the_data_folder(fake, tmp_path, monkeypatch, capsys):
    put_gz(fake["installed"], fake["contents"], level=6)
    usb = tmp_path / "usb"
    monkeypatch.setattr("datasets.__main__.DATASETS", {"fashion-mnist": fashion_mnist.fetch})
    assert datasets_main(["fetch", "all", "--to", str(usb)]) == 0
    assert sorted(p.name for p in usb.iterdir()) == sorted(fashion_mnist.IDX_FILES)
    assert f"SEMINAR_DATA_DIR={usb.resolve()}" in capsys.readouterr().out
    for path in fake["installed"].iterdir():
        path.unlink()
    for path in fake["cache"].iterdir():
        path.unlink()
    monkeypatch.setenv(_download.DATA_VARIABLE, str(usb))
    assert loaded_matches(fake["arrays"])


def test_parse_idx_rejects_what_is_not_an_idx_file(tmp_path):
    path = tmp_path / "x"
    path.write_bytes(idx_bytes(np.arange(12).reshape(3, 4)))
    assert fashion_mnist.parse_idx(path).tolist() == np.arange(12).reshape(3, 4).tolist()
    path.write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(ValueError, match="not an idx file"):
        fashion_mnist.parse_idx(path)
    path.write_bytes(idx_bytes(np.arange(12).reshape(3, 4))[:-1])
    with pytest.raises(ValueError, match="data bytes for shape"):
        fashion_mnist.parse_idx(path)


def test_the_real_fashion_mnist_when_this_machine_has_it():
    """The pinned hashes are the real data's, with the canonical counts (6000 and 1000 a class)."""
    installed = all((fashion_mnist.DEBIAN_FOLDER / f"{name}.gz").is_file()
                    for name in fashion_mnist.IDX_FILES)  # .ci/run installs it where it can
    if not installed and any(_download.locate(fashion_mnist.remote_files(name), []) is None
                             for name in fashion_mnist.IDX_FILES):
        pytest.skip("no verified Fashion-MNIST in the cache, $SEMINAR_DATA_DIR or Debian's "
                    "package: run `python -m datasets fetch fashion-mnist` once")
    fashion_mnist._load_cached.cache_clear()
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load()
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.dtype == np.uint8
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
