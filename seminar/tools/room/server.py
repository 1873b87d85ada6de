"""The room's web server: ``python -m seminar room``. A Starlette application served by uvicorn on
the room's network, its state in SQLite (:mod:`.store`).

Routes (every ``/api/`` answer is JSON, ``{"error": sentence}`` when refused):

- ``POST /api/join`` ``{"code", "name"}``: a student's token (the room's code is needed);
- ``POST /api/records`` (``Authorization: Bearer TOKEN``): one check's record (:mod:`.protocol`),
  acknowledged after its commit: 201 stored, 200 a replay stored before (``"duplicate": true``);
- ``POST /api/leave`` (the token): the token is refused from then on;
- ``GET /api/dashboard`` (the instructor's key): the grid, the causes, who has been failing longest;
- ``GET /api/projector`` (the projector's key, or the instructor's): per exercise, how many passed;
- ``GET /dashboard``, ``GET /projector``: the pages, which hold no data: they read the key from the
  address's ``#key=...`` part (never sent to the server, never in a log) and poll the JSON above.

Limits: a request's body at most 16 KB; a token bucket per network address (generous: a room
behind NAT is one address), a tight one per student's token and one for joins; a refused request
is answered at once, without touching the database, so a flood slows no one else.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hmac
import json
import math
import pathlib
import signal
import socket
import sys
import threading
import time

import anyio
import uvicorn
from starlette.applications import Starlette
from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from seminar import manifest as course_manifest
from seminar.tools.room import protocol
from seminar.tools.room.store import NameTaken, Store, TokenRefused

STATIC = pathlib.Path(__file__).resolve().parent / "static"
PAGES = {"dashboard": "dashboard.html", "projector": "projector.html", "": "index.html"}
ASSETS = {"room.css": "text/css; charset=utf-8", "room.js": "text/javascript; charset=utf-8",
          "dashboard.js": "text/javascript; charset=utf-8",
          "projector.js": "text/javascript; charset=utf-8"}

DEFAULT_PORT = 8765


class Buckets:
    """Token buckets, one per key: ``capacity`` requests at once, refilled at ``rate`` a second.
    Kept in memory (a restart forgives everyone); the oldest keys are forgotten past ``keys``."""

    def __init__(self, capacity: float, rate: float, keys: int = 20000):
        self.capacity, self.rate, self.keys = capacity, rate, keys
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> float:
        """0 when a request may go ahead (and takes its token); else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1 if wait == 0 else tokens, now)  # most recent last
            while len(self._buckets) > self.keys:
                del self._buckets[next(iter(self._buckets))]
            return wait


class Limits:
    """The room's rate limits. Per network address: 5000 requests at once, then 100 a second (a
    room behind NAT is one address: 200 students sending 20 records each at once pass). Per
    student's token: 30 at once, then 1 a second (a student checks every few seconds at most; a
    laptop sending its queue after the network came back fits). Joins per address: 300 at once,
    then 2 a second (a whole room joining from one address in its first minute), which leaves a
    guesser of the 887 million room codes at two tries a second."""

    def __init__(self, per_address=(5000, 100.0), per_token=(30, 1.0), joins=(300, 2.0)):
        self.address = Buckets(*per_address)
        self.token = Buckets(*per_token)
        self.joins = Buckets(*joins)


# ---------------------------------------------------------------------------- answers


