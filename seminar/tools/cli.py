"""The student and instructor command line: ``python -m seminar COMMAND``.

    list            every exercise in course order, with your progress
    check [ID]      run your exercise through its threshold test (no ID: the next one not passing)
    watch [ID]      check again each time you save the file
    hint ID         the next hint for an exercise
    run ID          run the solution (for the instructor), with progress and plots
    demo [ID...]    run every solution's fast mode, plots into outputs/ (the README's first command)
    reset ID        restore the original skeleton (asks first; your file is kept as a backup)
    seeds [ID...]   run solutions (or your file) on many seeds: a table, also written as CSV
    score FILE.csv  score a Kaggle-style submission of the deep-features competition
    join ADDR CODE  join the instructor's room (--name NAME): each check then sends it its verdict
    leave           leave the room: checks send nothing more

For instructors and maintainers:

    prepare [ID...]    before the day: fetch the data, train the judge and the pretrained network
    new CHAPTER/NAME   the files of a new exercise, from a working template (--like OTHER/ID)
    verify ID          every rule an exercise must follow, as a checklist (--run: its checks too)
    build              regenerate the skeletons and the documentation's generated parts
    curves [ID...]     keep the solutions' training loss curves (benchmarks/curves/)
    room               open a room on the local network: every student's checks on your dashboard
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import shutil
import sys
import tempfile
import time

from seminar import runtime
from seminar.grader import isolation
from seminar.grader.checker import Outcome
from seminar.grader.markers import MarkerError
from seminar.manifest import Exercise, ManifestError, load, shown_path
from seminar.tools import overlays, progress, room, skeleton, sweep
from seminar.tools.git_files import committed_text



# ---------------------------------------------------------------- commands


def cmd_list(args: argparse.Namespace) -> int:
    manifest = load()
    record = progress.read_progress()
    rows = {}  # exercise id -> (mark, state shown)
    for exercise in manifest.exercises:
        state, changed = progress.verdict(exercise, record)  # by the file's bytes, not its times
        if changed:  # saved since: the verdict is stale
            rows[exercise.id] = ("[~]", f"changed since its {state} check")
        else:
            rows[exercise.id] = ({"passing": "[x]", "failing": "[!]"}.get(state, "[ ]"), state)
    width = max(12, *(len(shown) for _, shown in rows.values()))
    for chapter in manifest.chapters:
        exercises = manifest.in_chapter(chapter.id)
        if not exercises:
            continue
        print(f"\n{chapter.title}  (slides {chapter.slides})")
        for exercise in exercises:
            mark, shown = rows[exercise.id]
            print(f"  {mark} {exercise.id:<38} {shown:<{width}} {exercise.title}")
    passed = sum(mark == "[x]" for mark, _ in rows.values())
    total = len(manifest.exercises)
    bar = "#" * round(30 * passed / max(total, 1))
    print(f"\nProgress: [{bar:<30}] {passed}/{total} exercises passing")
    return 0


def _next_exercise(record: dict) -> Exercise | None:
    for exercise in load().exercises:
        if progress.status_of(exercise, record) != "passing":
            return exercise
    return None


def chosen_exercise(exercise_id: str | None) -> Exercise | None:
    """The exercise named, or the first one in course order that is not passing yet (None, said
    to the student, when every exercise passes)."""
    exercise = load().get(exercise_id) if exercise_id else _next_exercise(progress.read_progress())
    if exercise is None:
        print("Every exercise passes. Well done!")
    return exercise


def report_outcome(exercise: Exercise, outcome: Outcome) -> None:
    """Print what an isolated run came to, in the student's terms."""
    if outcome.kind == "ran":
        report_findings(outcome)
        if outcome.probes and not outcome.stopped_before_training:
            print(f"  [ok ] your functions passed the checker's probes before training "
                  f"({', '.join(outcome.probes)}: shapes, values and steps on small inputs)")
        for line in outcome.results:
            print("  " + line.line())
        if outcome.results and all(r.passed for r in outcome.results) and not outcome.passed:
            print("  [FAIL] the thresholds are met, but the run breaks the contract its docstrings "
                  "state: the likely cause above")
        for line in outcome.feedback:
            print("  " + line)
    elif outcome.kind == "todo":
        print(f"\nNot done yet: {outcome.message}")
        print(f"For a hint: python -m seminar hint {exercise.id}")
    elif outcome.kind == "error":
        print("\nYour code raised an error:\n")
        print(outcome.traceback or outcome.message)
    else:  # dataset, exit, crash, timeout, tensorflow: the message says it all
        print(f"\n{outcome.message}")


