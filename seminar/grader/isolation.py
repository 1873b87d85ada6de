"""Run one check in a child Python process, so that nothing the checked file does can fake or
hide the verdict.

The student's code runs in the child: ``sys.exit(0)``, ``os._exit(0)``, a crash, a signal, or an
infinite loop there ends only the child. The parent (``python -m seminar check``, ``seeds``,
``demo``) reads the child's report, a JSON file the child writes in stages, and decides:

- no final report: the child ended early, and the parent says how (exit status, signal, or the
  time limit it hit);
- a report of an error: the TODO not filled in, the student's traceback, a dataset missing;
- a report of metrics: the parent compares them with the manifest's thresholds itself.

Before the student's code runs, the child prepares what the exercise needs (its manifest entry's
``needs``: data, the digit judge, the pretrained network), saying so as it happens; that time is
not counted against the check's time limit. When the child has ended, every process it started is
ended too (:func:`_end_leftovers`), so nothing the checked code left behind outlives the verdict or
writes after it.

The child is ``python -m seminar.grader.isolation SPEC.json``, or a :class:`Standby` started ahead
(``--standby FOLDER ID``: TensorFlow imported, then waiting for the spec's path on its input), which
``watch`` keeps ready; either way one process runs one check.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

from seminar.grader import checker
from seminar.grader.checker import Outcome
from seminar.manifest import Exercise, load

# The stages the child reports, in order; the last one reached says where it stopped.
STAGE_STARTED = "started"
STAGE_TENSORFLOW = "loading TensorFlow"
STAGE_PREPARING = "preparing data and models"  # not counted in the time limit
STAGE_RUNNING = "running main()"
STAGE_DONE = "done"


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


_SIGNAL_MEANING = {
    "SIGILL": "an illegal instruction: this processor lacks an instruction the program was built "
              "for (TensorFlow's wheels need AVX on x86-64)",
    "SIGSEGV": "a segmentation fault (a crash in compiled code)",
    "SIGKILL": "killed, often by the system when memory runs out",
    "SIGABRT": "aborted by a failed check in compiled code",
}


def run(exercise: Exercise, path: pathlib.Path, *, seed: int | None = None, full: bool = False,
        output_dir: pathlib.Path | None = None, quiet: bool = True, time_limit: float | None = None,
        pdb: bool = False, extra_args: tuple[str, ...] = (), standby: "Standby | None" = None) -> Outcome:
    """Check ``path`` against ``exercise`` in a child process and return the :class:`Outcome`.

    The child's output goes straight to this process's standard output (progress lines); its
    standard input is this terminal's, so ``pdb`` can open a debugger there (then no time limit).
    A :class:`Standby` given (``watch`` keeps one) runs the check if it is still waiting, which
    saves the child's start and TensorFlow's import; otherwise a child is started as usual.
    """
    seed = exercise.test_seed if seed is None else seed
    known = None if pdb else checker.verdict_from_text(exercise, path)
    if known is not None:  # an open TODO or a syntax error: no need to start TensorFlow
        known.wall_seconds = 0.0
        return known
    with tempfile.TemporaryDirectory(prefix="seminar-isolated-") as scratch:
        scratch = pathlib.Path(scratch)
        report_path = scratch / "report.json"
        spec = {"exercise": exercise.id, "path": str(pathlib.Path(path).resolve()), "seed": seed,
                "full": full, "output_dir": str(output_dir) if output_dir else None, "quiet": quiet,
                "pdb": pdb, "extra_args": list(extra_args), "report": str(report_path),
                "tensorflow_log": str(scratch / "tensorflow.log")}
        spec_path = scratch / "spec.json"
        spec_path.write_text(json.dumps(spec), encoding="utf-8")
        sys.stdout.flush()
        started = time.perf_counter()
        _become_subreaper()
        before = _children()
        child = standby.take(spec_path) if standby is not None and not pdb else None
        if child is None:
            with _SPAWN_LOCK:  # started and recorded at once: see _end_leftovers
                child = subprocess.Popen([sys.executable, "-m", "seminar.grader.isolation",
                                          str(spec_path)],
                                         start_new_session=not pdb)  # own group: a timeout kills it all
                _SPAWNED.add(child.pid)
        try:
            returncode, prepared = _wait(child, report_path, None if pdb else time_limit)
        except BaseException:  # Ctrl-C in the parent: stop the child too
            _kill(child)
            raise
        finally:
            _end_leftovers(child, before)  # whatever the checked code started ends with its check
            _SPAWNED.discard(child.pid)
        wall = time.perf_counter() - started
        if returncode is None:
            return Outcome("timeout", message=(
                f"Stopped after {time_limit:.0f} s: a check of {exercise.id} may take at most that "
                f"long (a few times the solution's measured time; preparing its data and models "
                f"is not counted). An endless loop, or a step much slower than it should be? Look "
                f"for a loop whose condition never changes. Give it longer with --time-limit "
                f"SECONDS."), wall_seconds=wall)
        report = _read(report_path)
        outcome = _outcome(exercise, report, returncode, full, wall, scratch / "tensorflow.log")
        outcome.prepare_seconds = prepared
        return outcome


class Standby:
    """A child process started ahead of a check, waiting with TensorFlow already imported (and the
    exercise's data loaded) for the one check it will run, so that the check's first lines come
    without that wait. Each standby runs one check at most, like any child: a fresh process per
    check, and every guarantee of :func:`run` unchanged. ``watch`` starts the next one as soon as
    the last is used."""

    def __init__(self, exercise: Exercise):
        _become_subreaper()
        self.used = False
        self.folder = pathlib.Path(tempfile.mkdtemp(prefix="seminar-standby-"))
        with _SPAWN_LOCK:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "seminar.grader.isolation", "--standby", str(self.folder),
                 exercise.id], stdin=subprocess.PIPE, start_new_session=True)
            _SPAWNED.add(self.process.pid)

    def take(self, spec_path: pathlib.Path) -> subprocess.Popen | None:
        """The waiting process, handed the check's spec; None when it is no longer waiting (it
        died loading TensorFlow, or was stopped): the caller then starts a child as usual."""
        if self.used or self.process.poll() is not None:
            return None
        try:
            self.process.stdin.write(f"{spec_path}\n".encode("utf-8"))
            self.process.stdin.close()
        except OSError:
            return None
        self.used = True
        return self.process

    def close(self) -> None:
        """Stop the process if it still waits, and remove its folder."""
        if not self.used and self.process.poll() is None:
            _kill(self.process)
        if not self.used:
            _SPAWNED.discard(self.process.pid)
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()
        shutil.rmtree(self.folder, ignore_errors=True)


POLL_SECONDS = 0.2
PREPARE_LIMIT = 3600.0  # preparing (downloads bounded in seconds, a model trained once) stops here


def _wait(child: subprocess.Popen, report_path: pathlib.Path, limit: float | None):
    """Wait for the child; return ``(its exit status, seconds spent preparing)``, or ``(None, ...)``
    after killing it at the time limit. The time the child spends in :data:`STAGE_PREPARING`
    (fetching data, training the judge once) is not counted against the limit: it is not the
    student's code."""
    prepared, last = 0.0, time.perf_counter()
    deadline = None if limit is None else last + limit
    while True:
        try:
            return child.wait(timeout=POLL_SECONDS), prepared
        except subprocess.TimeoutExpired:
            pass
        now = time.perf_counter()
        if _read(report_path).get("stage") == STAGE_PREPARING:
            prepared += now - last
            if deadline is not None:
                deadline += now - last
            if prepared > PREPARE_LIMIT:
                _kill(child)
                return None, prepared
        last = now
        if deadline is not None and now > deadline:
            _kill(child)
            return None, prepared