def error(status: int, message: str, headers: dict | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def too_many(wait: float, what: str) -> JSONResponse:
    seconds = max(1, math.ceil(wait))
    return error(429, f"too many requests {what}: wait {seconds} s and try again",
                 {"Retry-After": str(seconds)})


class Refused(Exception):
    def __init__(self, response: Response):
        super().__init__(response.status_code)
        self.response = response


def _no_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


async def read_json(request: Request):
    """The request's JSON body, or :class:`Refused`: not JSON (415), over :data:`MAX_BODY` (413,
    before reading it when its length is announced, else as soon as it goes past), not UTF-8 or
    not JSON (400, also NaN and Infinity, which JSON does not have)."""
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/json":
        raise Refused(error(415, "send JSON, with Content-Type: application/json"))
    limit = protocol.MAX_BODY
    length = request.headers.get("content-length")
    if length is not None and (not length.isdigit() or int(length) > limit):
        raise Refused(error(413, f"the body is larger than {limit} bytes"))
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise Refused(error(413, f"the body is larger than {limit} bytes"))
    except ClientDisconnect:  # gone before the end of its body: no one to answer
        raise Refused(error(400, "the body ended early")) from None
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as problem:
        raise Refused(error(400, f"the body is not JSON: {str(problem)[:120]}")) from None


def bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and 0 < len(value) <= 200 else None


def same_secret(given: str | None, secret: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode("utf-8"), secret.encode("utf-8"))


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# ---------------------------------------------------------------------------- the views


# A cell of the dashboard's grid, as a list (4000 of them for 200 students: names once, not in
# every cell): these fields, in this order; ``metrics`` is the JSON text the record carried.
CELL_FIELDS = ("passed", "kind", "cause", "last_at", "checks", "hints", "ever_passed",
               "failing_since", "metrics")


def dashboard_view(store: Store, exercises: list, chapters: list) -> dict:
    """What the instructor's page shows, from one consistent read of the database: each student's
    row has a cell per exercise in course order (null: not started)."""
    students, cells, records = store.snapshot()
    now = time.time()
    column = {e["id"]: i for i, e in enumerate(exercises)}
    active = {sid for sid, _, _, left in students if left is None}
    rows = {sid: {"id": sid, "name": name, "joined_at": joined, "left": left is not None,
                  "last_at": None, "cells": [None] * len(exercises)}
            for sid, name, joined, left in students}
    causes: dict[str, dict[str, int]] = {}
    stuck = []
    for (sid, exercise, passed, kind, cause, metrics, hints, last_at, checks, ever_passed,
         failing_since) in cells:
        if sid not in rows or exercise not in column:
            continue
        row = rows[sid]
        row["cells"][column[exercise]] = [passed, kind, cause, last_at, checks, hints, ever_passed,
                                          failing_since, metrics]
        row["last_at"] = max(row["last_at"] or 0, last_at)
        if not passed and sid in active:
            shown = cause or ("a threshold not met" if kind == "ran" else kind)
            counts = causes.setdefault(exercise, {})
            counts[shown] = counts.get(shown, 0) + 1
            if failing_since is not None:
                stuck.append({"student": sid, "name": row["name"], "exercise": exercise,
                              "since": failing_since, "cause": shown})
    ranked = [{"exercise": exercise,
               "failing": sum(counts.values()),
               "causes": [{"cause": cause, "students": n}
                          for cause, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]}
              for exercise, counts in sorted(causes.items(), key=lambda item: column[item[0]])]
    stuck.sort(key=lambda item: item["since"])
    return {"now": now, "code": store.code, "projector_key": store.projector_key,
            "records": records, "students_in_room": len(active), "exercises": exercises,
            "chapters": chapters, "cell_fields": CELL_FIELDS, "students": list(rows.values()),
            "causes": ranked, "stuck": stuck[:20]}


def projector_view(store: Store, exercises: list, chapters: list) -> dict:
    """Per exercise, how many students passed: no names, no causes."""
    students, cells, _ = store.snapshot()
    active = {sid for sid, _, _, left in students if left is None}
    passed = {e["id"]: 0 for e in exercises}
    failing = dict(passed)
    for sid, exercise, is_passing, *_ in cells:
        if sid in active and exercise in passed:
            (passed if is_passing else failing)[exercise] += 1
    return {"now": time.time(), "students": len(active), "chapters": chapters,
            "exercises": [dict(e, passed=passed[e["id"]], failing=failing[e["id"]])
                          for e in exercises]}


# ---------------------------------------------------------------------------- the application


SECURITY_HEADERS = {
    # The pages load their script and style from here and talk to here only; no inline script
    # can run, whatever a name or a cause holds.
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
                               "connect-src 'self'; img-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class SecurityHeaders:
    """Adds :data:`SECURITY_HEADERS` to every answer (an ASGI middleware)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(store: Store, limits: Limits | None = None, course=None) -> Starlette:
    limits = limits or Limits()
    course = course or course_manifest.load()
    exercises = [{"id": e.id, "chapter": e.chapter, "name": e.name, "title": e.title}
                 for e in course.exercises]
    chapters = [{"id": c.id, "title": c.title} for c in course.chapters]
    known = {e["id"] for e in exercises}
    files = {name: (STATIC / name).read_bytes() for name in [*PAGES.values(), *ASSETS]}

    def address_limit(request: Request) -> None:
        wait = limits.address.take(client_address(request))
        if wait:
            raise Refused(too_many(wait, "from this network address"))

    def token_of(request: Request) -> str:
        token = bearer(request)
        if token is None:
            raise Refused(error(401, "no token: join the room first (python -m seminar join "
                                     "ADDRESS CODE --name NAME)"))
        wait = limits.token.take("t:" + token)
        if wait:
            raise Refused(too_many(wait, "for this student"))
        return token

    async def write(change):
        return await asyncio.wrap_future(store.submit(change))

    def refused_token(refusal: TokenRefused) -> JSONResponse:
        if refusal.revoked:
            return error(401, "this token left the room: join again (python -m seminar join ADDRESS "
                              "CODE --name NAME)")
        return error(401, "the room does not know this token (another room, or a room started "
                          "afresh): join again (python -m seminar join ADDRESS CODE --name NAME)")

    async def join(request: Request) -> Response:
        try:
            address_limit(request)
            wait = limits.joins.take(client_address(request))
            if wait:
                return too_many(wait, "to join from this network address")
            code, name = protocol.join(await read_json(request))
        except Refused as refusal:
            return refusal.response
        except protocol.Invalid as problem:
            return error(422, str(problem))
        if not same_secret(code, store.code):
            return error(403, f"the room refused the code {code[:12]}: check it against the board")
        try:
            student, token = await write(Store.join_change(name, time.time()))
        except NameTaken:
            return error(409, f"someone in the room is already called {name}: join with another "
                              f"name (add an initial: --name '{name[:30]} B.')")
        return JSONResponse({"token": token, "student": student, "name": name,
                             "room": store.room_id}, status_code=201)

    async def add_record(request: Request) -> Response:
        try:
            address_limit(request)
            token = token_of(request)
            record = protocol.record(await read_json(request), known)
        except Refused as refusal:
            return refusal.response
        except protocol.Invalid as problem:
            return error(422, str(problem))
        try:
            stored = await write(Store.record_change(token, record, time.time()))
        except TokenRefused as refusal:
            return refused_token(refusal)
        return JSONResponse({"stored": True, "duplicate": not stored, "seq": record["seq"]},
                            status_code=201 if stored else 200)

    async def leave(request: Request) -> Response:
        try:
            address_limit(request)
            token = token_of(request)
        except Refused as refusal:
            return refusal.response
        try:
            await write(Store.leave_change(token, time.time()))
        except TokenRefused as refusal:
            return refused_token(refusal)
        return JSONResponse({"left": True})

    def encoded(view) -> bytes:
        return json.dumps(view(store, exercises, chapters), ensure_ascii=False,
                          separators=(",", ":")).encode("utf-8")

    def reader(view, *secrets):
        async def read(request: Request) -> Response:
            try:
                address_limit(request)
            except Refused as refusal:
                return refusal.response
            given = bearer(request)
            if given is None:
                return error(401, "this page needs the key: open the address `python -m seminar "
                                  "room` printed, which ends with #key=...")
            if not any(same_secret(given, secret) for secret in secrets):
                return error(403, "wrong key: open the address `python -m seminar room` printed "
                                  "(restarting the room prints it again)")
            # read and encoded in a worker thread: the event loop goes on taking records meanwhile
            body = await anyio.to_thread.run_sync(encoded, view)
            return Response(body, media_type="application/json")
        return read

    def page(name: str):
        async def show(request: Request) -> Response:
            try:
                address_limit(request)
            except Refused as refusal:
                return refusal.response
            return Response(files[name], media_type="text/html; charset=utf-8")
        return show

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in ASSETS:
            return error(404, "no such file")
        return Response(files[name], media_type=ASSETS[name])

    async def not_found(request: Request, exc) -> Response:
        return error(404, "no such page: the instructor's pages are /dashboard and /projector")

    async def not_allowed(request: Request, exc) -> Response:
        return error(405, "method not allowed here")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        yield
        store.close()  # after the last answer: every write in flight is committed

    routes = [
        Route("/", page(PAGES[""])),
        Route("/dashboard", page(PAGES["dashboard"])),
        Route("/dashboard/", lambda request: RedirectResponse("/dashboard")),
        Route("/projector", page(PAGES["projector"])),
        Route("/static/{name}", asset),
        Route("/api/join", join, methods=["POST"]),
        Route("/api/records", add_record, methods=["POST"]),
        Route("/api/leave", leave, methods=["POST"]),
        Route("/api/dashboard", reader(dashboard_view, store.instructor_key)),
        Route("/api/projector", reader(projector_view, store.projector_key, store.instructor_key)),
    ]
    app = Starlette(routes=routes, lifespan=lifespan,
                    exception_handlers={404: not_found, 405: not_allowed})
    app.add_middleware(SecurityHeaders)
    return app


# ---------------------------------------------------------------------------- the command


def lan_address() -> str:
    """This machine's address on the local network, best effort: the one it would reach other
    machines from (a UDP socket is pointed at a private address; no packet is sent), else the
    host name's, else 127.0.0.1."""
    for target in ("10.255.255.255", "192.168.255.255"):
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 1))
                address = probe.getsockname()[0]
            if address and not address.startswith("0."):
                return address
        except OSError:
            continue
    try:
        address = socket.gethostbyname(socket.gethostname())
        if address:
            return address
    except OSError:
        pass
    return "127.0.0.1"