def report_findings(outcome: Outcome) -> None:
    """The likely causes first, in plain words with their evidence. A finding that breaks the
    docstring's contract fails the check whatever the metrics; the others are shown only when the
    check failed anyway (a passing run needs no excuse)."""
    shown = [f for f in outcome.findings if f.fatal or not outcome.passed]
    if outcome.stopped_before_training:
        print("\nFound before training, by running your functions on a few small inputs "
              "(no need to wait for a training run that cannot succeed):")
    elif shown:
        print("\nWhat went wrong, most likely:")
    for finding in shown:
        print("\n".join("  " + line for line in finding.text().splitlines()))
    if shown:
        print()


def check_once(exercise: Exercise, path: pathlib.Path, *, seed: int | None = None,
               quiet: bool = False, pdb: bool = False, record: bool = True,
               time_limit: float | None = None, standby: isolation.Standby | None = None) -> int:
    """Check one file against the exercise's thresholds in a child process (see
    :mod:`seminar.grader.isolation`); print one clear verdict; return the exit status (0 pass, 1 fail).
    ``record`` updates the student's progress file. ``time_limit`` defaults to the exercise's."""
    print(f"Checking {exercise.id}: {shown_path(path)}", flush=True)
    limit = exercise.time_limit() if time_limit is None else time_limit
    digest = progress.file_digest(path)  # the file as checked: saving it during the check makes it "changed"
    output_dir = _writable(runtime.default_output_dir(exercise.id))  # the plots, kept to look at
    outcome = isolation.run(exercise, path, seed=seed, quiet=quiet, pdb=pdb, time_limit=limit,
                            output_dir=output_dir, standby=standby)
    report_outcome(exercise, outcome)
    if record:
        progress.record_status(exercise.id, "passing" if outcome.passed else "failing", digest=digest)
    print(("PASS " if outcome.passed else "FAIL ") + exercise.id)
    if outcome.kind == "ran" and not outcome.passed:
        print(f"Hint: python -m seminar hint {exercise.id}")
    if record:  # a joined room gets the record, after the verdict; no room: nothing at all
        room.send_after_check(exercise, outcome)
    return 0 if outcome.passed else 1


def warn_if_notebook_is_newer(path: pathlib.Path) -> None:
    """A check reads the ``.py`` file. When a notebook of the same name beside it was saved later,
    the student's latest edits may be in the notebook only: say so, and how to pair the two."""
    notebook = pathlib.Path(path).with_suffix(".ipynb")
    try:
        newer = notebook.stat().st_mtime > pathlib.Path(path).stat().st_mtime + 1.0
    except OSError:
        return
    if newer:
        print(f"note: {shown_path(notebook)} was saved after {shown_path(path)}, and the check reads "
              f"the .py file. Pair them so that saving the notebook writes both: "
              f"jupytext --set-formats ipynb,py:percent {shown_path(notebook)}", flush=True)


def _writable(folder: pathlib.Path) -> pathlib.Path | None:
    """``folder`` if the plots can go there, else None (the check then runs in a scratch folder:
    a read-only clone must not stop a check)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".write-test-"):
            pass
    except OSError:
        return None
    return folder


def cmd_check(args: argparse.Namespace) -> int:
    exercise = chosen_exercise(args.id)
    if exercise is None:
        return 0
    path = exercise.solution_path if args.solution else exercise.exercise_path
    warn_if_notebook_is_newer(path)
    return check_once(exercise, path, seed=args.seed, quiet=args.quiet, pdb=args.pdb,
                      record=not args.solution, time_limit=args.time_limit)


def _modification_time(path: pathlib.Path) -> float | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def watch(exercise: Exercise, *, path: pathlib.Path | None = None, interval: float = 0.5,
          max_runs: int | None = None, seed: int | None = None, sleep=time.sleep) -> int:
    """Check the exercise's file (or ``path``) now and again each time it is saved, until Ctrl-C
    (or ``max_runs`` checks). Returns the last check's exit status."""
    path = exercise.exercise_path if path is None else pathlib.Path(path)
    runs, status = 0, 1
    last_seen = None
    standby = isolation.Standby(exercise)  # TensorFlow loaded before the first save
    try:
        while max_runs is None or runs < max_runs:
            stamp = _modification_time(path)
            if stamp != last_seen:
                last_seen = stamp
                print("\n" + "-" * 72, flush=True)
                status = check_once(exercise, path, seed=seed, standby=standby)
                runs += 1
                if standby.used:  # each check has a fresh process: the next one starts now
                    standby.close()
                    standby = isolation.Standby(exercise)
                print(f"\nWatching {shown_path(path)}: save it to check again, Ctrl-C to stop.",
                      flush=True)
            else:
                sleep(interval)
    except KeyboardInterrupt:
        print("\nStopped watching.")
    finally:
        standby.close()
    return status