def _become_subreaper() -> None:
    """On Linux, make this process the one that inherits the orphans of its descendants (instead of
    init), so that a process the checked code started in a session of its own (``setsid``) can
    still be found and ended with the check. Elsewhere, the process group is all there is."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass


def _children() -> set[int]:
    """The process ids whose parent is this process (Linux's /proc; empty elsewhere)."""
    own, found = os.getpid(), set()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == own:
            found.add(int(entry))
    return found


# The child processes this process started for checks (by any thread: `seeds --jobs 2` runs two
# checks at once), which the clean-up after one check must not take for leftovers of its own.
_SPAWNED: set[int] = set()
_SPAWN_LOCK = threading.Lock()


def _end_leftovers(child: subprocess.Popen, before: set[int]) -> None:
    """Kill every process the check started that is still there once its child process has ended:
    its process group, and the orphans re-parented to this process (see :func:`_become_subreaper`),
    round after round, since killing one orphans its own children."""
    if child.poll() is None:
        _kill(child)
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # the group is empty (the usual case), or no process groups here
    for _ in range(100):
        with _SPAWN_LOCK:
            leftovers = _children() - before - _SPAWNED - {child.pid}
        if not leftovers:
            return
        for pid in leftovers:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ChildProcessError, ProcessLookupError, PermissionError):
                pass


