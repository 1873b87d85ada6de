"""The room's state, in one SQLite file (``room.sqlite3`` in the room's data folder).

What is kept: the room's code, the instructor's key and the projector's key (made once, so that a
restarted room keeps them); the students, each with the tokens it joined with (only the SHA-256 of
a token is kept: a copy of the file does not let anyone post as a student); every record a check
sent; and, per student and exercise, the state the dashboard shows (computed from the records in
the same transaction that stores one).

Durability: the database runs in WAL mode with ``synchronous=FULL``, and a record is acknowledged
only after the transaction that stored it committed, so a server killed at any moment loses no
acknowledged record. Writes go through one thread (:class:`Writer`) that commits whatever arrived
meanwhile in one transaction (group commit: one disk sync for many records), each change in a
savepoint of its own so that one refused change does not undo the others. Reads (the dashboard)
use a connection per thread and never wait for the writer (WAL).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import json
import os
import pathlib
import queue
import secrets
import sqlite3
import threading
import time

DATABASE_NAME = "room.sqlite3"

# The room code students type: 6 characters from an alphabet without the ones read or written
# alike (0/O, 1/I/L): 31^6 = 887 million codes; joining is rate-limited per network address.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6

SCHEMA = """
CREATE TABLE IF NOT EXISTS settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS students (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL,              -- the name case-folded: one active student per name
    joined_at REAL NOT NULL,
    left_at REAL                         -- NULL while in the room
);
CREATE INDEX IF NOT EXISTS students_by_name ON students (name_key);
CREATE TABLE IF NOT EXISTS tokens (
    id INTEGER PRIMARY KEY,
    student_id INTEGER NOT NULL REFERENCES students (id),
    token_hash TEXT NOT NULL UNIQUE,     -- SHA-256 of the token, never the token
    created_at REAL NOT NULL,
    revoked_at REAL                      -- set by `leave`: the token is refused from then on
);
CREATE TABLE IF NOT EXISTS records (
    id INTEGER PRIMARY KEY,
    student_id INTEGER NOT NULL REFERENCES students (id),
    token_id INTEGER NOT NULL REFERENCES tokens (id),
    seq INTEGER NOT NULL,                -- the client's number for it: a replay is stored once
    exercise TEXT NOT NULL,
    passed INTEGER NOT NULL,
    kind TEXT NOT NULL,
    cause TEXT,
    metrics TEXT NOT NULL,               -- JSON: {metric: value}
    hints INTEGER NOT NULL,
    checked_at REAL NOT NULL,            -- when the check ended, on the server's clock
    received_at REAL NOT NULL,
    UNIQUE (token_id, seq)
);
CREATE INDEX IF NOT EXISTS records_by_pair ON records (student_id, exercise, checked_at);
CREATE TABLE IF NOT EXISTS state (
    student_id INTEGER NOT NULL REFERENCES students (id),
    exercise TEXT NOT NULL,
    passed INTEGER NOT NULL,             -- the latest record's verdict
    kind TEXT NOT NULL,
    cause TEXT,
    metrics TEXT NOT NULL,
    hints INTEGER NOT NULL,
    last_at REAL NOT NULL,               -- the latest check of it
    checks INTEGER NOT NULL,
    ever_passed INTEGER NOT NULL,
    failing_since REAL,                  -- the first failing check with no pass after it
    PRIMARY KEY (student_id, exercise)
);
"""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def name_key(name: str) -> str:
    return " ".join(name.casefold().split())


class NameTaken(Exception):
    """Another student in the room has this name."""


class TokenRefused(Exception):
    """The token is unknown, or was given up by `leave`."""

    def __init__(self, revoked: bool):
        super().__init__("revoked" if revoked else "unknown")
        self.revoked = revoked


def _connect(path: pathlib.Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    connection.execute("PRAGMA busy_timeout = 30000")
    connection.execute("PRAGMA synchronous = FULL")  # an acknowledged commit survives a crash
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


class Writer:
    """The one thread that writes. :meth:`submit` queues ``change(connection)`` and returns a
    future; the thread runs every change waiting, each in a savepoint, commits them together, and
    only then resolves their futures (with the change's result, or its exception)."""

    def __init__(self, connection: sqlite3.Connection, batch: int = 200):
        self._connection = connection
        self._batch = batch
        self._queue: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="room-writer", daemon=True)
        self._thread.start()

    def submit(self, change) -> concurrent.futures.Future:
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._queue.put((change, future))
        return future

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            work = [first]
            while len(work) < self._batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                work.append(item)
            # A future cancelled meanwhile (its client went away) is skipped; the others can no
            # longer be cancelled, so resolving them below cannot fail.
            work = [(change, future) for change, future in work if future.set_running_or_notify_cancel()]
            if work:
                self._commit(work)

    def _commit(self, work) -> None:
        connection = self._connection
        results = []
        try:
            connection.execute("BEGIN IMMEDIATE")
            for change, _ in work:
                connection.execute("SAVEPOINT one")
                try:
                    results.append((True, change(connection)))
                    connection.execute("RELEASE one")
                except Exception as error:  # noqa: BLE001 - a refused change is its caller's answer
                    connection.execute("ROLLBACK TO one")
                    connection.execute("RELEASE one")
                    results.append((False, error))
            connection.execute("COMMIT")
        except sqlite3.Error as error:  # nothing of this batch is stored: nothing is acknowledged
            with contextlib.suppress(sqlite3.Error):
                connection.execute("ROLLBACK")
            for _, future in work:
                future.set_exception(error)
            return
        for (_, future), (ok, value) in zip(work, results):
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)


