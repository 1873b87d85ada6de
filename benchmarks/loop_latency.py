"""How long a student waits for a verdict: a benchmark that prints figures, not a test.

For each exercise given (default: all), three files are checked the way `check` and `watch` check
them: the untouched skeleton, the first planted bug of its overlays that the probes catch before
training, and the solution. For each it prints the seconds from the start to the first line, to
the probes' verdict (the "Found before training" block, for the bug) and to the final verdict:

- `check`: a new `python -m seminar`-like process per check (Python, then the checker's own child);
- `watch`: the check that follows a save in a running `watch`, whose standby process has
  TensorFlow loaded already (the time from the save).

    python benchmarks/loop_latency.py                         # every exercise: minutes
    python benchmarks/loop_latency.py intro/hello_world neural_nets/softmax
    python benchmarks/loop_latency.py --no-fast sgd/linear_regression   # as before the answer from the text
    python benchmarks/loop_latency.py --test-suite           # make test's wall time, its slowest tests

`--test-suite` runs the README's test command (`make test`: pytest over the cores) and prints its
wall time, the test counts and the 15 slowest tests; nothing else should run meanwhile.

Run it on an otherwise idle machine and say which, with the date, beside the figures.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import subprocess
import sys
import tempfile
import time

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from seminar import manifest  # noqa: E402  (after the path above)
from seminar.tools import overlays, sweep  # noqa: E402

DRIVER = """
import pathlib, sys
from seminar import manifest
from seminar.grader import checker
from seminar.tools import cli
if {no_fast!r}:
    checker.verdict_from_text = lambda exercise, path: None
exercise = manifest.load().get({exercise_id!r})
if {watch!r}:
    import time
    path = pathlib.Path({path!r})
    def save(seconds):
        time.sleep(5)  # the standby loads TensorFlow meanwhile, as while a student types
        print("SAVED", flush=True)
        path.touch()
    cli.watch(exercise, path=path, max_runs=2, sleep=save)
else:
    cli.check_once(exercise, pathlib.Path({path!r}), record=False, quiet=True)
"""


def timed_lines(exercise_id: str, path: pathlib.Path, *, watch: bool, no_fast: bool) -> dict:
    """Run one check in a fresh Python process; the seconds at which its lines appeared."""
    code = DRIVER.format(exercise_id=exercise_id, path=str(path), watch=watch, no_fast=no_fast)
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    seen: dict[str, float] = {}
    for line in child.stdout:
        now = time.perf_counter() - started
        if line.startswith("SAVED"):  # watch: time from the save, not from the start
            started, seen = time.perf_counter(), {}
            continue
        seen.setdefault("first line", now)
        if line.startswith("Found before training"):
            seen.setdefault("probes", now)
        if line.startswith(("PASS ", "FAIL ")):
            seen["verdict"] = now
            seen["passed"] = line.startswith("PASS")
    child.wait()
    return seen


def probe_caught_mutant(exercise, folder: pathlib.Path) -> pathlib.Path | None:
    """The first planted bug of the exercise whose check stops before training (probed in this
    process, which is quicker than a check per mutant)."""
    from seminar.grader import checker, grading

    for overlay in overlays.load(exercise.id):
        if overlay.kind != "mutant":
            continue
        path = overlays.write(overlay, exercise.solution_path, folder)
        try:
            module = checker.load_module(path)
            found = grading.run_probes(grading.load(exercise),
                                       grading.Context(exercise, module, exercise.test_seed, False))
        except Exception:  # noqa: BLE001  (a mutant that raises is caught too, but not by a finding)
            continue
        if any(f.fatal for f in found):
            return path
    return None


def test_suite(workers: str) -> int:
    """``make test``'s pytest, timed from outside: its wall time, counts and slowest tests."""
    command = [sys.executable, "-m", "pytest", "-n", workers, "-p", "no:cacheprovider", "-q",
               "--durations=15"]
    print(f"# {machine()}\n$ {' '.join(command[1:])}", flush=True)
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = done.stdout.splitlines()
    slowest = [line for line in lines if re.match(r"^\d+\.\d+s (call|setup|teardown) ", line)]
    counts = [line for line in lines if re.search(r"\d+ (passed|failed)", line)]
    print(f"wall time: {wall:.0f} s ({wall / 60:.1f} min), exit status {done.returncode}")
    print("result: " + (counts[-1].strip("= ") if counts else "(no summary line)"))
    print("the 15 slowest:")
    for line in slowest:
        print("  " + line)
    return done.returncode


def machine() -> str:
    return f"{sweep.machine_description('this benchmark')}; {time.strftime('%Y-%m-%d')}"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("ids", nargs="*", help="exercises (default: all)")
    parser.add_argument("--no-fast", action="store_true",
                        help="no answer from the file's text (as before it existed)")
    parser.add_argument("--test-suite", action="store_true",
                        help="time make test's pytest instead (minutes)")
    parser.add_argument("--workers", default="auto", help="with --test-suite: pytest -n (0: one process)")
    args = parser.parse_args(argv)
    if args.test_suite:
        return test_suite(args.workers)
    course = manifest.load()
    exercises = [course.get(i) for i in args.ids] if args.ids else list(course.exercises)
    print(f"# {machine()}")
    print(f"{'exercise':40} {'file':9} {'how':6} {'first line':>10} {'probes':>7} {'verdict':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for exercise in exercises:
            mutant = probe_caught_mutant(exercise, pathlib.Path(folder))
            files = [("skeleton", exercise.exercise_path), ("bug", mutant),
                     ("solution", exercise.solution_path)]
            for name, path in files:
                if path is None:
                    continue
                for how in ("check", "watch"):
                    seen = timed_lines(exercise.id, path, watch=how == "watch", no_fast=args.no_fast)
                    cells = [f"{seen[k]:.1f}" if k in seen else "-" for k in ("first line", "probes", "verdict")]
                    print(f"{exercise.id:40} {name:9} {how:6} {cells[0]:>10} {cells[1]:>7} {cells[2]:>8}",
                          flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