def _kill(child: subprocess.Popen) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (OSError, AttributeError):  # no process group (Windows, or --pdb)
        child.kill()
    child.wait()


def _read(path: pathlib.Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _outcome(exercise: Exercise, report: dict, returncode: int, full: bool, wall: float,
             tensorflow_log: pathlib.Path) -> Outcome:
    stage = report.get("stage", STAGE_STARTED)
    if stage == STAGE_DONE:
        outcome = Outcome.from_report(exercise, report, full)
        outcome.wall_seconds = wall
        return outcome
    # The child ended without its final report.
    how = (f"was killed by {_signal_name(-returncode)}" if returncode < 0
           else f"exited with status {returncode}")
    meaning = _SIGNAL_MEANING.get(_signal_name(-returncode), "") if returncode < 0 else ""
    if stage == STAGE_TENSORFLOW:
        log = ""
        try:
            log = tensorflow_log.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            pass
        message = f"The Python process {how} while loading TensorFlow" + (f": {meaning}" if meaning else ".")
        if log:
            message += "\nWhat TensorFlow printed:\n" + log[-3000:]
        message += ("\nCheck that `python -c \"import tensorflow\"` works in this environment "
                    "(see the README's set-up).")
        return Outcome("tensorflow", message=message, wall_seconds=wall)
    if stage == STAGE_PREPARING:  # before any of the student's code ran
        return Outcome("dataset", message=(
            f"The check stopped while preparing what {exercise.id} needs (its data and models): "
            f"the process {how}; what it printed is above. Run python -m seminar prepare "
            f"{exercise.id} to see it again, and the data page (docs/data.md) for the ways to "
            f"provide the data."), wall_seconds=wall)
    if returncode < 0:
        return Outcome("crash", message=f"The Python process running your code {how}"
                       + (f": {meaning}." if meaning else "."), wall_seconds=wall)
    return Outcome("exit", message=(
        f"Your code ended the Python process (it {how}) before main() returned its metrics: "
        f"a check cannot pass without them. Remove the os._exit() or exit call, or the crash "
        f"that caused it."), wall_seconds=wall)


# ---------------------------------------------------------------- the child


def _write(path: str, report: dict) -> None:
    """Replace the report atomically: the parent never reads half a file."""
    target = pathlib.Path(path)
    temporary = target.with_name(target.name + ".tmp")
    temporary.write_text(json.dumps(report), encoding="utf-8")
    os.replace(temporary, target)


def _import_tensorflow(log_path: str) -> str | None:
    """Import TensorFlow with its start-up notices sent to a file rather than the terminal; return
    the error text if the import raised (a crash leaves the file for the parent to show)."""
    import seminar

    seminar.loud_tensorflow_import()  # this function keeps the notices in its own log
    if os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":  # the user wants to see everything, here
        try:
            import tensorflow
        except Exception as error:  # noqa: BLE001  (shown to the user, whatever it is)
            return f"{type(error).__name__}: {error}"
        return None
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(log_path, "w") as log:
            os.dup2(log.fileno(), 2)
            try:
                import tensorflow  # noqa: F401  (imported for its effect: loading it)
            except Exception as error:  # noqa: BLE001  (shown to the user, whatever it is)
                return f"{type(error).__name__}: {error}"
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    return None


def _raised_by_argparse(stop: SystemExit) -> bool:
    """True when the exit comes from argparse refusing a flag (``parser.error``), not from the
    checked file calling exit itself."""
    frames = traceback.extract_tb(stop.__traceback__)
    return bool(frames) and pathlib.Path(frames[-1].filename).name == "argparse.py"


def standby_main(folder: str, exercise_id: str) -> int:
    """A :class:`Standby`: import TensorFlow and load the exercise's data now, then wait for the
    path of a check's spec on the standard input and run that check (nothing, if the input ends)."""
    log_path = str(pathlib.Path(folder) / "tensorflow.log")
    error = _import_tensorflow(log_path)
    if error is None:
        try:  # what the check needs, loaded ahead and silently: the check says what it does
            from seminar import prepare

            prepare.ensure(load().get(exercise_id).needs, say=lambda line: None, brief=True)
        except Exception:  # noqa: BLE001  (the check prepares again and reports any problem)
            pass
    spec_path = sys.stdin.readline().strip()
    if not spec_path:
        return 0
    return child_main(spec_path, imported=(error, log_path))


def child_main(spec_path: str, imported: tuple[str | None, str] | None = None) -> int:
    """Run one check as its spec says; ``imported`` is ``(import error or None, its log)`` when a
    standby imported TensorFlow already."""
    spec = json.loads(pathlib.Path(spec_path).read_text(encoding="utf-8"))
    report = spec["report"]
    _write(report, {"stage": STAGE_TENSORFLOW})
    if imported is None:
        error = _import_tensorflow(spec["tensorflow_log"])
    else:
        error, spec["tensorflow_log"] = imported
    if error is not None:
        log_path = pathlib.Path(spec["tensorflow_log"])  # absent when the notices went to the terminal
        log = log_path.read_text(encoding="utf-8", errors="replace") if log_path.exists() else ""
        _write(report, {"stage": STAGE_DONE, "kind": "tensorflow",
                        "message": f"TensorFlow failed to load: {error}\n{log[-3000:]}".strip()})
        return 0
    from datasets import DatasetUnavailable
    from seminar import prepare

    exercise = load().get(spec["exercise"])
    path = pathlib.Path(spec["path"])
    _write(report, {"stage": STAGE_PREPARING})
    try:  # data and models fetched or trained once: said as it happens, not counted in the limit
        prepare.ensure(exercise.needs, say=lambda line: print(line, flush=True), brief=True)
    except DatasetUnavailable as error:
        _write(report, {"stage": STAGE_DONE, "kind": "dataset", "message": str(error)})
        return 0
    _write(report, {"stage": STAGE_RUNNING})
    started = time.perf_counter()
    try:
        result = checker.run_checks(exercise, path, seed=spec["seed"], full=spec["full"],
                                    output_dir=pathlib.Path(spec["output_dir"]) if spec["output_dir"] else None,
                                    extra_args=tuple(spec["extra_args"]), quiet=spec["quiet"])
    except SystemExit as stop:
        if _raised_by_argparse(stop):  # a flag refused: argparse has printed why, in one line
            _write(report, {"stage": STAGE_DONE, "kind": "usage", "message": (
                "The script refused its flags (the line starting with 'error:' above says why).")})
            return 0
        _write(report, {"stage": STAGE_DONE, "kind": "exit", "message": (
            f"Your code called exit ({type(stop).__name__}: {stop.code!r}) before main() returned "
            f"its metrics: a check cannot pass without them. Remove the sys.exit() or exit() "
            f"call (to stop early while debugging, raise an exception instead).")})
        return 0
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001  (the student's error, reported to the parent)
        seconds = time.perf_counter() - started
        if checker.is_unfilled_todo(error):
            kind, message = "todo", checker.todo_report(error, path)
        elif isinstance(error, DatasetUnavailable):
            kind, message = "dataset", str(error)
        else:
            kind, message = "error", f"{type(error).__name__}: {error}"
        _write(report, {"stage": STAGE_DONE, "kind": kind, "message": message, "seconds": seconds,
                        "traceback": checker.student_traceback(error, path) if kind == "error" else ""})
        if spec["pdb"] and kind == "error":
            import ipdb

            ipdb.post_mortem(checker.traceback_at_student_frame(error, path))
        return 0
    _write(report, {"stage": STAGE_DONE, **result.report()})
    return 0


if __name__ == "__main__":
    if sys.argv[1] == "--standby":
        sys.exit(standby_main(sys.argv[2], sys.argv[3]))
    sys.exit(child_main(sys.argv[1]))
