"""The student's side of the room: ``join``, ``leave``, and one small record sent after each check.

Standard library only (urllib, json): a student's installation needs nothing more. The token the
room gave, the room's address and the records not sent yet are kept in ``.seminar-room.json``
beside the progress file (written atomically, readable by its owner only; ``leave`` deletes it).
With no such file, a check sends nothing, prints nothing more and imports nothing more.

A record holds the exercise's id, the verdict and the outcome's kind (ran, todo, error,
timeout...), one line saying why it failed (the first fatal finding's cause, the open TODO's
function, the error's own sentence or its known cause: never a traceback, never code), the
checker's measured metrics, the number of hints taken, and how long ago the check ended. Never the
student's code or files.

Sending never changes a verdict, which is printed before: the record goes after it, with a short
timeout (:data:`SEND_TIMEOUT`); a room out of reach keeps the record in the file, said in one
line, and the next check sends it first. Each record carries a number of its own (``seq``) so that
the room stores a record sent twice only once.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import pathlib
import re
import tempfile
import time

from seminar.tools import progress
from seminar.tools.room import protocol

ROOM_FILE = ".seminar-room.json"
SEND_TIMEOUT = 1.5  # seconds, for all the records sent after one check
JOIN_TIMEOUT = 5.0
MAX_QUEUE = 200  # records kept while the room is out of reach; the oldest go first past that
DEFAULT_PORT = 8765
JOIN_HELP = "python -m seminar join ADDRESS CODE --name NAME"


def room_path() -> pathlib.Path:
    """``.seminar-room.json``, beside the progress file."""
    return progress.PROGRESS_PATH.with_name(ROOM_FILE)


def _say(line: str) -> None:
    print(line, flush=True)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


# ---------------------------------------------------------------------------- the room file


class RoomFileError(Exception):
    pass


def _valid_state(data) -> bool:
    return (isinstance(data, dict) and isinstance(data.get("address"), str)
            and isinstance(data.get("token"), str) and isinstance(data.get("name"), str)
            and type(data.get("next_seq")) is int and isinstance(data.get("queue"), list)
            and all(isinstance(r, dict) and type(r.get("seq")) is int for r in data["queue"]))


def read_state(path: pathlib.Path | None = None) -> dict | None:
    """The room file's content; None when there is none; :class:`RoomFileError` when damaged."""
    path = path or room_path()
    try:
        raw = path.read_bytes()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as error:
        raise RoomFileError(f"cannot read {path.name} ({error.strerror or error})") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        data = None
    if not _valid_state(data):
        raise RoomFileError(f"{path.name} is damaged")
    return data


def write_state(state: dict, path: pathlib.Path | None = None) -> None:
    """Write the room file atomically (a temporary file, then a rename), readable by its owner
    only: it holds the token."""
    path = path or room_path()
    temporary = None
    try:
        # mkstemp's file is created with mode 0600, and the rename keeps it
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".seminar-room-", suffix=".tmp",
                                         delete=False, encoding="utf-8") as handle:
            temporary = handle.name
            json.dump(state, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except OSError:
        if temporary is not None:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
        raise


def _update(change, path: pathlib.Path | None = None) -> dict | None:
    """Apply ``change(state)`` under the lock (a ``watch`` and a ``check`` may send at once);
    returns the state written, None when no room is joined."""
    path = path or room_path()
    with progress.progress_lock(path):
        state = read_state(path)
        if state is None:
            return None
        change(state)
        write_state(state, path)
        return state


# ---------------------------------------------------------------------------- HTTP


class Unreachable(Exception):
    """The room did not answer: the reason, in a few words."""


_opener = None


def _post(url: str, body: dict, *, token: str | None = None, timeout: float) -> tuple[int, dict]:
    """POST JSON; ``(status, answer)``. :class:`Unreachable` when there is no answer in time. The
    room is on the local network: proxies set in the environment are not used."""
    global _opener
    import urllib.error
    import urllib.request

    if _opener is None:
        _opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=json.dumps(body).encode("utf-8"), headers=headers,
                                     method="POST")
    try:
        with _opener.open(request, timeout=max(0.05, timeout)) as response:
            return response.status, _answer(response.read(65536))
    except urllib.error.HTTPError as error:
        with error:
            return error.code, _answer(error.read(65536))
    except urllib.error.URLError as error:
        reason = error.reason
        raise Unreachable(getattr(reason, "strerror", None) or str(reason)) from None
    except (OSError, ValueError) as error:  # a timeout, a connection reset, a malformed answer
        raise Unreachable("no answer in time" if isinstance(error, TimeoutError)
                          else (getattr(error, "strerror", None) or str(error))) from None