class Store:
    """The room's database: settings, students, tokens, records and the dashboard's state."""

    def __init__(self, data_dir: pathlib.Path):
        self.data_dir = pathlib.Path(data_dir)
        self.path = self.data_dir / DATABASE_NAME
        _private_file(self.path)
        connection = _connect(self.path)
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if str(mode).lower() != "wal":
            raise sqlite3.OperationalError(f"the database {self.path} cannot use WAL mode "
                                           f"(journal mode {mode}): put --data-dir on a local disk")
        connection.executescript(SCHEMA)
        self._settings = self._make_settings(connection)
        self._writer = Writer(connection)
        self._readers = threading.local()
        self._all_readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()

    # ------------------------------------------------------------------ settings

    @staticmethod
    def _make_settings(connection: sqlite3.Connection) -> dict:
        """The room's code and keys: made on the first start, read on every later one."""
        wanted = {
            "room_id": lambda: secrets.token_hex(8),
            "code": lambda: "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH)),
            "instructor_key": lambda: secrets.token_urlsafe(32),
            "projector_key": lambda: secrets.token_urlsafe(24),
            "created_at": lambda: repr(time.time()),
        }
        connection.execute("BEGIN IMMEDIATE")
        try:
            for name, make in wanted.items():
                connection.execute("INSERT OR IGNORE INTO settings (name, value) VALUES (?, ?)",
                                   (name, make()))
            connection.execute("COMMIT")
        except sqlite3.Error:
            connection.execute("ROLLBACK")
            raise
        return dict(connection.execute("SELECT name, value FROM settings").fetchall())

    @property
    def code(self) -> str:
        return self._settings["code"]

    @property
    def instructor_key(self) -> str:
        return self._settings["instructor_key"]

    @property
    def projector_key(self) -> str:
        return self._settings["projector_key"]

    @property
    def room_id(self) -> str:
        return self._settings["room_id"]

    # ------------------------------------------------------------------ writes

    def submit(self, change) -> concurrent.futures.Future:
        """Run ``change(connection)`` in the writer's next transaction; the future resolves after
        the commit."""
        return self._writer.submit(change)

    @staticmethod
    def join_change(name: str, now: float):
        """A change that adds a student (or brings back one who left, under the same name) with
        a new token; its result is ``(student_id, token)``. Raises :class:`NameTaken` when a
        student in the room already has the name."""
        def change(connection: sqlite3.Connection):
            key = name_key(name)
            rows = connection.execute("SELECT id, left_at FROM students WHERE name_key = ? "
                                      "ORDER BY id", (key,)).fetchall()
            if any(left_at is None for _, left_at in rows):
                raise NameTaken(name)
            if rows:  # came back: the same row, so the dashboard shows one line per person
                student_id = rows[-1][0]
                connection.execute("UPDATE students SET left_at = NULL, name = ? WHERE id = ?",
                                   (name, student_id))
            else:
                student_id = connection.execute(
                    "INSERT INTO students (name, name_key, joined_at) VALUES (?, ?, ?)",
                    (name, key, now)).lastrowid
            token = secrets.token_urlsafe(32)
            connection.execute("INSERT INTO tokens (student_id, token_hash, created_at) "
                               "VALUES (?, ?, ?)", (student_id, token_hash(token), now))
            return student_id, token
        return change

    @staticmethod
    def _token(connection: sqlite3.Connection, token: str) -> tuple[int, int]:
        row = connection.execute("SELECT id, student_id, revoked_at FROM tokens WHERE token_hash = ?",
                                 (token_hash(token),)).fetchone()
        if row is None or row[2] is not None:
            raise TokenRefused(revoked=row is not None)
        return row[0], row[1]

    @classmethod
    def record_change(cls, token: str, record: dict, now: float):
        """A change that stores one record (already validated) under ``token``; its result is
        True when stored, False when that token's record of that number was stored before (a
        replay: stored once). Raises :class:`TokenRefused`."""
        def change(connection: sqlite3.Connection):
            token_id, student_id = cls._token(connection, token)
            checked_at = round(now - record["age"], 1)  # a tenth of a second is enough to show
            cursor = connection.execute(
                "INSERT OR IGNORE INTO records (student_id, token_id, seq, exercise, passed, kind, "
                "cause, metrics, hints, checked_at, received_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (student_id, token_id, record["seq"], record["exercise"], int(record["passed"]),
                 record["kind"], record["cause"], json.dumps(record["metrics"], sort_keys=True),
                 record["hints"], checked_at, now))
            if cursor.rowcount == 0:
                return False
            cls._update_state(connection, student_id, record["exercise"])
            return True
        return change

    @staticmethod
    def _update_state(connection: sqlite3.Connection, student_id: int, exercise: str) -> None:
        """The dashboard's cell of one student and exercise, from that pair's records in the
        order of their checks (a record kept on a laptop and sent later falls into place)."""
        rows = connection.execute(
            "SELECT passed, kind, cause, metrics, hints, checked_at FROM records "
            "WHERE student_id = ? AND exercise = ? ORDER BY checked_at, id",
            (student_id, exercise)).fetchall()
        failing_since = None
        for passed, *_, checked_at in rows:
            failing_since = None if passed else (failing_since or checked_at)
        passed, kind, cause, metrics, hints, last_at = rows[-1]
        connection.execute(
            "INSERT OR REPLACE INTO state (student_id, exercise, passed, kind, cause, metrics, "
            "hints, last_at, checks, ever_passed, failing_since) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (student_id, exercise, passed, kind, cause, metrics, hints, last_at, len(rows),
             int(any(row[0] for row in rows)), failing_since))

    @classmethod
    def leave_change(cls, token: str, now: float):
        """A change that revokes ``token`` and marks its student as gone. Raises
        :class:`TokenRefused` for a token unknown or already given up."""
        def change(connection: sqlite3.Connection):
            token_id, student_id = cls._token(connection, token)
            connection.execute("UPDATE tokens SET revoked_at = ? WHERE id = ?", (now, token_id))
            active = connection.execute("SELECT COUNT(*) FROM tokens WHERE student_id = ? AND "
                                        "revoked_at IS NULL", (student_id,)).fetchone()[0]
            if not active:
                connection.execute("UPDATE students SET left_at = ? WHERE id = ?", (now, student_id))
            return student_id
        return change

    # ------------------------------------------------------------------ reads

    def _reader(self) -> sqlite3.Connection:
        connection = getattr(self._readers, "connection", None)
        if connection is None:
            connection = _connect(self.path)
            connection.execute("PRAGMA query_only = ON")
            self._readers.connection = connection
            with self._readers_lock:
                self._all_readers.append(connection)
        return connection

    def snapshot(self) -> tuple[list, list, int]:
        """``(students, cells, records)``: every student (id, name, joined_at, left_at), every
        state row, and the number of records, read in one transaction."""
        connection = self._reader()
        connection.execute("BEGIN")
        try:
            students = connection.execute(
                "SELECT id, name, joined_at, left_at FROM students ORDER BY name_key, id").fetchall()
            cells = connection.execute(
                "SELECT student_id, exercise, passed, kind, cause, metrics, hints, last_at, checks, "
                "ever_passed, failing_since FROM state").fetchall()
            records = connection.execute("SELECT COUNT(*) FROM records").fetchone()[0]
        finally:
            connection.execute("COMMIT")
        return students, cells, records

    def close(self) -> None:
        self._writer.close()
        self._writer._connection.close()
        with self._readers_lock:
            for connection in self._all_readers:
                with contextlib.suppress(sqlite3.Error):
                    connection.close()
            self._all_readers.clear()


def _private_file(path: pathlib.Path) -> None:
    """Create the database file readable by its owner only (it holds the instructor's key), and
    its folder if missing (owner only too). SQLite gives its -wal and -shm files the same
    permissions."""
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(descriptor)
    with contextlib.suppress(OSError):  # a file system without modes (FAT on a USB key)
        os.chmod(path, 0o600)
