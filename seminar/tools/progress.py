"""The student's progress file, ``.seminar-progress.json`` at the repository's root: which
exercises pass or fail, which hints were seen, the SHA-256 of the file each check judged (so that
``list`` can say a file changed since) and of the last file that passed (so that a file put back
byte for byte after a failing try counts as passing again). Nothing else in the repository
writes it.

Several commands may run at once (a ``watch`` in one terminal, a ``check`` or ``hint`` in another),
so every change goes through :func:`update_progress`: read, change and write under an exclusive
lock on a file beside the progress file, the write itself atomic. The lock is held for
milliseconds, never while an exercise runs. A corrupt or unreadable file is reported once and
read as empty; it is never overwritten by a read. Something that is not a regular file in its
place (a named pipe, which would block a reader for ever) is reported the same way, never opened,
and never replaced: progress is then not saved.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import pathlib
import sys
import tempfile

from datasets import NotARegularFile, open_regular, regular_file
from seminar.manifest import REPO_ROOT, Exercise, shown_path

PROGRESS_PATH = REPO_ROOT / ".seminar-progress.json"
STATUSES = ("passing", "failing")


try:  # POSIX
    import fcntl
    msvcrt = None
except ModuleNotFoundError:  # Windows
    import msvcrt
    fcntl = None

_warned: set[str] = set()  # each warning once per process, not once per read


def _warn(message: str) -> None:
    if message not in _warned:
        _warned.add(message)
        print(f"warning: {message}", file=sys.stderr, flush=True)


def _empty_progress() -> dict:
    return {"status": {}, "hints_seen": {}}


def _is_valid_progress(data) -> bool:
    """True for what write_progress writes: an object whose "status" maps ids to "passing" or
    "failing", whose "hints_seen" maps ids to counts >= 0, whose "checked" maps ids to the SHA-256
    of the file as it was checked and whose "passed" maps ids to the SHA-256 of the last file that
    passed (each may be missing)."""
    if not isinstance(data, dict):
        return False
    status, hints = data.get("status", {}), data.get("hints_seen", {})
    digests = [data.get("checked", {}), data.get("passed", {})]
    return (isinstance(status, dict) and isinstance(hints, dict)
            and all(isinstance(d, dict) for d in digests)
            and all(isinstance(k, str) and v in STATUSES for k, v in status.items())
            and all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in hints.items())
            and all(isinstance(k, str) and isinstance(v, str) for d in digests for k, v in d.items()))


def _not_regular(path: pathlib.Path, error: NotARegularFile) -> None:
    _warn(f"{shown_path(path)} is {error.kind}, not a regular file; your progress counts as empty "
          f"and is not saved: remove it, and the next check, hint or reset starts a new one")


def read_progress(path: pathlib.Path | None = None) -> dict:
    """The student's ticks and hint counters. A missing file is an empty one; so is a damaged one
    (not JSON, or not the shape written here), with a warning: a bad file must not stop every
    command until someone finds and deletes it. The next update replaces it. A named pipe or
    anything else that is not a regular file counts as empty too, after a warning, without being
    opened (reading a pipe would wait for ever)."""
    path = path or PROGRESS_PATH
    try:
        with open_regular(path, "your progress") as handle:
            raw = handle.read()
    except (FileNotFoundError, NotADirectoryError):  # no progress yet
        return _empty_progress()
    except NotARegularFile as error:
        _not_regular(path, error)
        return _empty_progress()
    except OSError as error:
        _warn(f"cannot read your progress in {shown_path(path)} ({error.strerror or error}); "
              f"starting from none")
        return _empty_progress()
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is a ValueError too
        data = None
    if not _is_valid_progress(data):
        _warn(f"{shown_path(path)} is damaged; your progress counts as empty and the file is "
              f"replaced at the next check, hint or reset")
        return _empty_progress()
    data.setdefault("status", {})
    data.setdefault("hints_seen", {})
    return data


def write_progress(data: dict, path: pathlib.Path | None = None) -> bool:
    """Write atomically (a temporary file, then a rename), so an interrupted write never leaves
    half a file. Returns False, after a one-line warning, when the file cannot be written (a
    read-only repository, a full disk), or when something that is not a regular file is in its
    place (a named pipe: never written into, nor replaced): losing a tick must not hide a check's
    verdict."""
    path = path or PROGRESS_PATH
    try:
        regular_file(path, "your progress")
    except NotARegularFile as error:
        _not_regular(path, error)
        return False
    except OSError:  # no file yet (or none that can be looked at): the write below says
        pass
    temporary = None
    try:
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".progress-", suffix=".tmp",
                                         delete=False, encoding="utf-8") as handle:
            temporary = handle.name
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        _warn(f"your progress was not saved: cannot write {shown_path(path)} "
              f"({error.strerror or error})")
        return False
    return True


def _lock_file(handle) -> None:
    """Block until this process holds the exclusive lock on the open file ``handle``."""
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        return
    handle.seek(0)
    for attempt in range(6):  # Windows: LK_LOCK gives up after about 10 seconds; a minute in all
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK, 1)
            return
        except OSError:
            if attempt == 5:
                raise


def _unlock_file(handle) -> None:
    if fcntl is not None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    else:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)


@contextlib.contextmanager
def progress_lock(path: pathlib.Path | None = None):
    """Hold the exclusive lock on the progress file ``path`` (through ``PATH.lock`` beside it: the
    progress file itself is replaced at each write, so it cannot carry the lock). Yields True, or
    False after a warning when the lock file cannot be opened (a read-only repository): the
    caller then works unlocked, which is all one can do there."""
    path = path or PROGRESS_PATH
    lock_path = path.with_name(path.name + ".lock")
    try:
        handle = open(lock_path, "a+b")
    except OSError as error:
        _warn(f"your progress will not be saved: cannot write {shown_path(lock_path)} "
              f"({error.strerror or error})")
        yield False
        return
    with handle:
        try:
            _lock_file(handle)
        except OSError as error:  # a file system without locks: better unlocked than nothing
            _warn(f"cannot lock {shown_path(lock_path)} ({error.strerror or error}); commands "
                  f"running at the same time may lose each other's progress")
            yield True
            return
        try:
            yield True
        finally:
            _unlock_file(handle)


def update_progress(change, path: pathlib.Path | None = None) -> dict:
    """Apply ``change(progress)`` (it edits the dict in place) to the progress file, read, changed
    and written under the lock, so that two commands running at once never lose each other's
    update. Returns the changed progress, also when it could not be saved (after a warning)."""
    path = path or PROGRESS_PATH
    with progress_lock(path) as locked:
        progress = read_progress(path)
        change(progress)
        if locked:
            write_progress(progress, path)
    return progress


def record_status(exercise_id: str, status: str, path: pathlib.Path | None = None,
                  digest: str | None = None) -> None:
    """Record an exercise's check verdict, "passing" or "failing", in the progress file, and the
    ``digest`` of the file checked, so that ``list`` can tell when it changed since (and, for a
    pass, when a file put back byte for byte is the one that passed)."""
    if status not in STATUSES:
        raise ValueError(f"status must be one of {STATUSES}, not {status!r}")

    def change(progress: dict) -> None:
        progress["status"][exercise_id] = status
        if digest is not None:
            progress.setdefault("checked", {})[exercise_id] = digest
            if status == "passing":
                progress.setdefault("passed", {})[exercise_id] = digest

    update_progress(change, path)


def file_digest(path: pathlib.Path) -> str | None:
    """SHA-256 of a file's bytes (None if it cannot be read, or is not a regular file: a named
    pipe is not opened)."""
    try:
        with open_regular(path, "the file") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError:
        return None


def verdict(exercise: Exercise, progress: dict) -> tuple[str, bool]:
    """``(state, changed)`` of an exercise, judged on the student's file's bytes, never on its
    times: the state is "not started", "passing" or "failing", that of the last check, or
    "passing" when the file is byte for byte the last one that passed (put back after a failing
    try); ``changed`` is whether the file differs from the one the last check judged (and from the
    one that passed), i.e. whether the verdict is stale."""
    status = progress["status"].get(exercise.id)
    if status is None:
        return "not started", False
    checked = progress.get("checked", {}).get(exercise.id)
    passed = progress.get("passed", {}).get(exercise.id)
    if checked is None:  # recorded without a digest: nothing to compare with
        return status, False
    digest = file_digest(exercise.exercise_path)
    if digest == checked:
        return status, False
    if digest is not None and digest == passed:
        return "passing", False
    return status, True


def status_of(exercise: Exercise, progress: dict) -> str:
    """"not started", "passing" or "failing" (see :func:`verdict`)."""
    return verdict(exercise, progress)[0]


def changed_since_check(exercise: Exercise, progress: dict) -> bool:
    """Whether the student's file differs from the one its last check judged (and from the last
    one that passed)."""
    return verdict(exercise, progress)[1]