def cmd_watch(args: argparse.Namespace) -> int:
    exercise = chosen_exercise(args.id)
    if exercise is None:
        return 0
    return watch(exercise, interval=args.interval, seed=args.seed)


def _reason(error: OSError) -> str:
    """``Permission denied`` rather than ``[Errno 13] Permission denied: '/long/path'``."""
    return error.strerror or str(error)


def _same_text(data: bytes, text: str) -> bool:
    """Whether a file's bytes hold ``text`` (a file that is not UTF-8 never does). Line endings
    are ignored: on Windows the skeleton is written with CRLF."""
    try:
        return data.decode("utf-8").replace("\r\n", "\n") == text
    except UnicodeDecodeError:
        return False


def _keep_backup(target: pathlib.Path, data: bytes) -> pathlib.Path:
    """Write ``data`` (the student's file, as bytes: whatever its encoding, it is kept intact) to
    ``NAME_exo.py.bak-DATE``, never over an earlier backup: exclusive creation fails instead of
    overwriting, and the next free ``-1``, ``-2``... is taken."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    counter = 0
    while True:
        backup = target.with_name(f"{target.name}.bak-{stamp}" + (f"-{counter}" if counter else ""))
        counter += 1
        try:
            handle = open(backup, "xb")
        except FileExistsError:
            continue
        try:
            with handle:
                handle.write(data)
        except OSError:
            with contextlib.suppress(OSError):  # a half-written backup would mislead
                backup.unlink()
            raise
        with contextlib.suppress(OSError):
            shutil.copystat(target, backup)  # the times of the student's last save, for `ls -t`
        return backup


def cmd_reset(args: argparse.Namespace, ask=input) -> int:
    """Put back the original skeleton, after asking, keeping a backup of the student's file.

    The skeleton is generated from the solution, as `build` does, rather than taken from git's
    HEAD: a student who committed their own work would get that work back from HEAD."""
    exercise = load().get(args.id)
    target = exercise.exercise_path
    try:
        original = skeleton.build(exercise.solution_path.read_text(encoding="utf-8"), exercise.id,
                                  exercise.solution)
    except (OSError, UnicodeDecodeError) as error:
        reason = _reason(error) if isinstance(error, OSError) else "not UTF-8"
        print(f"error: cannot read {exercise.solution} ({reason}), from which the skeleton is "
              f"made: nothing changed. Restore it with: git checkout -- {exercise.solution}",
              file=sys.stderr)
        return 1
    try:
        current = target.read_bytes()  # bytes: a file that is not UTF-8 is still backed up
    except FileNotFoundError:
        current = None
    except OSError as error:
        print(f"error: cannot read {exercise.exercise} ({_reason(error)}): nothing changed.",
              file=sys.stderr)
        return 1
    if current is not None and _same_text(current, original):
        print(f"{exercise.exercise} is already the original skeleton: nothing to do.")
        return 0
    if not args.yes:
        question = (f"Replace {exercise.exercise} with the original skeleton? Your file is first "
                    f"copied to {target.name}.bak-DATE. [y/N] ")
        try:
            answer = ask(question)
        except (EOFError, RuntimeError):  # no terminal to answer on (stdin empty, closed, /dev/null)
            print()
            print(f"error: no answer, as there is no terminal to ask on: nothing changed. To reset "
                  f"without being asked: python -m seminar reset {exercise.id} --yes",
                  file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("\nNothing changed.")
            return 1
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return 1
    if current is not None:
        try:
            backup = _keep_backup(target, current)
        except OSError as error:
            print(f"error: cannot write a backup of your file in {shown_path(target.parent)} "
                  f"({_reason(error)}): nothing changed. Make the folder writable, or move your "
                  f"file elsewhere yourself, then reset again.", file=sys.stderr)
            return 1
        print(f"Your file is kept as {shown_path(backup)}")
    try:
        target.write_text(original, encoding="utf-8")
    except OSError as error:
        kept = " (your file is safe in the backup above)" if current is not None else ""
        print(f"error: cannot write {exercise.exercise} ({_reason(error)}){kept}. Make it "
              f"writable, then reset again.", file=sys.stderr)
        return 1

    def forget(record: dict) -> None:
        record["status"].pop(exercise.id, None)
        record.get("checked", {}).pop(exercise.id, None)

    progress.update_progress(forget)
    print(f"{exercise.exercise} is the original skeleton again.")
    return 0


def cmd_hint(args: argparse.Namespace) -> int:
    exercise = load().get(args.id)
    last = len(exercise.hints) - 1

    def one_more(record: dict) -> None:  # under the lock: two `hint`s at once give two hints
        seen = record["hints_seen"].get(exercise.id, 0)
        record["hints_seen"][exercise.id] = min(seen, last) + 1

    index = progress.update_progress(one_more)["hints_seen"][exercise.id] - 1
    print(f"Hint {index + 1}/{len(exercise.hints)} for {exercise.id}: {exercise.hints[index]}")
    if index == last:
        print("(that was the last hint)")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run a solution in front of the room: its progress, its plots on screen, its verdict."""
    exercise = load().get(args.id)
    argv = list(args.script_args)
    if not args.no_show and "--show" not in argv:
        argv.append("--show")  # in front of the room the plots open on screen
    full = "--fast" not in argv
    output_dir = runtime.default_output_dir(exercise.id)
    outcome = isolation.run(exercise, exercise.solution_path, full=full, output_dir=output_dir,
                            quiet=False, extra_args=tuple(argv))
    print(f"\n{exercise.id} ({'full' if full else 'fast'} run):")
    report_outcome(exercise, outcome)
    return 0 if outcome.passed else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Run every solution (fast unless --full) with plots into outputs/, and print a summary. Each
    runs in its own process: one that fails does not stop the others."""
    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    rows = []
    for number, exercise in enumerate(exercises, 1):
        print(f"\n=== [{number}/{len(exercises)}] {exercise.id}: {exercise.title}", flush=True)
        output_dir = runtime.default_output_dir(exercise.id)
        outcome = isolation.run(exercise, exercise.solution_path, full=args.full,
                                output_dir=output_dir, quiet=args.quiet)
        report_outcome(exercise, outcome)
        rows.append((exercise.id, outcome.passed, output_dir))
    print("\nSummary (" + ("full" if args.full else "fast") + " runs):")
    for exercise_id, passed, output_dir in rows:
        print(f"  {'PASS' if passed else 'FAIL'}  {exercise_id:<38} plots: {output_dir}")
    return 0 if all(passed for _, passed, _ in rows) else 1


def cmd_seeds(args: argparse.Namespace) -> int:
    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    try:
        seeds = sweep.parse_seeds(args.seeds)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    other = args.file is not None or args.variant is not None
    if other and (len(exercises) != 1 or args.exo or (args.file and args.variant)):
        print("error: --file and --variant sweep one exercise: give its ID, one of them and no "
              "--exo", file=sys.stderr)
        return 2
    if args.file is not None and not args.file.is_file():
        print(f"error: --file {args.file}: no such file", file=sys.stderr)
        return 2
    failures = 0
    with contextlib.ExitStack() as stack:
        # A variant is written where every worker sees it: in the repository's outputs/ folder
        # when the seeds run on other machines that share the repository.
        shared = runtime.default_output_dir("variants") if args.scheduler else None
        if shared is not None:
            shared.mkdir(parents=True, exist_ok=True)
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="seminar-variant-", dir=shared))
        path, label = args.file, ""
        if args.variant is not None:
            named = [o for o in overlays.load(exercises[0].id)
                     if o.kind == "variant" and o.name == args.variant]
            if not named:
                known = [o.name for o in overlays.load(exercises[0].id) if o.kind == "variant"]
                print(f"error: {exercises[0].id} has no variant {args.variant!r}; its variants: "
                      f"{', '.join(known) or 'none'}", file=sys.stderr)
                return 2
            path = overlays.write(named[0], exercises[0].solution_path, pathlib.Path(scratch))
            label = f"variant_{named[0].slug}"
        try:
            engine = stack.enter_context(sweep.Engine(args.jobs, args.scheduler))
        except OSError as error:  # the scheduler cannot be reached (dask raises OSError, TimeoutError)
            print(f"error: --scheduler {args.scheduler}: {error}. Is `dask scheduler` running there, "
                  f"and its port open from this machine?", file=sys.stderr)
            return 2
        for exercise in exercises:
            table = sweep.sweep(exercise, seeds, full=args.full, student=args.exo,
                                time_limit=args.time_limit, variant=path, label=label, engine=engine)
            failures += table.failures
            csv_path = sweep.write_csv(table, args.csv_dir or sweep.default_csv_dir())
            print(f"table written to {shown_path(csv_path)}\n", flush=True)
    return 0 if failures == 0 else 1



def _current_bytes(target: pathlib.Path) -> bytes | None:
    """The bytes of a skeleton file, None when there is none; OSError (NotARegularFile for a named
    pipe, never opened) when it cannot be read."""
    from datasets import open_regular

    try:
        with open_regular(target, "the skeleton") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def _built_from_committed(exercise: Exercise, current: bytes) -> bool:
    """Whether ``current`` is the skeleton of the solution as committed (git's HEAD): a skeleton
    made stale by a change to the solution, which no one edited since it was generated."""
    committed = committed_text(exercise.solution_path)
    if committed is None:
        return False
    try:
        return _same_text(current, skeleton.build(committed, exercise.id, exercise.solution))
    except MarkerError:  # a commit from before the solution had its markers
        return False


def cmd_build(args: argparse.Namespace) -> int:
    """Regenerate the skeletons (and the generated docs). A skeleton file is replaced only when it
    is missing, or when its content is the skeleton of the solution as it is or as committed (a
    maintainer changed the solution): never a file edited since it was generated, unless its id is
    named with --force, and then a byte-for-byte backup is kept first, as ``reset`` keeps one."""
    from datasets import NotARegularFile

    if getattr(args, "force", False) and not args.ids:
        print("error: --force replaces only the skeletons named: give their IDs, e.g. python -m "
              "seminar build sgd/linear_regression --force (each edited file is first kept as "
              "NAME_exo.py.bak-DATE)", file=sys.stderr)
        return 2
    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    stale, refused = [], []
    for exercise in exercises:
        try:
            wanted = skeleton.build(exercise.solution_path.read_text(encoding="utf-8"), exercise.id,
                                    exercise.solution)
        except (OSError, UnicodeDecodeError) as error:
            reason = _reason(error) if isinstance(error, OSError) else "not UTF-8"
            refused.append(f"{exercise.exercise}: cannot read {exercise.solution} ({reason}), from "
                           f"which it is made")
            continue
        target = exercise.exercise_path
        try:
            current = _current_bytes(target)
        except NotARegularFile as error:  # a named pipe or a folder: never opened, never replaced
            refused.append(f"{exercise.exercise} is {error.kind}, not a regular file: remove it, "
                           f"then build again")
            continue
        except OSError as error:
            refused.append(f"{exercise.exercise} cannot be read ({_reason(error)}): make it "
                           f"readable, then build again")
            continue
        if current is not None and _same_text(current, wanted):
            continue
        stale.append(exercise.exercise)
        if args.check:
            continue
        edited = current is not None and not _built_from_committed(exercise, current)
        if edited and not getattr(args, "force", False):
            refused.append(f"{exercise.exercise} differs from the skeleton of its solution, as "
                           f"committed and as it is now (edited since it was generated?). To keep "
                           f"it, leave it as it is; to replace it, keeping it first as "
                           f"{target.name}.bak-DATE: python -m seminar build {exercise.id} --force")
            continue
        if edited:
            try:
                backup = _keep_backup(target, current)
            except OSError as error:
                refused.append(f"{exercise.exercise}: cannot write a backup of it in "
                               f"{shown_path(target.parent)} ({_reason(error)}), so it is not "
                               f"replaced")
                continue
            print(f"{exercise.exercise}: the edited file is kept as {shown_path(backup)}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(wanted, encoding="utf-8")
        print(f"wrote {exercise.exercise}")
    # The documentation's generated parts (the README's course map, each chapter page's tables)
    # from the manifest and the sweep tables in benchmarks/seeds/; imported here because only this
    # command needs pandas.
    from seminar.tools import docs
    try:
        doc_parts = docs.update(check=args.check)
    except docs.ReadmeError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    missing = [part for part in doc_parts if isinstance(part, docs.MissingPage)]
    doc_parts = [part for part in doc_parts if not isinstance(part, docs.MissingPage)]
    for page in missing:
        print(f"missing: {page}")
    if args.check:
        for name in stale + doc_parts:
            print(f"out of date: {name} (run: python -m seminar build)")
        for reason in refused:
            print(f"cannot check: {reason}")
        return 1 if stale or doc_parts or missing or refused else 0
    for part in doc_parts:
        print(f"wrote {part}")
    for reason in refused:
        print(f"left alone: {reason}")
    return 1 if refused or missing else 0


def cmd_curves(args: argparse.Namespace) -> int:
    """Run solutions' fast mode on their test seed and keep their training loss curves in
    benchmarks/curves/, the reference a student's run is compared with (for maintainers)."""
    from seminar.grader import checker, feedback

    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    for exercise in exercises:
        result = checker.run_checks(exercise, exercise.solution_path, quiet=True)
        if result.loss_curve is None:
            print(f"{exercise.id}: main() returns no loss_curve: no reference", flush=True)
            continue
        if not result.passed:
            print(f"{exercise.id}: the solution FAILED its check: no reference written", flush=True)
            continue
        path = feedback.write_reference(exercise, result.loss_curve, result.loss_curve_unit,
                                        result.seconds, exercise.test_seed)
        print(f"{exercise.id}: {len(result.loss_curve)} points, {result.seconds:.1f} s -> "
              f"{shown_path(path)}", flush=True)
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    """Write the files of a new exercise, then build its skeleton and the generated docs."""
    from seminar.tools import scaffold

    try:
        scaffold.new_exercise(args.id, like=args.like, title=args.title,
                              chapter_title=args.chapter_title, slides=args.slides)
    except scaffold.ScaffoldError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    status = cmd_build(argparse.Namespace(ids=[args.id], check=False, force=False))
    print(f"\nNext: edit those files, then `python -m seminar verify {args.id}` lists what is "
          f"left to do (CONTRIBUTING.md walks through it).")
    return status


def cmd_verify(args: argparse.Namespace) -> int:
    """Print the checklist of one exercise (or of every one); with --run, run its checks too."""
    from seminar.tools import verify

    manifest = load()
    exercises = [manifest.get(i) for i in args.ids] if args.ids else list(manifest.exercises)
    failed = 0
    for exercise in exercises:
        failed += verify.print_checklist(exercise)
        if args.run:
            print("  the checks themselves (each in its own process, as `check` runs it):",
                  flush=True)
            failed += verify.run_checks(exercise)
    print("\nAll rules hold." if not failed else f"\n{failed} rule(s) or check(s) to fix.")
    return 1 if failed else 0


def cmd_score(args: argparse.Namespace) -> int:
    """Score a submission like the leaderboard: 0 scored, 1 malformed (the message says what to
    fix), 2 the file cannot be read. The labels are loaded by the scorer, never handed out."""
    from seminar import kaggle

    return kaggle.score_command(args.file, args.labels)


def cmd_prepare(args: argparse.Namespace) -> int:
    """Make ready, before the day, what the exercises need: data and the models trained for them."""
    from seminar import prepare

    return prepare.main(args.ids, say=lambda line: print(line, flush=True))


# ---------------------------------------------------------------- entry point


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m seminar", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    commands.add_parser("list", help="every exercise with your progress").set_defaults(func=cmd_list)

    check = commands.add_parser("check", help="check your exercise against its threshold")
    check.add_argument("id", nargs="?", help="e.g. sgd/linear_regression (default: the next one not passing)")
    check.add_argument("--seed", type=runtime.non_negative_int, default=None,
                       help="seed (default: the manifest's test seed)")
    check.add_argument("--pdb", action="store_true", help="on an error, stop in ipdb where it happened")
    check.add_argument("--quiet", action="store_true",
                       help="hide the script's own progress lines (epochs, losses): only the verdict")
    check.add_argument("--solution", action="store_true", help="check the solution instead of your file")
    check.add_argument("--time-limit", type=runtime.positive_float, default=None, metavar="SECONDS",
                       help="stop the check after this long (default: a few times the solution's measured time)")
    check.set_defaults(func=cmd_check)

    watch = commands.add_parser("watch", help="check again each time you save the file (Ctrl-C stops)")
    watch.add_argument("id", nargs="?", help="default: the next exercise not passing")
    watch.add_argument("--seed", type=runtime.non_negative_int, default=None)
    watch.add_argument("--interval", type=runtime.positive_float, default=0.5,
                       help="seconds between looks at the file (more than 0)")
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

    seeds = commands.add_parser("seeds", help="run a solution (or your file) on many seeds: a table of "
                                              "metrics, margins and times, also written as CSV")
    seeds.add_argument("ids", nargs="*", help="exercises (default: all)")
    seeds.add_argument("--seeds", default="0-19", help="e.g. 0-19, or 3,5,8, or 0-4,100")
    seeds.add_argument("--full", action="store_true", help="full runs instead of fast ones")
    seeds.add_argument("--exo", action="store_true", help="run your *_exo.py file instead of the solution")
    seeds.add_argument("--variant", default=None, metavar="NAME",
                       help="run this correct variant of the one exercise given (its overlays file)")
    seeds.add_argument("--file", type=pathlib.Path, default=None, metavar="PATH",
                       help="run this file instead (another solution of the one exercise given)")
    seeds.add_argument("--jobs", type=runtime.positive_int, default=min(2, os.cpu_count() or 1),
                       help="runs at the same time on this machine (default: 2, or 1 on a 1-core machine)")
    seeds.add_argument("--scheduler", default=None, metavar="ADDRESS",
                       help="run the seeds on this dask cluster instead (e.g. tcp://lab-1:8786; its "
                            "workers share this repository); default: a local cluster of --jobs workers")
    seeds.add_argument("--time-limit", type=runtime.positive_float, default=None, metavar="SECONDS",
                       help="stop a run after this long (default: the check's limit; none for --full)")
    seeds.add_argument("--csv-dir", type=pathlib.Path, default=None,
                       help="where the CSV tables go (default: outputs/seeds)")
    seeds.set_defaults(func=cmd_seeds)

    build = commands.add_parser("build", help="regenerate *_exo.py skeletons from the solutions, and "
                                              "the documentation's generated parts")
    build.add_argument("ids", nargs="*", help="only these skeletons (the README is always brought up to date)")
    build.add_argument("--check", action="store_true",
                       help="only report skeletons and README parts that are out of date (exit 1)")
    build.add_argument("--force", action="store_true",
                       help="replace the skeletons named even if edited since they were generated "
                            "(each edited file first kept as NAME_exo.py.bak-DATE)")
    build.set_defaults(func=cmd_build)

    curves = commands.add_parser("curves", help="keep the solutions' training loss curves in "
                                                "benchmarks/curves/ (for maintainers)")
    curves.add_argument("ids", nargs="*", help="exercises (default: all)")
    curves.set_defaults(func=cmd_curves)

    new = commands.add_parser("new", help="the files of a new exercise, from a working template "
                                          "(for instructors)")
    new.add_argument("id", help="CHAPTER/NAME; a chapter that does not exist yet is added")
    new.add_argument("--like", metavar="OTHER/ID", default=None,
                     help="start from a copy of this exercise instead of the template")
    new.add_argument("--title", default=None, help="the exercise's title (one line)")
    new.add_argument("--chapter-title", default=None, help="a new chapter's title")
    new.add_argument("--slides", default=None, help="a new chapter's slides, e.g. 98-104")
    new.set_defaults(func=cmd_new)

    verify = commands.add_parser("verify", help="every rule an exercise must follow, as a "
                                                "checklist (for instructors)")
    verify.add_argument("ids", nargs="*", help="exercises (default: all)")
    verify.add_argument("--run", action="store_true",
                        help="also run the checks: the solution, the skeleton, every variant and "
                             "planted bug (minutes)")
    verify.set_defaults(func=cmd_verify)

    score = commands.add_parser("score", help="score a submission CSV of the deep-features "
                                              "competition (log loss and accuracy)")
    score.add_argument("file", type=pathlib.Path, help="the CSV: id, class_0 ... class_9")
    score.add_argument("--labels", type=pathlib.Path, default=None, metavar="CSV",
                       help="score against this id,label file (a competition of your own images)")
    score.set_defaults(func=cmd_score)

    prepare = commands.add_parser("prepare", help="before the day: fetch the data and train the "
                                                  "models the checks need (judge, pretrained "
                                                  "network), with progress")
    prepare.add_argument("ids", nargs="*", help="exercises (default: all)")
    prepare.set_defaults(func=cmd_prepare)

    room.add_commands(commands)  # room (instructor), join and leave (students): seminar/tools/room/
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ManifestError, MarkerError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
