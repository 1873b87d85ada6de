"""The student and instructor command line: ``python -m seminar COMMAND``.

    list            every exercise in course order, with your progress
    check [ID]      run your exercise through its threshold test (no ID: the next one not passing)
    hint ID         the next hint for an exercise
    run ID          run the solution (for the instructor), with progress and plots
    demo [ID...]    run every solution's fast mode, plots into outputs/ (the README's first command)
    build           regenerate the skeletons from the solutions (for maintainers)
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import subprocess
import sys
import tempfile

from seminar import checker, runtime, skeleton
from seminar.manifest import REPO_ROOT, Exercise, ManifestError, load

PROGRESS_PATH = REPO_ROOT / ".seminar-progress.json"


# ---------------------------------------------------------------- progress file


def read_progress(path: pathlib.Path = PROGRESS_PATH) -> dict:
    """The student's ticks and hint counters; a missing or damaged file is an empty one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"status": {}, "hints_seen": {}}
    data.setdefault("status", {})
    data.setdefault("hints_seen", {})
    return data


def write_progress(data: dict, path: pathlib.Path = PROGRESS_PATH) -> None:
    """Write atomically, so an interrupted write never leaves half a file."""
    with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".progress-", delete=False,
                                     encoding="utf-8") as handle:
        json.dump(data, handle, indent=1, sort_keys=True)
    os.replace(handle.name, path)


def status_of(exercise: Exercise, progress: dict) -> str:
    return progress["status"].get(exercise.id, "not started")


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


def cmd_check(args: argparse.Namespace) -> int:
    progress = read_progress()
    if args.id:
        exercise = load().get(args.id)
    else:
        exercise = _next_exercise(progress)
        if exercise is None:
            print("Every exercise passes. Well done!")
            return 0
    path = exercise.solution_path if args.solution else exercise.exercise_path
    print(f"Checking {exercise.id}: {path.relative_to(REPO_ROOT)}", flush=True)
    try:
        result = checker.run_checks(exercise, path, seed=args.seed, quiet=not args.verbose)
    except Exception as error:  # report the student's error, not the harness's
        if not args.solution:
            progress["status"][exercise.id] = "failing"
            write_progress(progress)
        if checker.is_unfilled_todo(error):
            print(f"\nNot done yet: {error}")
            print(f"Hint 1: {exercise.hints[0]}")
        else:
            print("\nYour code raised an error:\n")
            print(checker.student_traceback(error, path))
        if args.pdb:
            import ipdb

            ipdb.post_mortem(error.__traceback__)
        print(f"FAIL {exercise.id}")
        return 1
    for line in result.results:
        print("  " + line.line())
    if not args.solution:
        progress["status"][exercise.id] = "passing" if result.passed else "failing"
        write_progress(progress)
    print(("PASS " if result.passed else "FAIL ") + exercise.id)
    if not result.passed:
        print(f"Hint: python -m seminar hint {exercise.id}")
    return 0 if result.passed else 1


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
    module = checker.load_module(exercise.solution_path)
    argv = list(args.script_args)
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

    hint = commands.add_parser("hint", help="the next hint for an exercise")
    hint.add_argument("id")
    hint.set_defaults(func=cmd_hint)

    run = commands.add_parser("run", help="run a solution (instructor); flags after the id go to the script")
    run.add_argument("id")
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