def shown_host(host: str) -> str:
    if host in ("0.0.0.0", "", "::"):
        return lan_address()
    return f"[{host}]" if ":" in host else host


def _lock_data_dir(data_dir: pathlib.Path):
    """An exclusive lock on ``DATA_DIR/room.lock`` for as long as the room runs (None where file
    locks do not exist): two rooms on one folder would hand out one code twice."""
    try:
        import fcntl
    except ModuleNotFoundError:  # Windows
        return None
    handle = open(data_dir / "room.lock", "a+b")
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise
    return handle


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(1024)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _stop_on_sigterm(signum, frame):
    raise KeyboardInterrupt


def serve(host: str, port: int, data_dir: pathlib.Path, *, say=print) -> int:
    """Open the room and serve until Ctrl-C (or SIGTERM); 0 when it stopped, 1 when it could not
    start (the message says why and what to do)."""
    data_dir = pathlib.Path(data_dir).expanduser()
    try:
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        lock = _lock_data_dir(data_dir)
    except BlockingIOError:
        say(f"error: another room is running on {data_dir}: stop it (Ctrl-C in its terminal), "
            f"or give this one another --data-dir")
        return 1
    except OSError as problem:
        say(f"error: cannot use {data_dir} for the room's data ({problem.strerror or problem}): "
            f"give a folder you can write to with --data-dir")
        return 1
    try:
        store = Store(data_dir)
    except Exception as problem:  # noqa: BLE001 - sqlite3 or the file system: said, not a traceback
        say(f"error: cannot open the room's database in {data_dir}: {problem}. Give another "
            f"folder with --data-dir (a local disk)")
        return 1
    try:
        sock = _bind(host, port)
    except OSError as problem:
        store.close()
        if problem.errno == errno.EADDRINUSE:
            say(f"error: the port {port} is taken (another room running?): stop it, or choose "
                f"another, e.g. --port {port + 1}")
        elif problem.errno == errno.EACCES:
            say(f"error: the port {port} needs administrator rights: choose one above 1023, "
                f"e.g. --port {DEFAULT_PORT}")
        else:
            say(f"error: cannot listen on {host}:{port} ({problem.strerror or problem}): check "
                f"--host (0.0.0.0 listens on every network) and --port")
        return 1
    actual_port = sock.getsockname()[1]
    address = f"http://{shown_host(host)}:{actual_port}"
    # The instructor's pages on this machine: their keys then never cross the room's network.
    local = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(host, shown_host(host))
    local = f"http://{local}:{actual_port}"
    say(f"The room is open on {address}, its data in {store.path}")
    say("")
    say(f"  Room code, for the board:  {store.code}")
    say(f"  Students join with:        python -m seminar join {address} {store.code} --name \"First L.\"")
    say(f"  Your dashboard (secret):   {local}/dashboard#key={store.instructor_key}")
    say(f"  Projector view (no names): {local}/projector#key={store.projector_key}")
    say("")
    say("Keep the dashboard's address to yourself: its key reads every student's results (open it "
        "on this machine, as above, and the key never crosses the network). Ctrl-C stops the "
        "room; starting it again with the same --data-dir keeps the code, the keys and every "
        "record. If laptops cannot reach it: they must be on this machine's network, and its "
        f"firewall must let port {actual_port} in.")
    if host in ("127.0.0.1", "localhost", "::1"):
        say("note: --host " + host + " is reachable from this machine only: students need "
            "--host 0.0.0.0")
    sys.stdout.flush()
    config = uvicorn.Config(create_app(store), log_level="warning", access_log=False,
                            server_header=False, proxy_headers=False, lifespan="on",
                            timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        sock.close()
        store.close()
        if lock is not None:
            lock.close()
    say(f"\nThe room is closed; everything is kept in {data_dir}: start it again with "
        f"--data-dir {data_dir} to carry on.")
    return 0

