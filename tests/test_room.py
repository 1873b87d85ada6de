"""The room (docs/room.md), tested for real: the server runs as `python -m seminar room` in a process
of its own and is driven over HTTP; the students' side runs `python -m seminar join`, `check` and
`leave` in a copy of the repository. Bad input of every kind, replays, revoked tokens, floods,
and a server killed with SIGKILL in the middle of a stream of writes, restarted on its data.

The tests that start processes are marked slow; the rest (what is accepted, what a record says)
take milliseconds.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import queue
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import types

import pytest

from conftest import repository_copy
from seminar import manifest
from seminar.manifest import REPO_ROOT
from seminar.tools import cli
from seminar.tools.room import client, protocol, server
from seminar.tools.room.store import CODE_ALPHABET, token_hash

EXERCISE = "intro/hello_world"  # its untouched skeleton answers in under a second, without TensorFlow
KNOWN = {e.id for e in manifest.load().exercises}


# ---------------------------------------------------------------------------- a room in a process


class RoomProcess:
    """``python -m seminar room`` on 127.0.0.1, with what it printed: the address, the code and the
    keys."""

    def __init__(self, data_dir: pathlib.Path, port: int = 0):
        self.data_dir = pathlib.Path(data_dir)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "seminar", "room", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(self.data_dir)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, PYTHONUNBUFFERED="1"))
        self.lines: queue.Queue = queue.Queue()
        self.output: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        printed = self.wait_for("Projector view")
        self.address = re.search(r"open on (http://[\d.]+:\d+)", printed).group(1)
        self.port = int(self.address.rsplit(":", 1)[1])
        self.code = re.search(r"Room code, for the board: +(\w+)", printed).group(1)
        self.key = re.search(r"/dashboard#key=(\S+)", printed).group(1)
        self.projector_key = re.search(r"/projector#key=(\S+)", printed).group(1)

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, text: str, timeout: float = 30) -> str:
        """Everything printed up to the line holding ``text``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the room did not print {text!r} in {timeout} s: "
                                     f"{''.join(self.output)}") from None
            if line is None:
                raise AssertionError(f"the room ended without printing {text!r}: {''.join(self.output)}")
            self.output.append(line)
            if text in line:
                return "".join(self.output)

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=30)

    # HTTP, without proxies, as the client does
    def request(self, method: str, path: str, body=None, *, token: str | None = None,
                raw: bytes | None = None, headers: dict | None = None) -> tuple[int, dict, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = {"Content-Type": "application/json"} if (body is not None or raw is not None) else {}
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        sent.update(headers or {})
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        try:
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            text = response.read()
            answer = json.loads(text) if response.getheader("content-type", "").startswith(
                "application/json") else {"text": text.decode("utf-8", "replace")}
            return response.status, answer, dict(response.getheaders())
        finally:
            connection.close()

    def join(self, name: str, code: str | None = None) -> str:
        status, answer, _ = self.request("POST", "/api/join", {"code": code or self.code, "name": name})
        assert status == 201, answer
        return answer["token"]

    def post(self, token: str, seq: int, exercise: str = EXERCISE, **fields) -> tuple[int, dict]:
        status, answer, _ = self.request("POST", "/api/records", record(seq, exercise, **fields),
                                         token=token)
        return status, answer

    def dashboard(self) -> dict:
        status, answer, _ = self.request("GET", "/api/dashboard", token=self.key)
        assert status == 200, answer
        return answer


def record(seq: int, exercise: str = EXERCISE, **fields) -> dict:
    base = {"seq": seq, "exercise": exercise, "passed": False, "kind": "todo",
            "cause": "TODO open in greeting()", "metrics": {}, "hints": 0, "age": 0.0}
    base.update(fields)
    return base


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    """One room for the module's tests that share it (each joins students of its own)."""
    started = RoomProcess(tmp_path_factory.mktemp("room"))
    yield started
    started.stop()


def row_of(dashboard: dict, name: str) -> dict:
    """A student's row, its cells as {exercise: {field: value}} (the ones started only)."""
    rows = [s for s in dashboard["students"] if s["name"] == name]
    assert len(rows) == 1, [s["name"] for s in dashboard["students"]]
    row = dict(rows[0])
    assert len(row["cells"]) == len(dashboard["exercises"])
    row["cells"] = {}
    for exercise, values in zip(dashboard["exercises"], rows[0]["cells"]):
        if values is not None:
            cell = dict(zip(dashboard["cell_fields"], values))
            cell["state"] = "passing" if cell["passed"] else "failing"
            cell["metrics"] = json.loads(cell["metrics"])
            row["cells"][exercise["id"]] = cell
    return row


# ---------------------------------------------------------------------------- joining, the keys


@pytest.mark.slow
def test_joining_needs_the_rooms_code(room):
    status, answer, _ = room.request("POST", "/api/join", {"code": "ABC123", "name": "Eve"})
    assert status == 403
    assert answer["error"] == "the room refused the code ABC123: check it against the board"
    typed = room.code.lower()[:3] + "-" + room.code.lower()[3:]  # as a student may type it
    status, answer, _ = room.request("POST", "/api/join", {"code": typed, "name": "Grace H."})
    assert status == 201 and len(answer["token"]) >= 40 and answer["name"] == "Grace H."
    status, answer, _ = room.request("POST", "/api/join", {"code": room.code, "name": "grace h."})
    assert status == 409 and "already called" in answer["error"], "one active student per name"


@pytest.mark.slow
def test_the_dashboard_needs_the_instructors_key_and_the_projector_its_own(room):
    assert room.request("GET", "/api/dashboard")[0] == 401
    status, answer, _ = room.request("GET", "/api/dashboard", token=room.key[:-1] + "x")
    assert status == 403 and "python -m seminar room" in answer["error"]
    assert room.request("GET", "/api/dashboard", token=room.projector_key)[0] == 403
    assert room.request("GET", "/api/dashboard", token=room.code)[0] == 403
    assert room.request("GET", f"/api/dashboard?key={room.key}")[0] == 401, "a key only in the header"
    assert room.request("GET", "/api/projector", token=room.projector_key)[0] == 200
    assert room.request("GET", "/api/projector", token=room.key)[0] == 200
    assert room.request("GET", "/api/projector", token="x" * 40)[0] == 403
    assert room.key != room.projector_key and room.code not in (room.key, room.projector_key)
    assert re.fullmatch(f"[{CODE_ALPHABET}]{{6}}", room.code)
    # The pages hold no data and run no inline script; every answer says not to cache it.
    status, page, headers = room.request("GET", "/dashboard")
    assert status == 200 and room.code not in page["text"] and "<script>" not in page["text"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store" and headers["x-content-type-options"] == "nosniff"


# ---------------------------------------------------------------------------- bad input


BAD_BODIES = [
    ("not JSON", b"{seq: 1", 400, "not JSON"),
    ("not UTF-8", b'{"seq": "\xff"}', 400, "not JSON"),
    ("NaN, which JSON has not", json.dumps(record(1, metrics={"loss": 1})).replace("1}", "NaN}").encode(), 400,
     "not a number JSON allows"),
    ("a list", b"[1, 2]", 422, "JSON object"),
    ("a missing field", json.dumps({k: v for k, v in record(1).items() if k != "kind"}).encode(), 422,
     "missing field(s): kind"),
    ("an extra field", json.dumps(dict(record(1), code="print('hi')")).encode(), 422, "unknown field(s): code"),
    ("an unknown exercise", json.dumps(record(1, "intro/nope")).encode(), 422, "unknown exercise 'intro/nope'"),
    ("a seq that is a bool", json.dumps(record(True)).encode(), 422, "seq must be"),
    ("a seq of 0", json.dumps(record(0)).encode(), 422, "seq must be"),
    ("passed as a string", json.dumps(record(1, passed="yes")).encode(), 422, "passed must be"),
    ("an unknown kind", json.dumps(record(1, kind="pwned")).encode(), 422, "kind must be one of"),
    ("a pass that did not run", json.dumps(record(1, passed=True, kind="todo")).encode(), 422, "kind ran"),
    ("a metric as text", json.dumps(record(1, metrics={"accuracy": "0.9"})).encode(), 422, "finite number"),
    ("a metric as a bool", json.dumps(record(1, metrics={"accuracy": True})).encode(), 422, "finite number"),
    ("an infinite metric", json.dumps(record(1, metrics={"x": 1})).replace('"x": 1', '"x": 1e999').encode(),
     422, "finite number"),
    ("too many metrics", json.dumps(record(1, metrics={f"m{i}": i for i in range(17)})).encode(), 422,
     "at most 16 metrics"),
    ("a metric name with spaces", json.dumps(record(1, metrics={"a b": 1})).encode(), 422, "metric name"),
    ("a long cause", json.dumps(record(1, cause="x" * 201)).encode(), 422, "at most 200"),
    ("a cause with a newline", json.dumps(record(1, cause="a\nb")).encode(), 422, "control"),
    ("negative hints", json.dumps(record(1, hints=-1)).encode(), 422, "hints must be"),
    ("an age of a year", json.dumps(record(1, age=3.2e7)).encode(), 422, "age must be"),
]


@pytest.mark.slow
def test_bad_records_are_refused_with_the_reason(room):
    token = room.join("Mallory")
    for what, raw, status, words in BAD_BODIES:
        got, answer, _ = room.request("POST", "/api/records", raw=raw, token=token)
        assert (got, words in answer.get("error", "")) == (status, True), (what, answer)
    assert room.request("POST", "/api/records", raw=b"{}", token=token,
                        headers={"Content-Type": "text/plain"})[0] == 415
    assert row_of(room.dashboard(), "Mallory")["cells"] == {}, "nothing refused was stored"


@pytest.mark.slow
def test_a_body_over_16_kb_is_refused_announced_or_not(room):
    token = room.join("Big Body")
    huge = json.dumps(record(1, cause="x" * 20000)).encode()
    status, answer, _ = room.request("POST", "/api/records", raw=huge, token=token)
    assert status == 413 and "16384 bytes" in answer["error"]
    # chunked, with no Content-Length: cut as soon as it passes the limit
    connection = http.client.HTTPConnection("127.0.0.1", room.port, timeout=10)
    connection.putrequest("POST", "/api/records")
    connection.putheader("Content-Type", "application/json")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Transfer-Encoding", "chunked")
    connection.endheaders()
    for _ in range(40):
        chunk = b"x" * 1000
        connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    connection.send(b"0\r\n\r\n")
    assert connection.getresponse().status == 413
    connection.close()


@pytest.mark.slow
def test_names_are_checked_and_kept_as_text(room):
    for name, words in [("", "empty"), ("x" * 41, "at most 40"), ("Ada\nLovelace", "control"),
                        ("Ada\u202eecalevoL", "U+202E"), ("Ada\u200bL", "U+200B"), (7, "string")]:
        status, answer, _ = room.request("POST", "/api/join", {"code": room.code, "name": name})
        assert status == 422 and words in answer["error"], (name, answer)
    token = room.join("<script>alert(1)</script>")
    assert room.post(token, 1, cause="<img src=x onerror=alert(2)>")[0] == 201
    row = row_of(room.dashboard(), "<script>alert(1)</script>")  # data, as it was typed
    assert row["cells"][EXERCISE]["cause"] == "<img src=x onerror=alert(2)>"
    status, page, _ = room.request("GET", "/dashboard")
    assert "alert" not in page["text"], "the page is static: data only comes as JSON"


# ---------------------------------------------------------------------------- tokens and replays


@pytest.mark.slow
def test_a_replayed_record_is_stored_once(room):
    token = room.join("Replay R.")
    before = room.dashboard()["records"]
    assert room.post(token, 1) == (201, {"stored": True, "duplicate": False, "seq": 1})
    assert room.post(token, 1) == (200, {"stored": True, "duplicate": True, "seq": 1})
    assert room.post(token, 1, passed=True, kind="ran", cause=None)[0] == 200, "the first one stands"
    dashboard = room.dashboard()
    assert dashboard["records"] == before + 1
    assert row_of(dashboard, "Replay R.")["cells"][EXERCISE]["checks"] == 1


@pytest.mark.slow
def test_a_student_writes_under_their_own_token_only_and_a_left_token_is_refused(room):
    ada, bob = room.join("Ada T."), room.join("Bob T.")
    assert room.post(ada, 1, "sgd/linear_regression")[0] == 201
    assert room.post("made-up-token-" + "x" * 30, 1)[0] == 401
    dashboard = room.dashboard()
    assert "sgd/linear_regression" in row_of(dashboard, "Ada T.")["cells"]
    assert row_of(dashboard, "Bob T.")["cells"] == {}
    assert room.request("POST", "/api/leave", token=bob)[0] == 200
    status, answer = room.post(bob, 1)
    assert status == 401 and "left the room" in answer["error"]
    assert room.request("POST", "/api/leave", token=bob)[0] == 401
    assert row_of(room.dashboard(), "Bob T.")["left"] is True
    # Coming back under the same name: the same line on the dashboard, a new token
    bob_again = room.join("Bob T.")
    assert room.post(bob_again, 1)[0] == 201
    assert room.post(bob, 2)[0] == 401


@pytest.mark.slow
def test_a_flood_from_one_token_is_refused_without_slowing_the_others(room):
    flood, calm = room.join("Flood F."), room.join("Calm C.")
    answers = [room.post(flood, seq) for seq in range(1, 61)]
    assert [status for status, _ in answers[:30]] == [201] * 30, "30 at once"
    refused = [answer for status, answer in answers[30:] if status == 429]
    assert len(refused) >= 20, "then about 1 a second"
    assert "wait" in refused[0]["error"]
    start = time.monotonic()
    assert room.post(calm, 1)[0] == 201
    assert time.monotonic() - start < 1.0
    status, _, headers = room.request("POST", "/api/records", record(99), token=flood)
    assert status == 429 and int(headers["retry-after"]) >= 1


def test_token_buckets():
    buckets = server.Buckets(capacity=3, rate=1.0)
    assert [buckets.take("a", now=0.0) for _ in range(4)] == [0, 0, 0, 1.0]
    assert buckets.take("b", now=0.0) == 0, "one key's flood leaves the others alone"
    assert buckets.take("a", now=1.0) == 0 and buckets.take("a", now=1.0) > 0
    small = server.Buckets(capacity=1, rate=1.0, keys=2)
    for key in "xyz":
        small.take(key, now=0.0)
    assert len(small._buckets) == 2


# ---------------------------------------------------------------------------- what the dashboard shows


@pytest.mark.slow
def test_the_dashboard_ranks_causes_and_who_fails_longest_and_the_projector_names_no_one(room):
    exercise = "sgd/binary_classif"
    tokens = {name: room.join(name) for name in ("Cause A.", "Cause B.", "Cause C.", "Cause D.")}
    shape = "the logits' shape is wrong"
    room.post(tokens["Cause A."], 1, exercise, kind="ran", cause=shape, age=300)
    room.post(tokens["Cause B."], 1, exercise, kind="ran", cause=shape, age=60)
    room.post(tokens["Cause C."], 1, exercise, kind="error", cause="NameError: name 'x' is not defined", age=30)
    room.post(tokens["Cause D."], 1, exercise, kind="ran", cause=shape, age=200)
    room.post(tokens["Cause D."], 2, exercise, passed=True, kind="ran", cause=None,
              metrics={"test_accuracy": 0.97}, age=10)
    dashboard = room.dashboard()
    ranked = next(e for e in dashboard["causes"] if e["exercise"] == exercise)
    assert ranked["failing"] == 3
    assert ranked["causes"] == [{"cause": shape, "students": 2},
                                {"cause": "NameError: name 'x' is not defined", "students": 1}]
    stuck = [s["name"] for s in dashboard["stuck"] if s["exercise"] == exercise]
    assert stuck == ["Cause A.", "Cause B.", "Cause C."], "longest first; D passed since"
    cell = row_of(dashboard, "Cause D.")["cells"][exercise]
    assert cell["state"] == "passing" and cell["metrics"] == {"test_accuracy": 0.97}
    assert cell["ever_passed"] and cell["failing_since"] is None and cell["checks"] == 2
    assert 250 < dashboard["now"] - row_of(dashboard, "Cause A.")["cells"][exercise]["failing_since"] < 400
    assert [e["id"] for e in dashboard["exercises"]] == [e.id for e in manifest.load().exercises]
    status, projector, _ = room.request("GET", "/api/projector", token=room.projector_key)
    line = next(e for e in projector["exercises"] if e["id"] == exercise)
    assert (line["passed"], line["failing"]) == (1, 3)
    text = json.dumps(projector)
    assert not any(name in text for name in tokens) and "Cause" not in text and "NameError" not in text


# ---------------------------------------------------------------------------- restarts and crashes


@pytest.mark.slow
def test_a_room_killed_mid_stream_keeps_every_acknowledged_record(tmp_path):
    """Six students post records as fast as they can; the server is killed with SIGKILL while
    they do; every record it acknowledged is in the database afterwards."""
    data = tmp_path / "data"
    first = RoomProcess(data)
    tokens = [first.join(f"Writer {i}") for i in range(6)]
    acknowledged: list[tuple[str, int]] = []
    lock = threading.Lock()

    def write(token: str) -> None:
        for seq in range(1, 29):  # within the per-token burst of 30
            try:
                status, _ = first.post(token, seq, age=0.0)
            except (OSError, http.client.HTTPException, ValueError):
                return  # the server is gone (perhaps in the middle of its answer)
            if status in (200, 201):
                with lock:
                    acknowledged.append((token, seq))

    threads = [threading.Thread(target=write, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    while True:
        with lock:
            if len(acknowledged) >= 30:
                break
        time.sleep(0.002)
    first.process.kill()  # SIGKILL: no shutdown, no last commit
    first.process.wait(timeout=30)
    for thread in threads:
        thread.join(timeout=30)
    assert 30 <= len(acknowledged) < 6 * 28, "killed in the middle of the stream"
    with sqlite3.connect(data / "room.sqlite3") as connection:  # what survived the kill
        stored = set(connection.execute(
            "SELECT tokens.token_hash, records.seq FROM records JOIN tokens ON tokens.id = records.token_id"))
    missing = [(t[:6], seq) for t, seq in acknowledged if (token_hash(t), seq) not in stored]
    assert missing == []
    again = RoomProcess(data)
    try:
        assert again.dashboard()["records"] == len(stored) >= len(acknowledged)
        assert again.post(tokens[0], 1)[0] == 200, "a replay after the restart is still a replay"
    finally:
        again.stop()


# ---------------------------------------------------------------------------- the student's side


def seminar(repo: pathlib.Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "seminar", *args], cwd=repo,
                          env=dict(os.environ, PYTHONPATH=str(repo)), capture_output=True, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def student_repo(tmp_path_factory):
    return repository_copy(tmp_path_factory.mktemp("room-student"))


@pytest.mark.slow
def test_a_check_with_no_room_joined_prints_as_before_and_loads_no_web_library(tmp_path):
    code = (
        "import pathlib, sys\n"
        "from seminar import manifest\n"
        "from seminar.tools import cli, progress\n"
        f"progress.PROGRESS_PATH = pathlib.Path({str(tmp_path / '.seminar-progress.json')!r})\n"
        f"exercise = manifest.load().get({EXERCISE!r})\n"
        "status = cli.check_once(exercise, exercise.exercise_path)\n"
        "loaded = [m for m in ('starlette', 'uvicorn', 'anyio', 'h11', 'sqlite3',\n"
        "                      'seminar.tools.room.server', 'seminar.tools.room.store') if m in sys.modules]\n"
        "print('LOADED', loaded, status)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[-1] == "LOADED [] 1", result.stdout + result.stderr
    assert lines[0] == f"Checking {EXERCISE}: {EXERCISE}_exo.py"
    assert lines[-3:-1] == [f"For a hint: python -m seminar hint {EXERCISE}", f"FAIL {EXERCISE}"]
    assert not any("room" in line for line in lines) and result.stderr == ""


@pytest.mark.slow
def test_join_then_a_real_check_sends_its_record_and_leave_stops_it(room, student_repo):
    joined = seminar(student_repo, "join", room.address.replace("http://", ""), room.code.lower(),
                     "--name", "Student S.")
    assert joined.returncode == 0 and "Joined the room at" in joined.stdout, joined.stdout + joined.stderr
    room_file = student_repo / ".seminar-room.json"
    assert stat.S_IMODE(room_file.stat().st_mode) == 0o600
    assert subprocess.run(["git", "-C", str(student_repo), "status", "--porcelain"], capture_output=True,
                          text=True).stdout == "", "the room file is ignored by git"

    assert seminar(student_repo, "hint", EXERCISE).returncode == 0
    checked = seminar(student_repo, "check", EXERCISE)
    assert checked.returncode == 1
    assert checked.stdout.rstrip().endswith(f"FAIL {EXERCISE}"), "nothing printed after the verdict"
    cell = row_of(room.dashboard(), "Student S.")["cells"][EXERCISE]
    assert (cell["state"], cell["kind"], cell["cause"], cell["hints"], cell["metrics"], cell["checks"]) == \
        ("failing", "todo", "TODO open in greeting()", 1, {}, 1)
    assert json.loads(room_file.read_text())["queue"] == []

    token = json.loads(room_file.read_text())["token"]
    left = seminar(student_repo, "leave")
    assert left.returncode == 0 and "checks send nothing from now on" in left.stdout
    assert not room_file.exists()
    assert room.post(token, 99)[0] == 401, "the room was told"
    again = seminar(student_repo, "check", EXERCISE)
    assert "room" not in again.stdout and row_of(room.dashboard(), "Student S.")["cells"][EXERCISE]["checks"] == 1


@pytest.mark.slow
def test_a_room_stopped_then_restarted_loses_nothing_and_checks_meanwhile_are_kept(tmp_path, student_repo):
    """The room stopped (Ctrl-C or SIGTERM): a check keeps its record, in one quiet line; the room
    started again on the same data comes back with the same code and keys, and the next check
    sends both records."""
    first = RoomProcess(tmp_path / "data")
    assert seminar(student_repo, "join", first.address, first.code, "--name", "Offline O.").returncode == 0
    assert first.stop() == 0
    assert "start it again with --data-dir" in first.wait_for("everything is kept in")
    assert stat.S_IMODE((tmp_path / "data" / "room.sqlite3").stat().st_mode) == 0o600, "it holds the keys"
    started = time.monotonic()
    checked = seminar(student_repo, "check", EXERCISE)
    assert time.monotonic() - started < 10
    lines = checked.stdout.rstrip().splitlines()
    assert lines[-2:] == [f"FAIL {EXERCISE}", "room: not reachable, 1 record kept to send with the next check"]
    assert checked.returncode == 1, "the verdict is the same"
    assert len(json.loads((student_repo / ".seminar-room.json").read_text())["queue"]) == 1
    again = RoomProcess(tmp_path / "data", port=first.port)
    try:
        assert (again.code, again.key, again.projector_key) == (first.code, first.key, first.projector_key)
        checked = seminar(student_repo, "check", EXERCISE)
        assert checked.stdout.rstrip().endswith(f"FAIL {EXERCISE}")
        cell = row_of(again.dashboard(), "Offline O.")["cells"][EXERCISE]
        assert cell["checks"] == 2
        assert json.loads((student_repo / ".seminar-room.json").read_text())["queue"] == []
    finally:
        assert seminar(student_repo, "leave").returncode == 0
        again.stop()


@pytest.mark.slow
def test_join_from_a_notebook_says_what_to_do_when_it_fails(room, progress_file, capsys):
    assert client.join(room.address, "WRONG1", name="Nora N.") is False
    assert capsys.readouterr().out == "error: the room refused the code WRONG1: check it against the board\n"
    assert client.join("127.0.0.1:9", room.code, name="Nora N.") is False
    out = capsys.readouterr().out
    assert out.startswith("error: cannot reach the room at http://127.0.0.1:9 (") and "Wi-Fi" in out
    assert client.join(room.address, room.code, name="Nora\tN.") is False
    assert "control or invisible character (U+0009)" in capsys.readouterr().out
    assert not client.room_path().exists()
    assert client.join(room.address, room.code, name="Nora N.") is True
    assert client.join(room.address, room.code, name="Nora N.") is True, "joining again: leaves first"
    assert [s["left"] for s in room.dashboard()["students"] if s["name"] == "Nora N."] == [False]
    assert client.leave() is True
    capsys.readouterr()
    assert client.leave() is True
    assert capsys.readouterr().out == "You are not in a room: nothing to leave.\n"


@pytest.mark.slow
def test_a_check_that_records_nothing_sends_nothing(room, progress_file, capsys):
    """`check --solution` (record=False) checks the solution, not the student's work: the room
    is not told."""
    token = room.join("Solution S.")
    client.write_state({"address": room.address, "name": "Solution S.", "token": token, "room": None,
                        "next_seq": 1, "queue": []}, client.room_path())
    exercise = manifest.load().get(EXERCISE)
    assert cli.check_once(exercise, exercise.exercise_path, record=False) == 1
    assert row_of(room.dashboard(), "Solution S.")["cells"] == {}
    assert cli.check_once(exercise, exercise.exercise_path, record=True) == 1
    assert row_of(room.dashboard(), "Solution S.")["cells"][EXERCISE]["kind"] == "todo"
    assert "room" not in capsys.readouterr().out


@pytest.mark.slow
def test_a_kept_record_the_room_refuses_is_dropped_in_one_line_and_the_others_sent(room, progress_file, capsys):
    """A laptop's course with an exercise the room does not know (another version of the course):
    that record is dropped, said once, and the check's own record goes through."""
    token = room.join("Version V.")
    kept = dict(record(1, "intro/not_in_this_course"), at=0)
    client.write_state({"address": room.address, "name": "Version V.", "token": token, "room": None,
                        "next_seq": 2, "queue": [kept]}, client.room_path())
    outcome = types.SimpleNamespace(kind="todo", message="greeting(), line 30:", findings=[],
                                    results=[], passed=False)
    client.send_after_check(manifest.load().get(EXERCISE), outcome)
    out = capsys.readouterr().out
    assert out.startswith("room: the room refused a record, dropped (intro/not_in_this_course: unknown "
                          "exercise") and out.count("\n") == 1
    assert row_of(room.dashboard(), "Version V.")["cells"][EXERCISE]["cause"] == "TODO open in greeting()"
    assert client.read_state()["queue"] == []


def test_the_store_commits_together_and_a_refused_change_undoes_only_itself(tmp_path):
    from seminar.tools.room.store import NameTaken, Store

    store = Store(tmp_path / "data")
    try:
        first, same_name, other = (store.submit(Store.join_change(name, 1.0))
                                   for name in ("Ada L.", "ada  l.", "Bob B."))
        assert first.result(timeout=10)[0] != other.result(timeout=10)[0]
        with pytest.raises(NameTaken):
            same_name.result(timeout=10)
        _, token = first.result()
        assert store.submit(Store.record_change(token, record(1), 10.0)).result(timeout=10) is True
        assert store.submit(Store.record_change(token, record(1), 11.0)).result(timeout=10) is False
        students, cells, records = store.snapshot()
        assert [name for _, name, _, _ in students] == ["Ada L.", "Bob B."] and records == 1
        assert cells[0][1:4] == (EXERCISE, 0, "todo")
        code, key = store.code, store.instructor_key
    finally:
        store.close()
    reopened = Store(tmp_path / "data")
    try:
        assert (reopened.code, reopened.instructor_key) == (code, key)
    finally:
        reopened.close()


# ---------------------------------------------------------------------------- what a record says


def _outcome(kind, message="", findings=(), results=(), passed=False):
    return types.SimpleNamespace(kind=kind, message=message, findings=list(findings),
                                 results=list(results), passed=passed)


def _result(metric, value, passed):
    check = types.SimpleNamespace(metric=metric, bound=lambda full: (">=", 0.9))
    return types.SimpleNamespace(check=check, value=value, passed=passed, full=False)


def test_a_record_says_why_in_one_line_and_never_the_code():
    exercise = types.SimpleNamespace(id="neural_nets/softmax")
    from seminar.grader.findings import Finding

    fatal = Finding("softmax applied to the logits in inference()", "rows sum to 1", "return raw scores")
    ran = _outcome("ran", findings=[Finding("loss does not decrease", fatal=False), fatal],
                   results=[_result("test_accuracy", 0.91, True), _result("bad name", 1.0, True),
                            _result("nan_metric", float("nan"), True)])
    fields = client.record_fields(exercise, ran, hints=2)
    assert fields == {"exercise": "neural_nets/softmax", "passed": False, "kind": "ran",
                      "cause": "softmax applied to the logits in inference()",
                      "metrics": {"test_accuracy": 0.91}, "hints": 2}
    below = _outcome("ran", results=[_result("test_accuracy", 0.5, False)])
    assert client.failing_cause(below) == "test_accuracy does not reach its threshold (>= 0.9)"
    todo = _outcome("todo", "greeting(), line 30:\n    # TODO: Return the greeting as a tensor")
    assert client.failing_cause(todo) == "TODO open in greeting()"
    tf_error = _outcome("error", "ValueError: in user code:\n\n    File \"x_exo.py\", line 12, in step *\n"
                                 "        loss = secret_code(x)\n\n    ValueError: Shapes (None, 10) and "
                                 "(None, 1) are incompatible")
    assert client.failing_cause(tf_error) == "ValueError: Shapes (None, 10) and (None, 1) are incompatible"
    known = _outcome("error", "ValueError: No gradients provided for any variable")
    assert client.failing_cause(known).startswith("the loss does not depend on the variables")
    timeout = _outcome("timeout", "Stopped after 60 s (the time limit)\nmore")
    assert client.failing_cause(timeout) == "Stopped after 60 s (the time limit)"
    long = client.record_fields(exercise, _outcome("error", "KeyError: " + "k" * 500), hints=0)
    assert len(long["cause"]) == protocol.MAX_CAUSE
    accepted = protocol.record(dict(long, seq=1, age=0.0), {"neural_nets/softmax"})
    assert accepted["cause"] == long["cause"]


def test_addresses_as_students_type_them():
    assert client.normal_address("192.168.1.20") == "http://192.168.1.20:8765"
    assert client.normal_address(" http://192.168.1.20:9000/ ") == "http://192.168.1.20:9000"
    assert client.normal_address("lab-pc.local:8765") == "http://lab-pc.local:8765"
    for bad in ("", "ftp://x", "http://:80", "host:notaport"):
        with pytest.raises(ValueError, match="not a room's address"):
            client.normal_address(bad)


def test_protocol_accepts_what_the_client_builds():
    assert protocol.name("  Zoë Ñ.  ") == "Zoë Ñ."
    assert protocol.normal_code(" k7q-f3m ") == "K7QF3M"
    assert protocol.clean_text("a\tb\n\u202ec", 10) == "a b c"
    assert protocol.record(record(3), KNOWN)["seq"] == 3
    with pytest.raises(protocol.Invalid):
        protocol.record(record(3, age=float("inf")), KNOWN)
