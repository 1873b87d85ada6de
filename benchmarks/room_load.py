"""The room under load: a benchmark that prints figures, not a test.

A room (`python -m seminar room`, in a process of its own, on a scratch data folder) gets 200
simulated students at once: each joins, then all send 20 records each as fast as they can, with
the students' own client code (`seminar.tools.room.client`: a new connection per record, as a
laptop sends them), one thread per student. Meanwhile the instructor's dashboard JSON is fetched
every 0.25 s and its latency measured, then again for 2.5 s after the flood, for comparison.
Afterwards the records are counted in the database.

    python benchmarks/room_load.py                      # 200 students x 20 records
    python benchmarks/room_load.py --students 60 --records 50

All the students come from one address (127.0.0.1), as a room behind NAT does: the room's per-address
limit is generous for that reason, and the per-student limit (30 at once, then 1 a second) lets
20 records at once through. Run it on an otherwise idle machine and say which, with the date.
"""

from __future__ import annotations

import argparse
import datetime
import http.client
import os
import pathlib
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from seminar import manifest  # noqa: E402  (after the path above)
from seminar.tools.room import client  # noqa: E402


def processor() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        found = re.search(r"Model name:\s*(.+)", text)
        if found:
            return found.group(1).strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or platform.machine()


def start_room(data_dir: pathlib.Path) -> tuple[subprocess.Popen, str, str, str]:
    process = subprocess.Popen([sys.executable, "-m", "seminar", "room", "--host", "127.0.0.1",
                                "--port", "0", "--data-dir", str(data_dir)], cwd=REPO_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=dict(os.environ, PYTHONUNBUFFERED="1"))
    printed = ""
    for line in process.stdout:
        printed += line
        if "Projector view" in line:
            break
    else:
        raise SystemExit(f"the room did not start:\n{printed}")
    address = re.search(r"open on (http://[\d.]+:\d+)", printed).group(1)
    code = re.search(r"Room code, for the board: +(\w+)", printed).group(1)
    key = re.search(r"/dashboard#key=(\S+)", printed).group(1)
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, address, code, key


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--records", type=int, default=20, help="records per student")
    args = parser.parse_args(argv)
    exercises = [e.id for e in manifest.load().exercises]
    load_before = os.getloadavg() if hasattr(os, "getloadavg") else None

    with tempfile.TemporaryDirectory(prefix="room-load-") as scratch:
        data_dir = pathlib.Path(scratch)
        process, address, code, key = start_room(data_dir)
        host, port = address.removeprefix("http://").rsplit(":", 1)
        try:
            # 1. Everyone joins, at once.
            tokens: list[str | None] = [None] * args.students
            join_errors: list[str] = []

            def join(index: int) -> None:
                status, answer = client._post(f"{address}/api/join",
                                              {"code": code, "name": f"Student {index:03d}"}, timeout=60)
                if status == 201:
                    tokens[index] = answer["token"]
                else:
                    join_errors.append(f"{status} {answer}")

            started = time.perf_counter()
            threads = [threading.Thread(target=join, args=(i,)) for i in range(args.students)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            join_seconds = time.perf_counter() - started
            if join_errors:
                raise SystemExit(f"{len(join_errors)} joins failed, e.g. {join_errors[0]}")

            # 2. The flood, and the dashboard's latency meanwhile.
            statuses: dict[int | str, int] = {}
            lock = threading.Lock()
            barrier = threading.Barrier(args.students + 1)
            flooding = threading.Event()

            def send(index: int) -> None:
                barrier.wait()
                for seq in range(1, args.records + 1):
                    body = {"seq": seq, "exercise": exercises[(index + seq) % len(exercises)],
                            "passed": seq % 3 == 0, "kind": "ran",
                            "cause": None if seq % 3 == 0 else f"cause number {seq % 5}",
                            "metrics": {"test_accuracy": 0.5 + seq / 100}, "hints": seq % 4, "age": 0.0}
                    try:
                        status, _ = client._post(f"{address}/api/records", body, token=tokens[index],
                                                 timeout=60)
                    except client.Unreachable as problem:
                        status = f"unreachable: {problem}"
                    with lock:
                        statuses[status] = statuses.get(status, 0) + 1

            latencies: list[float] = []
            idle: list[float] = []

            def poll_dashboard(latencies=latencies) -> None:
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
                while flooding.is_set():
                    began = time.perf_counter()
                    connection.request("GET", "/api/dashboard", headers={"Authorization": f"Bearer {key}"})
                    response = connection.getresponse()
                    response.read()
                    if response.status != 200:
                        raise SystemExit(f"the dashboard answered {response.status}")
                    latencies.append(time.perf_counter() - began)
                    time.sleep(0.25)
                connection.close()

            threads = [threading.Thread(target=send, args=(i,)) for i in range(args.students)]
            for thread in threads:
                thread.start()
            flooding.set()
            poller = threading.Thread(target=poll_dashboard)
            poller.start()
            barrier.wait()
            started = time.perf_counter()
            for thread in threads:
                thread.join()
            flood_seconds = time.perf_counter() - started
            flooding.clear()
            poller.join()
            # The same JSON with the flood over, for comparison (every student and record stored).
            flooding.set()
            poller = threading.Thread(target=poll_dashboard, args=(idle,))
            poller.start()
            time.sleep(2.6)
            flooding.clear()
            poller.join()
        finally:
            process.terminate()
            process.wait(timeout=60)
        with sqlite3.connect(data_dir / "room.sqlite3") as connection:
            stored = connection.execute("SELECT COUNT(*) FROM records").fetchone()[0]

    sent = args.students * args.records
    print(f"machine: {processor()}, {os.cpu_count()} cores; {platform.python_version()}; "
          f"{datetime.date.today().isoformat()}; load average before: "
          f"{' '.join(f'{x:.1f}' for x in load_before) if load_before else 'n/a'}")
    print(f"{args.students} students joined at once in {join_seconds:.2f} s")
    print(f"{sent} records sent ({args.students} students x {args.records}, at once) in "
          f"{flood_seconds:.1f} s: {sent / flood_seconds:.0f} records/s; answers: "
          + ", ".join(f"{status}: {count}" for status, count in sorted(statuses.items(), key=str)))
    print(f"stored in the database afterwards: {stored} of {sent}")
    if latencies:
        print(f"dashboard JSON during the flood: {len(latencies)} requests, median "
              f"{statistics.median(latencies) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms")
    if idle:
        print(f"dashboard JSON after it (the same data, no flood): {len(idle)} requests, median "
              f"{statistics.median(idle) * 1000:.0f} ms, max {max(idle) * 1000:.0f} ms")
    return 0 if stored == sent and latencies and max(latencies) < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
