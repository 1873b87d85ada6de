"""The student and instructor command line: ``python -m seminar COMMAND``.

    list            every exercise in course order, with your progress
    check [ID]      run your exercise through its threshold test (no ID: the next one not passing)
    watch [ID]      check again each time you save the file
    hint ID         the next hint for an exercise
    run ID          run the solution (for the instructor), with progress and plots
    demo [ID...]    run every solution's fast mode, plots into outputs/ (the README's first command)
    reset ID        restore the original skeleton (asks first; your file is kept as a backup)
    build           regenerate the skeletons from the solutions (for maintainers)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from datasets import DatasetUnavailable
from seminar import checker, runtime, skeleton
from seminar.manifest import REPO_ROOT, Exercise, ManifestError, load

PROGRESS_PATH = REPO_ROOT / ".seminar-progress.json"


# ---------------------------------------------------------------- progress file


def read_progress(path: pathlib.Path | None = None) -> dict:
    """The student's ticks and hint counters; a missing or damaged file is an empty one."""
    path = path or PROGRESS_PATH
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"status": {}, "hints_seen": {}}
    data.setdefault("status", {})
    data.setdefault("hints_seen", {})
    return data


def write_progress(data: dict, path: pathlib.Path | None = None) -> None:
    """Write atomically, so an interrupted write never leaves half a file."""
    path = path or PROGRESS_PATH
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".progress-", delete=False,
                                     encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(handle.name, path)


def _shown(path: pathlib.Path) -> str:
    """A path as the student would type it: relative to the repository when inside it."""
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def status_of(exercise: Exercise, progress: dict) -> str:
    return progress["status"].get(exercise.id, "not started")


def quiet_tensorflow_import() -> None:
    """Import TensorFlow with the C-level stderr silenced: it prints a few lines of start-up notices
    that no environment variable can turn off and that bury the one line a student needs.
    ``TF_CPP_MIN_LOG_LEVEL=0`` keeps them. Python errors are raised as usual."""
    if "tensorflow" in sys.modules or os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3") == "0":
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            with contextlib.suppress(ImportError):
                import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


# ---------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    manifest = load()
    progress = read_progress()
    passed = 0
    for chapter in manifest.chapters:
        exercises = manifest.in_chapter(chapter.id)
        if not exercises:
            continue
        print(f"\n{chapter.title}  (slides {chapter.slides})")
        for exercise in exercises:
            state = status_of(exercise, progress)
            passed += state == "passing"
            mark = {"passing": "[x]", "failing": "[!]"}.get(state, "[ ]")
            print(f"  {mark} {exercise.id:<38} {state:<12} {exercise.title}")
    total = len(manifest.exercises)
    bar = "#" * round(30 * passed / max(total, 1))
    print(f"\nProgress: [{bar:<30}] {passed}/{total} exercises passing")
    return 0


def _next_exercise(progress: dict) -> Exercise | None:
    for exercise in load().exercises:
        if status_of(exercise, progress) != "passing":
            return exercise
    return None


def _chosen_exercise(exercise_id: str | None) -> Exercise | None:
    """The exercise named, or the first one in course order that is not passing yet."""
    return load().get(exercise_id) if exercise_id else _next_exercise(read_progress())


def _stop_at_student_frame(error: BaseException, path: pathlib.Path):
    """The traceback cut after the last frame in the student's file, so that the debugger opens on
    the student's failing line rather than deep inside TensorFlow."""
    traceback = error.__traceback__
    path = path.resolve()
    last_own = None
    entry = traceback
    while entry is not None:
        if pathlib.Path(entry.tb_frame.f_code.co_filename).resolve() == path:
            last_own = entry
        entry = entry.tb_next
    if last_own is not None:
        last_own.tb_next = None
    return traceback


def check_once(exercise: Exercise, path: pathlib.Path, *, seed: int | None = None,
               verbose: bool = False, pdb: bool = False, record: bool = True) -> int:
    """Check one file against the exercise's thresholds; print one clear verdict; return the exit
    status (0 pass, 1 fail). ``record`` updates the student's progress file."""
    progress = read_progress()
    print(f"Checking {exercise.id}: {_shown(path)}", flush=True)
    quiet_tensorflow_import()
    try:
        result = checker.run_checks(exercise, path, seed=seed, quiet=not verbose)
    except Exception as error:  # report the student's error, not the harness's
        if record:
            progress["status"][exercise.id] = "failing"
            write_progress(progress)
        if checker.is_unfilled_todo(error):
            print(f"\nNot done yet: {checker.todo_text(error)}")
            print(f"Hint 1: {exercise.hints[0]}")
        elif isinstance(error, DatasetUnavailable):
            print(f"\n{error}")
        else:
            print("\nYour code raised an error:\n")
            print(checker.student_traceback(error, path))
        if pdb:
            import ipdb

            ipdb.post_mortem(_stop_at_student_frame(error, path))
        print(f"FAIL {exercise.id}")
        return 1
    for line in result.results:
        print("  " + line.line())
    if record:
        progress["status"][exercise.id] = "passing" if result.passed else "failing"
        write_progress(progress)
    print(("PASS " if result.passed else "FAIL ") + exercise.id)
    if not result.passed:
        print(f"Hint: python -m seminar hint {exercise.id}")
    return 0 if result.passed else 1