def _answer(raw: bytes) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"))
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def normal_address(text: str) -> str:
    """``http://HOST:PORT`` from what a student typed: ``192.168.1.20``, ``192.168.1.20:8765``,
    ``http://192.168.1.20:8765/``... ValueError with what to type when it is not an address."""
    import urllib.parse

    text = text.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urllib.parse.urlsplit(text)
        port = parts.port or DEFAULT_PORT
    except ValueError:
        parts, port = None, None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text!r} is not a room's address: type it as on the board, e.g. "
                         f"http://192.168.1.20:{DEFAULT_PORT}")
    host = parts.hostname
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}:{port}"


# ---------------------------------------------------------------------------- join and leave


def join(address: str, code: str, name: str) -> bool:
    """Join the instructor's room (``python -m seminar join ADDRESS CODE --name NAME``, or from a
    notebook cell: ``from seminar.tools import room; room.join(ADDRESS, CODE, name=NAME)``). From
    then on each check sends the room its verdict. Returns whether it worked; prints what to do
    when it did not."""
    try:
        address = normal_address(address)
        name = protocol.name(name)
    except (ValueError, protocol.Invalid) as problem:
        _say(f"error: {problem}")
        return False
    path = room_path()
    try:
        earlier = read_state(path)
    except RoomFileError:
        earlier = None  # replaced below
    if earlier is not None:
        _leave_quietly(earlier)
    try:
        status, answer = _post(f"{address}/api/join", {"code": code, "name": name},
                               timeout=JOIN_TIMEOUT)
    except Unreachable as problem:
        _say(f"error: cannot reach the room at {address} ({problem}): check the address against the "
             f"board, that this laptop is on the room's network (its Wi-Fi), and that the room is "
             f"open")
        return False
    if status != 201 or not isinstance(answer.get("token"), str):
        reason = answer.get("error") or f"it answered {status}"
        if status == 403:
            reason = (f"the room refused the code {protocol.normal_code(code)}: check it against "
                      f"the board")
        _say(f"error: {reason}")
        return False
    state = {"address": address, "name": answer.get("name", name), "token": answer["token"],
             "room": answer.get("room"), "joined_at": time.time(), "next_seq": 1, "queue": []}
    try:
        with progress.progress_lock(path):
            write_state(state, path)
    except OSError as error:
        _say(f"error: joined, but cannot write {path.name} ({error.strerror or error}): make the "
             f"seminar's folder writable, then join again")
        return False
    _say(f"Joined the room at {address} as {state['name']}. From now on each check sends the room "
         f"its verdict (never your code). To stop: python -m seminar leave")
    return True


def _leave_quietly(state: dict) -> None:
    """Before joining again: send what is kept, then give the old token up, if the room answers."""
    deadline = time.monotonic() + SEND_TIMEOUT
    _send_queue(state, deadline)
    with contextlib.suppress(Unreachable):
        _post(f"{state['address']}/api/leave", {}, token=state["token"],
              timeout=deadline - time.monotonic())


def leave() -> bool:
    """Leave the room (``python -m seminar leave``): what is kept is sent if the room answers, the
    room is told, and the token is deleted here, so that checks send nothing more."""
    path = room_path()
    try:
        state = read_state(path)
    except RoomFileError as problem:
        state = None
        _say(f"note: {problem}; it is deleted")
    if state is None:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        _say("You are not in a room: nothing to leave.")
        return True
    deadline = time.monotonic() + JOIN_TIMEOUT
    unsent = _send_queue(state, deadline)[1]
    told = True
    try:
        _post(f"{state['address']}/api/leave", {}, token=state["token"],
                          timeout=deadline - time.monotonic())
    except Unreachable:
        told = False
    with progress.progress_lock(path):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    line = f"Left the room at {state['address']}: checks send nothing from now on."
    if not told:
        line += " (The room could not be reached to be told; it keeps your last checks.)"
    if unsent:
        line += f" {_plural(unsent, 'record')} not sent, dropped."
    _say(line)
    return True


# ---------------------------------------------------------------------------- after a check


def send_after_check(exercise, outcome) -> None:
    """After a check's verdict is printed: nothing at all when no room is joined; else the check's
    record is added to the ones kept, and they are sent, oldest first, for at most
    :data:`SEND_TIMEOUT` seconds. At most one line is printed, when something is kept or
    refused. Never raises: the room must not change what a check does."""
    path = room_path()
    if not path.exists():
        return
    try:
        _send_after_check(path, exercise, outcome)
    except Exception as problem:  # noqa: BLE001 - whatever goes wrong, the check's verdict stands
        _say(f"room: the check's record could not be handled ({type(problem).__name__}: "
             f"{str(problem)[:100]}); your verdict above stands. If it happens again: python -m "
             f"seminar leave, then join again")


def _send_after_check(path: pathlib.Path, exercise, outcome) -> None:
    hints = progress.read_progress()["hints_seen"].get(exercise.id, 0)
    fields = record_fields(exercise, outcome, hints)

    def add(state: dict) -> None:
        state["queue"].append(dict(fields, seq=state["next_seq"], at=time.time()))
        state["next_seq"] += 1
        del state["queue"][:-MAX_QUEUE]

    try:
        state = _update(add, path)
    except RoomFileError as problem:
        _say(f"room: {problem}: join again ({JOIN_HELP}), or leave (python -m seminar leave)")
        return
    if state is None:
        return
    problem = _send_queue(state, time.monotonic() + SEND_TIMEOUT)[2]
    if problem:
        _say(f"room: {problem}")


