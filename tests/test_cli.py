"""The student command line, driven end to end as a student would, in a temporary copy of the
repository (its own git history, its own progress file)."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from conftest import repository_copy
from seminar import manifest
from seminar.grader import markers
from seminar.tools import cli
from seminar.tools import progress as saved_progress

REPO_ROOT = manifest.REPO_ROOT
EXERCISE = "intro/hello_world"  # the quickest exercise: the CLI is under test here, not training


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository with the skeletons as committed, in a git repository of its own."""
    return repository_copy(tmp_path_factory.mktemp("student"))


def seminar(repo: pathlib.Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """Run ``python -m seminar ARGS`` in the copy, the way a student types it."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run([sys.executable, "-m", "seminar", *args], cwd=repo, env=env, input=stdin,
                          capture_output=True, text=True, timeout=600)


def exo_path(repo):
    return repo / f"{EXERCISE}_exo.py"


def test_the_copy_is_what_runs(repo):
    result = subprocess.run([sys.executable, "-c", "import seminar.manifest as m; print(m.REPO_ROOT)"],
                            cwd=repo, env=dict(os.environ, PYTHONPATH=str(repo)), capture_output=True,
                            text=True, check=True)
    assert pathlib.Path(result.stdout.strip()) == repo


@pytest.mark.slow
def test_student_loop_end_to_end(repo):
    exercise = manifest.load().get(EXERCISE)
    exo = exo_path(repo)
    skeleton_text = exo.read_text()

    # 1. The unfilled skeleton: the first TODO of the file, its line and its task as the file
    # words it, the hint command; no traceback, exit 1.
    unfilled = seminar(repo, "check", EXERCISE)
    assert unfilled.returncode == 1, unfilled.stdout + unfilled.stderr
    first = markers.todos(skeleton_text)[0]
    assert f"Not done yet: {first.function}(), line {first.line}:" in unfilled.stdout
    assert all(line in unfilled.stdout for line in first.comment)
    assert f"For a hint: python -m seminar hint {EXERCISE}" in unfilled.stdout
    assert "Traceback" not in unfilled.stdout + unfilled.stderr
    assert unfilled.stdout.rstrip().endswith(f"FAIL {EXERCISE}")

    # 2. A planted bug: a traceback cut to the student's own file and line, with the message.
    solution_text = (repo / exercise.solution).read_text()
    bug_line = '    return tf.constant("Hello, TensorFlow!")'
    assert bug_line in solution_text
    exo.write_text(solution_text.replace(bug_line, '    return tf.constant("Hello, TensorFlow!") + 1'))
    buggy = seminar(repo, "check", EXERCISE)
    assert buggy.returncode == 1
    planted = exo.read_text().splitlines().index('    return tf.constant("Hello, TensorFlow!") + 1') + 1
    assert "Your code raised an error" in buggy.stdout
    assert f'{exo}", line {planted}' in buggy.stdout
    assert "site-packages" not in buggy.stdout, "frames inside TensorFlow are cut"
    assert "in greeting" in buggy.stdout

    # 2b. --pdb opens the debugger on that very line (ipdb reads its commands from stdin here).
    debugged = seminar(repo, "check", EXERCISE, "--pdb", stdin="ll\nq\n")
    screen = re.sub(r"\x1b\[[0-9;]*m", "", debugged.stdout)  # drop ipdb's colours
    assert f"> {exo}({planted})greeting()" in screen
    assert debugged.returncode == 1

    # 3. Filled with the solution's code: PASS, exit 0, ticked in `list`.
    exo.write_text(solution_text)
    filled = seminar(repo, "check", EXERCISE)
    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert "[ok ] fraction_correct = 1" in filled.stdout
    assert filled.stdout.rstrip().endswith(f"PASS {EXERCISE}")
    listing = seminar(repo, "list")
    assert listing.returncode == 0
    line = next(line for line in listing.stdout.splitlines() if f" {EXERCISE} " in line)
    assert line.strip().startswith("[x]") and "passing" in line
    total = len(manifest.load().exercises)
    assert f"1/{total} exercises passing" in listing.stdout

    # 3b. Saved again after the check: `list` says so instead of showing a stale tick.
    exo.write_text(solution_text + "\n# an afterthought\n")
    changed = seminar(repo, "list")
    line = next(line for line in changed.stdout.splitlines() if f" {EXERCISE} " in line)
    assert line.strip().startswith("[~]") and "changed since its passing check" in line
    assert f"0/{total} exercises passing" in changed.stdout
    exo.write_text(solution_text)

    # 4. `check` with no id now picks the next exercise that is not passing.
    next_one = manifest.load().exercises[1].id
    assert seminar(repo, "check").stdout.startswith(f"Checking {next_one}")

    # 5. `reset` asks first, does nothing on "no", and keeps a backup on "yes".
    declined = seminar(repo, "reset", EXERCISE, stdin="n\n")
    assert declined.returncode == 1 and exo.read_text() == solution_text
    accepted = seminar(repo, "reset", EXERCISE, stdin="y\n")
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert exo.read_text() == skeleton_text
    backups = list(exo.parent.glob(exo.name + ".bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == solution_text
    after = seminar(repo, "list")
    assert f"0/{total} exercises passing" in after.stdout


@pytest.mark.slow
def test_hints_come_one_at_a_time_and_stop_at_the_last(repo):
    exercise = manifest.load().get("sgd/linear_regression")
    seen = []
    for _ in range(len(exercise.hints) + 1):
        result = seminar(repo, "hint", exercise.id)
        assert result.returncode == 0
        seen.append(result.stdout)
    for number, hint in enumerate(exercise.hints, 1):
        assert f"Hint {number}/{len(exercise.hints)} for {exercise.id}: {hint}" in seen[number - 1]
    assert "(that was the last hint)" in seen[-1] and f"Hint {len(exercise.hints)}/" in seen[-1]
    solution_code = "tf.linalg.solve(gram, moment)"
    assert all(solution_code not in text for text in seen), "a hint never is the solution"


def test_unknown_exercise_and_bad_usage_exit_non_zero(repo):
    unknown = seminar(repo, "hint", "sgd/nope")
    assert unknown.returncode == 2 and "unknown exercise 'sgd/nope'" in unknown.stderr
    assert seminar(repo, "frobnicate").returncode == 2


@pytest.mark.slow
def test_build_never_overwrites_a_students_work(repo):
    exo = repo / "sgd" / "binary_classif_exo.py"
    edited = exo.read_text() + "\n# my notes\n"
    exo.write_text(edited)
    result = seminar(repo, "build")
    assert result.returncode == 1 and "left alone: sgd/binary_classif_exo.py" in result.stdout
    assert "python -m seminar build sgd/binary_classif --force" in result.stdout  # how to replace it
    assert exo.read_text() == edited
    check_only = seminar(repo, "build", "--check")
    assert check_only.returncode == 1 and "out of date: sgd/binary_classif_exo.py" in check_only.stdout


@pytest.mark.slow
def test_watch_checks_again_when_the_file_is_saved(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(saved_progress, "PROGRESS_PATH", tmp_path / "progress.json")
    original = manifest.load().get(EXERCISE)
    copy = tmp_path / original.exercise_path.name
    shutil.copy(original.exercise_path, copy)
    saves = []

    def fake_sleep(seconds):  # the student saves the file while watch waits
        saves.append(seconds)
        stat = copy.stat()
        os.utime(copy, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))

    status = cli.watch(original, path=copy, max_runs=2, sleep=fake_sleep)
    out = capsys.readouterr().out
    assert status == 1 and out.count(f"Checking {EXERCISE}: {copy}") == 2 and len(saves) == 1
    first = markers.todos(copy.read_text())[0]
    assert f"Not done yet: {first.function}(), line {first.line}:" in out
    assert copy.read_text() == original.exercise_path.read_text(), "watch never writes the file"


def test_tensorflow_defaults_yield_to_the_users_settings(repo):
    code = "import os, seminar; print(os.environ['TF_ENABLE_ONEDNN_OPTS'], os.environ['TF_CPP_MIN_LOG_LEVEL'])"
    env = dict(os.environ, PYTHONPATH=str(repo), TF_CPP_MIN_LOG_LEVEL="1")
    env.pop("TF_ENABLE_ONEDNN_OPTS", None)
    shown = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert shown.stdout.split() == ["1", "1"]


def test_list_into_a_closed_pipe_ends_quietly(repo):
    """`python -m seminar list | head -1`: the reader leaves early; no BrokenPipeError traceback."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    shell = f"{sys.executable} -m seminar list | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], cwd=repo, env=env,
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr
    assert result.returncode == 0