def cmd_check(args: argparse.Namespace) -> int:
    exercise = _chosen_exercise(args.id)
    if exercise is None:
        print("Every exercise passes. Well done!")
        return 0
    path = exercise.solution_path if args.solution else exercise.exercise_path
    return check_once(exercise, path, seed=args.seed, verbose=args.verbose, pdb=args.pdb,
                      record=not args.solution)


def _modification_time(path: pathlib.Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def watch(exercise: Exercise, *, interval: float = 0.5, max_runs: int | None = None,
          seed: int | None = None, sleep=time.sleep) -> int:
    """Check the exercise now and again each time its file is saved, until Ctrl-C (or
    ``max_runs`` checks). Returns the last check's exit status."""
    path = exercise.exercise_path
    runs, status = 0, 1
    last_seen = None
    try:
        while max_runs is None or runs < max_runs:
            stamp = _modification_time(path)
            if stamp != last_seen:
                last_seen = stamp
                print("\n" + "-" * 72, flush=True)
                status = check_once(exercise, path, seed=seed)
                runs += 1
                print(f"\nWatching {_shown(path)}: save it to check again, Ctrl-C to stop.",
                      flush=True)
            else:
                sleep(interval)
    except KeyboardInterrupt:
        print("\nStopped watching.")
    return status


def cmd_watch(args: argparse.Namespace) -> int:
    exercise = _chosen_exercise(args.id)
    if exercise is None:
        print("Every exercise passes. Well done!")
        return 0
    return watch(exercise, interval=args.interval, seed=args.seed)


def cmd_reset(args: argparse.Namespace, ask=input) -> int:
    """Put back the original skeleton, after asking, keeping a backup of the student's file."""
    exercise = load().get(args.id)
    target = exercise.exercise_path
    original = committed_text(target)
    if original is None:  # no git: the skeleton is generated from the solution, as committed
        original = skeleton.build(exercise.solution_path.read_text(encoding="utf-8"), exercise.id,
                                  exercise.solution)
    current = target.read_text(encoding="utf-8") if target.exists() else None
    if current == original:
        print(f"{exercise.exercise} is already the original skeleton: nothing to do.")
        return 0
    backup = target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}")
    if not args.yes:
        answer = ask(f"Replace {exercise.exercise} with the original skeleton? Your file is first "
                     f"copied to {backup.name}. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    if current is not None:
        counter = 1
        while backup.exists():  # never overwrite an earlier backup
            backup = target.with_name(f"{target.name}.bak-{time.strftime('%Y%m%d-%H%M%S')}-{counter}")
            counter += 1
        shutil.copy2(target, backup)
        print(f"Your file is kept as {_shown(backup)}")
    target.write_text(original, encoding="utf-8")
    progress = read_progress()
    progress["status"].pop(exercise.id, None)
    write_progress(progress)
    print(f"{exercise.exercise} is the original skeleton again.")
    return 0


def cmd_hint(args: argparse.Namespace) -> int:
    exercise = load().get(args.id)
    progress = read_progress()
    seen = progress["hints_seen"].get(exercise.id, 0)
    index = min(seen, len(exercise.hints) - 1)
    print(f"Hint {index + 1}/{len(exercise.hints)} for {exercise.id}: {exercise.hints[index]}")
    if index + 1 == len(exercise.hints):
        print("(that was the last hint)")
    progress["hints_seen"][exercise.id] = index + 1
    write_progress(progress)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    exercise = load().get(args.id)
    quiet_tensorflow_import()
    module = checker.load_module(exercise.solution_path)
    argv = list(args.script_args)
    if not args.no_show and "--show" not in argv:
        argv.append("--show")  # in front of the room the plots open on screen
    metrics = module.main(argv)
    results = checker.evaluate(exercise, metrics, full="--fast" not in argv)
    print(f"\n{exercise.id} ({'fast' if '--fast' in argv else 'full'} run):")
    for line in results:
        print("  " + line.line())
    return 0 if all(r.passed for r in results) else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every solution (fast unless --full) with plots into outputs/, and print a summary."""
    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    rows = []
    quiet_tensorflow_import()
    for number, exercise in enumerate(exercises, 1):
        print(f"\n=== [{number}/{len(exercises)}] {exercise.id}: {exercise.title}", flush=True)
        output_dir = runtime.default_output_dir(exercise.id)
        result = checker.run_checks(exercise, exercise.solution_path, full=args.full,
                                    output_dir=output_dir, quiet=args.quiet)
        for line in result.results:
            print("  " + line.line())
        rows.append((exercise.id, result.passed, output_dir))
    print("\nSummary (" + ("full" if args.full else "fast") + " runs):")
    for exercise_id, passed, output_dir in rows:
        print(f"  {'PASS' if passed else 'FAIL'}  {exercise_id:<38} plots: {output_dir}")
    return 0 if all(passed for _, passed, _ in rows) else 1


def committed_text(path: pathlib.Path) -> str | None:
    """The file as committed in git's HEAD, or None (not committed, or no git)."""
    relative = path.resolve().relative_to(REPO_ROOT).as_posix()
    try:
        shown = subprocess.run(["git", "-C", str(REPO_ROOT), "show", f"HEAD:{relative}"],
                               capture_output=True, text=True, check=False)
    except OSError:
        return None
    return shown.stdout if shown.returncode == 0 else None


def cmd_build(args: argparse.Namespace) -> int:
    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    stale, refused = [], []
    for exercise in exercises:
        wanted = skeleton.build(exercise.solution_path.read_text(encoding="utf-8"), exercise.id,
                                exercise.solution)
        target = exercise.exercise_path
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if current == wanted:
            continue
        stale.append(exercise.exercise)
        if args.check:
            continue
        # Never overwrite a student's work: only a file that is missing, or unchanged since it was
        # committed, may be regenerated (unless --force).
        if current is not None and current != committed_text(target) and not args.force:
            refused.append(exercise.exercise)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted, encoding="utf-8")
        print(f"wrote {exercise.exercise}")
    if args.check:
        for name in stale:
            print(f"out of date: {name} (run: python -m seminar build)")
        return 1 if stale else 0
    for name in refused:
        print(f"left alone: {name} has changes that are not committed (your work?); "
              f"commit or move them, or pass --force to overwrite")
    return 1 if refused else 0