def _send_queue(state: dict, deadline: float) -> tuple[int, int, str | None]:
    """Send the kept records, oldest first, until one is not taken or ``deadline`` (a
    ``time.monotonic()`` time) passes; take the ones sent, and the ones refused for good, off the
    file's queue. Returns ``(sent, kept, a line to print or None)``."""
    done: set[int] = set()
    refused: list[str] = []
    problem = None
    queue = sorted(state["queue"], key=lambda r: r["seq"])
    for record in queue:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            problem = "kept"
            break
        body = {key: record[key] for key in protocol.RECORD_FIELDS if key != "age"}
        body["age"] = round(min(protocol.MAX_AGE, max(0.0, time.time() - record.get("at", time.time()))), 3)
        try:
            status, answer = _post(f"{state['address']}/api/records", body, token=state["token"],
                                   timeout=remaining)
        except Unreachable:
            problem = "unreachable"
            break
        if status in (200, 201):
            done.add(record["seq"])
        elif status in (400, 413, 422):  # this record will never be taken: drop it, go on
            done.add(record["seq"])
            refused.append(f"{record.get('exercise')}: {answer.get('error', status)}")
        elif status == 401:
            problem = "token"
            break
        elif status == 429:
            problem = "busy"
            break
        else:
            problem = f"answered {status}"
            break
    remaining_count = len(queue) - len(done)
    if done:
        def take_off(current: dict) -> None:
            current["queue"] = [r for r in current["queue"] if r["seq"] not in done]

        with contextlib.suppress(RoomFileError, OSError):
            state = _update(take_off) or state
            remaining_count = len(state["queue"])
    kept = f"{_plural(remaining_count, 'record')} kept to send with the next check"
    line = None
    if problem == "unreachable":
        line = f"not reachable, {kept}"
    elif problem == "kept":
        line = f"slow to answer, {kept}"
    elif problem == "busy":
        line = f"busy, {kept}"
    elif problem == "token":
        line = (f"the room refused this laptop's token (you left, or the room was started "
                f"afresh): join again ({JOIN_HELP}); {kept}")
    elif problem:
        line = f"the room {problem}; {kept}"
    elif refused:
        line = (f"the room refused a record, dropped ({refused[0][:160]}): tell the instructor "
                f"(the room may run another version of the course)")
    return len(done) - len(refused), remaining_count, line


# ---------------------------------------------------------------------------- what a record says


_ERROR_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b")


def failing_cause(outcome) -> str:
    """Why a check failed, in one line of the checker's own words: never code or a traceback."""
    kind, message = outcome.kind, str(getattr(outcome, "message", "") or "")
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    if kind == "ran":
        findings = list(getattr(outcome, "findings", []))
        fatal = [f for f in findings if f.fatal]
        if fatal or findings:
            return (fatal or findings)[0].cause
        for result in getattr(outcome, "results", []):
            if result.value is None:
                return f"{result.check.metric} missing from what main() returned"
            if not result.passed:
                op, threshold = result.check.bound(result.full)
                return f"{result.check.metric} does not reach its threshold ({op} {threshold:g})"
        return "the check failed"
    if kind == "todo":
        match = re.match(r"(\w+)\(\)", lines[0]) if lines else None
        return f"TODO open in {match.group(1)}()" if match else "a TODO is still open"
    if kind == "error":
        from seminar.grader.checker import KNOWN_ERRORS  # loaded already: the check used it

        for pattern, cause, _ in KNOWN_ERRORS:
            if re.search(pattern, message):
                return cause
        errors = [line for line in lines if _ERROR_LINE.match(line)]
        return (errors or lines or ["an error"])[-1 if errors else 0]
    return lines[0] if lines else kind


def record_fields(exercise, outcome, hints: int) -> dict:
    """What a check's record says (without its number): see the module's docstring."""
    passed = bool(outcome.passed)
    metrics = {}
    for result in getattr(outcome, "results", []):
        metric, value = result.check.metric, result.value
        if (value is not None and isinstance(value, (int, float)) and math.isfinite(value)
                and protocol.METRIC_NAME.fullmatch(metric) and len(metrics) < protocol.MAX_METRICS):
            metrics[metric] = float(value)
    kind = outcome.kind if outcome.kind in protocol.KINDS else "error"
    cause = None if passed else protocol.clean_text(failing_cause(outcome), protocol.MAX_CAUSE)
    return {"exercise": exercise.id, "passed": passed and kind == "ran", "kind": kind,
            "cause": cause or None, "metrics": metrics,
            "hints": min(max(int(hints), 0), protocol.MAX_HINTS)}