@pytest.mark.slow
def test_an_exercise_file_runs_without_tensorflow_noise_and_clean_help(repo):
    result = subprocess.run([sys.executable, str(repo / "neural_nets" / "softmax_exo.py"), "--help"],
                            cwd=repo, env=dict(os.environ, PYTHONPATH=str(repo)),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "absl::InitializeLog" not in result.stderr and "oneDNN" not in result.stderr
    assert "(default: None)" not in result.stdout and "(default 10, 1 with --fast)" in " ".join(result.stdout.split())


@pytest.mark.slow
def test_watch_runs_each_check_in_a_standby_process_and_leaves_none(tmp_path, monkeypatch, capsys):
    """watch keeps a child waiting with TensorFlow loaded; each check uses one (a fresh process per
    check, as check gives), and none is left when watch ends."""
    from seminar.grader import isolation

    monkeypatch.setattr(saved_progress, "PROGRESS_PATH", tmp_path / "progress.json")
    original = manifest.load().get(EXERCISE)
    copy = tmp_path / original.exercise_path.name
    solution = original.solution_path.read_text()
    copy.write_text(solution)
    started, used = [], []
    real_standby = isolation.Standby

    class Recorded(real_standby):
        def __init__(self, exercise):
            super().__init__(exercise)
            started.append(self)

        def take(self, spec_path):
            taken = super().take(spec_path)
            used.append(taken is not None)
            return taken

    monkeypatch.setattr(isolation, "Standby", Recorded)

    def save_a_bug(seconds):  # the student saves a wrong greeting while watch waits
        copy.write_text(solution.replace('return tf.constant("Hello, TensorFlow!")',
                                         'return tf.constant("Hello!")', 1))

    status = cli.watch(original, path=copy, max_runs=2, sleep=save_a_bug)
    out = capsys.readouterr().out
    assert status == 1 and f"PASS {EXERCISE}" in out and f"FAIL {EXERCISE}" in out
    assert "greeting" in out  # the probe's finding, from the second standby
    assert used == [True, True] and len(started) == 3  # the third waited for a save that never came
    assert all(s.process.poll() is not None for s in started)
    assert not any(s.folder.exists() for s in started)