# ---------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seminar", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="every exercise with your progress").set_defaults(func=cmd_list)

    check = commands.add_parser("check", help="check your exercise against its threshold")
    check.add_argument("id", nargs="?", help="e.g. sgd/linear_regression (default: the next one not passing)")
    check.add_argument("--seed", type=int, default=None, help="seed (default: the manifest's test seed)")
    check.add_argument("--pdb", action="store_true", help="on an error, stop in ipdb where it happened")
    check.add_argument("--verbose", action="store_true", help="show the script's own progress output")
    check.add_argument("--solution", action="store_true", help="check the solution instead of your file")
    check.set_defaults(func=cmd_check)

    watch = commands.add_parser("watch", help="check again each time you save the file (Ctrl-C stops)")
    watch.add_argument("id", nargs="?", help="default: the next exercise not passing")
    watch.add_argument("--seed", type=int, default=None)
    watch.add_argument("--interval", type=float, default=0.5, help="seconds between looks at the file")
    watch.set_defaults(func=cmd_watch)

    reset = commands.add_parser("reset", help="restore the original skeleton (asks first, keeps a backup)")
    reset.add_argument("id")
    reset.add_argument("--yes", action="store_true", help="do not ask")
    reset.set_defaults(func=cmd_reset)

    hint = commands.add_parser("hint", help="the next hint for an exercise")
    hint.add_argument("id")
    hint.set_defaults(func=cmd_hint)

    run = commands.add_parser("run", help="run a solution with its plots on screen (instructor); "
                                          "flags after the id go to the script")
    run.add_argument("id")
    run.add_argument("--no-show", action="store_true", help="write the plots without opening them")
    run.add_argument("script_args", nargs=argparse.REMAINDER, help="e.g. --show --epochs 5")
    run.set_defaults(func=cmd_run)

    demo = commands.add_parser("demo", help="run every solution (fast) and write its plots to outputs/")
    demo.add_argument("ids", nargs="*", help="only these exercises (default: all)")
    demo.add_argument("--full", action="store_true", help="full runs instead of fast ones")
    demo.add_argument("--quiet", action="store_true", help="no per-epoch progress")
    demo.set_defaults(func=cmd_demo)

    build = commands.add_parser("build", help="regenerate *_exo.py skeletons from the solutions")
    build.add_argument("ids", nargs="*")
    build.add_argument("--check", action="store_true", help="only report skeletons that are out of date")
    build.add_argument("--force", action="store_true", help="overwrite skeletons with uncommitted changes")
    build.set_defaults(func=cmd_build)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ManifestError, skeleton.SkeletonError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
