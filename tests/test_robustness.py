"""The student command line and the exercise flags when something is off: two commands at once, a
damaged progress file, a reset with no terminal or after a commit, a file that is not UTF-8, a
folder that cannot be written, a flag out of range. Each gets a clear message, never a traceback,
and never loses the student's work or progress."""

import dataclasses
import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

from conftest import git, repository_copy
from seminar import manifest, runtime
from seminar.grader import checker
from seminar.tools import cli, skeleton
from seminar.tools import progress as saved_progress

REPO_ROOT = manifest.REPO_ROOT
EXERCISE = "intro/hello_world"  # the quickest exercise: the command line is under test, not training


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    """A copy of the repository with the skeletons as committed, in a git repository of its own
    (as in test_cli.py; its own copy, since these tests commit a student's work into it)."""
    return repository_copy(tmp_path_factory.mktemp("robust"))


def seminar(repo: pathlib.Path, *args: str, stdin=""):
    """Run ``python -m seminar ARGS`` in the copy, the way a student types it."""
    env = dict(os.environ, PYTHONPATH=str(repo))
    return subprocess.run([sys.executable, "-m", "seminar", *args], cwd=repo, env=env,
                          capture_output=True, timeout=600,
                          **({"stdin": stdin} if stdin is subprocess.DEVNULL else {"input": stdin.encode()}))


def skeleton_of(exercise: manifest.Exercise) -> str:
    return skeleton.build(exercise.solution_path.read_text(encoding="utf-8"), exercise.id,
                          exercise.solution)


# ---------------------------------------------------------------- progress file


WORKER = """
import pathlib, sys, time
from seminar.tools import progress as saved_progress
path, worker, count, go = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), pathlib.Path(sys.argv[4])
while not go.exists():  # start together, so that the updates really interleave
    time.sleep(0.005)

def one_more(progress):
    progress["hints_seen"]["shared/counter"] = progress["hints_seen"].get("shared/counter", 0) + 1

for i in range(count):
    saved_progress.record_status(f"{worker}/{i}", "passing" if i % 2 else "failing", path)
    saved_progress.update_progress(one_more, path)
"""


@pytest.mark.slow
def test_commands_running_at_once_lose_no_update(tmp_path):
    """Two processes each record 100 verdicts and 100 hints: all 400 updates are in the file
    (read, change and write used to be separate, and each run overwrote the other's)."""
    path, go, count = tmp_path / "progress.json", tmp_path / "go", 100
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    workers = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), name, str(count), str(go)],
                                env=env, stderr=subprocess.PIPE, text=True) for name in ("a", "b")]
    time.sleep(0.5)
    go.touch()
    for worker in workers:
        assert worker.wait(timeout=300) == 0, worker.stderr.read()
        assert worker.stderr.read() == "", "no warning: the file is never seen half-written"
    progress = json.loads(path.read_text())
    assert progress["hints_seen"] == {"shared/counter": 2 * count}
    assert len(progress["status"]) == 2 * count
    assert progress["status"]["a/1"] == "passing" and progress["status"]["b/0"] == "failing"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".progress-")] == [], \
        "no temporary file is left behind"


def test_record_status_keeps_the_other_entries(progress_file):
    saved_progress.update_progress(lambda progress: progress["hints_seen"].update({"x/y": 2}))
    saved_progress.record_status("x/y", "passing")
    saved_progress.record_status("x/z", "failing")
    saved_progress.record_status("x/y", "failing")
    assert saved_progress.read_progress() == {"status": {"x/y": "failing", "x/z": "failing"},
                                        "hints_seen": {"x/y": 2}}
    with pytest.raises(ValueError, match="passing"):
        saved_progress.record_status("x/y", "done")


DAMAGED = {
    "not JSON": b"{\"status\": {",
    "not UTF-8": b"\xff\xfe\x00garbage\x80",
    "a list": b"[1]",
    "null": b"null",
    "status not a dict": b'{"status": 3}',
    "unknown status": b'{"status": {"intro/hello_world": "done"}}',
    "negative count": b'{"hints_seen": {"intro/hello_world": -2}}',
    "count not a number": b'{"hints_seen": {"intro/hello_world": "3"}}',
    "count a boolean": b'{"hints_seen": {"intro/hello_world": true}}',
}


@pytest.mark.parametrize("content", list(DAMAGED.values()), ids=list(DAMAGED))
def test_a_damaged_progress_file_warns_once_and_counts_as_empty(progress_file, content, capsys):
    progress_file.write_bytes(content)

    assert cli.main(["list"]) == 0
    out, err = capsys.readouterr()
    assert err.count("\n") == 1 and err.startswith("warning: ") and str(progress_file) in err
    assert "damaged" in err and "0/" in out

    hints = manifest.load().get(EXERCISE).hints
    assert cli.main(["hint", EXERCISE]) == 0
    out, err = capsys.readouterr()
    assert f"Hint 1/{len(hints)} for {EXERCISE}" in out
    assert err.count("\n") <= 1, "one warning line at most, never a traceback"
    assert json.loads(progress_file.read_text()) == {"status": {}, "hints_seen": {EXERCISE: 1}}, \
        "the next write replaces the damaged file"


def test_a_valid_progress_file_is_read_as_written(progress_file, capsys):
    progress_file.write_text(json.dumps({"status": {EXERCISE: "passing"}, "hints_seen": {EXERCISE: 0}}))
    assert saved_progress.read_progress() == {"status": {EXERCISE: "passing"}, "hints_seen": {EXERCISE: 0}}
    progress_file.write_text("{}")  # an empty object is fine too
    assert saved_progress.read_progress() == {"status": {}, "hints_seen": {}}
    assert capsys.readouterr().err == ""


def test_progress_that_cannot_be_saved_warns_and_the_hint_is_still_given(tmp_path, monkeypatch,
                                                                         capsys):
    """As in a read-only repository (root writes anywhere, so the folder is under a regular file)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setattr(saved_progress, "PROGRESS_PATH", blocker / ".seminar-progress.json")
    monkeypatch.setattr(saved_progress, "_warned", set())
    assert cli.main(["hint", EXERCISE]) == 0
    out, err = capsys.readouterr()
    assert "Hint 1/" in out
    assert err.count("\n") == 1 and err.startswith("warning: your progress will not be saved")
    saved_progress.record_status(EXERCISE, "passing")  # what a check does: no traceback either
    assert capsys.readouterr().err == "", "the same warning is not repeated"


def test_a_failing_atomic_write_leaves_the_old_file_and_warns(progress_file, monkeypatch, capsys):
    saved_progress.record_status(EXERCISE, "passing")
    before = progress_file.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(saved_progress.os, "replace", full_disk)
    saved_progress.record_status(EXERCISE, "failing")
    assert "No space left on device" in capsys.readouterr().err
    assert progress_file.read_bytes() == before
    assert [p.name for p in progress_file.parent.iterdir() if p.name.startswith(".progress-")] == []


def test_a_file_system_without_locks_still_saves_and_warns(progress_file, monkeypatch, capsys):
    def no_locks(handle):
        raise OSError(37, "No locks available")

    monkeypatch.setattr(saved_progress, "_lock_file", no_locks)
    saved_progress.record_status(EXERCISE, "passing")
    assert "No locks available" in capsys.readouterr().err
    assert saved_progress.read_progress()["status"] == {EXERCISE: "passing"}


# ---------------------------------------------------------------- reset


def test_reset_after_a_commit_restores_the_skeleton_not_the_commit(repo):
    """A student who committed their work used to get that work back from git's HEAD."""
    exercise = manifest.load().get("intro/math_ops")
    exo = repo / exercise.exercise
    work = (repo / exercise.solution).read_text() + "\n# my own work, committed\n"
    exo.write_text(work)
    git(repo, "commit", "-q", "-am", "my work")

    result = seminar(repo, "reset", exercise.id, "--yes")
    assert result.returncode == 0, result.stdout + result.stderr
    assert exo.read_text() == skeleton_of(exercise)
    backups = list(exo.parent.glob(exo.name + ".bak-*"))
    assert len(backups) == 1 and backups[0].read_text() == work


@pytest.mark.parametrize("stdin", ["", subprocess.DEVNULL], ids=["empty pipe", "devnull"])
def test_reset_with_no_terminal_says_to_pass_yes_and_changes_nothing(repo, stdin):
    exo = repo / f"{EXERCISE}_exo.py"
    work = exo.read_text() + "\n# my notes\n"
    exo.write_text(work)
    result = seminar(repo, "reset", EXERCISE, stdin=stdin)
    stderr = result.stderr.decode()
    assert result.returncode == 1
    assert "Traceback" not in stderr and "--yes" in stderr and "nothing changed" in stderr
    assert exo.read_text() == work and not list(exo.parent.glob(exo.name + ".bak-*"))
    exo.write_text(skeleton_of(manifest.load().get(EXERCISE)))


@pytest.fixture
def scratch_exercise(tmp_path, monkeypatch, progress_file):
    """intro/hello_world with its student file in a scratch folder (an absolute path wins over the
    repository root); the solution stays the repository's, only read."""
    original = manifest.load().get(EXERCISE)
    folder = tmp_path / "intro"
    folder.mkdir()

    @dataclasses.dataclass(frozen=True)
    class ScratchExercise(manifest.Exercise):
        @property
        def exercise(self) -> str:
            return str(folder / original.exercise_path.name)

    exercise = ScratchExercise(**{f.name: getattr(original, f.name)
                                  for f in dataclasses.fields(original)})

    class Course:
        @staticmethod
        def get(exercise_id):
            assert exercise_id == EXERCISE
            return exercise

    monkeypatch.setattr(cli, "load", lambda: Course)
    return exercise


def test_reset_keeps_a_file_that_is_not_utf8_byte_for_byte(scratch_exercise, capsys):
    exo = scratch_exercise.exercise_path
    work = "# café, saved by an editor in Latin-1\nx = 1\n".encode("latin-1") + b"\x80\xff\n"
    exo.write_bytes(work)
    assert cli.main(["reset", EXERCISE, "--yes"]) == 0
    backups = list(exo.parent.glob(exo.name + ".bak-*"))
    assert len(backups) == 1 and backups[0].read_bytes() == work
    assert exo.read_text(encoding="utf-8") == skeleton_of(scratch_exercise)
    assert "Traceback" not in capsys.readouterr().err


def test_reset_never_overwrites_an_earlier_backup(scratch_exercise, monkeypatch):
    monkeypatch.setattr(cli.time, "strftime", lambda *args: "20240101-120000")
    exo = scratch_exercise.exercise_path
    earlier = exo.with_name(exo.name + ".bak-20240101-120000")
    earlier.write_text("an earlier backup\n")
    exo.write_text("my second try\n")
    assert cli.main(["reset", EXERCISE, "--yes"]) == 0
    assert earlier.read_text() == "an earlier backup\n"
    assert exo.with_name(earlier.name + "-1").read_text() == "my second try\n"


def test_reset_asks_and_no_answer_is_a_clear_error(scratch_exercise, capsys):
    exo = scratch_exercise.exercise_path
    exo.write_text("my work\n")

    def no_terminal(prompt):
        raise EOFError

    args = cli.build_parser().parse_args(["reset", EXERCISE])
    assert cli.cmd_reset(args, ask=no_terminal) == 1
    assert "reset intro/hello_world --yes" in capsys.readouterr().err
    assert exo.read_text() == "my work\n" and not list(exo.parent.glob("*.bak-*"))
    assert cli.cmd_reset(args, ask=lambda prompt: "y") == 0
    assert exo.read_text() == skeleton_of(scratch_exercise)


def test_reset_in_a_folder_it_cannot_write_is_a_clear_error(scratch_exercise, monkeypatch, capsys):
    """Root may write anywhere, so the read-only folder is simulated where the backup is made."""
    exo = scratch_exercise.exercise_path
    exo.write_text("my work\n")

    def read_only(target, data):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(cli, "_keep_backup", read_only)
    assert cli.main(["reset", EXERCISE, "--yes"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: cannot write a backup") and "Permission denied" in err
    assert exo.read_text() == "my work\n"


# ---------------------------------------------------------------- flags


@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a script gets as far as seeding, i.e. would start training."""
    def seeded(seed):
        raise AssertionError(f"set_seed({seed}) was reached: the bad flag was not refused first")

    monkeypatch.setattr(runtime, "set_seed", seeded)


def script_parser():
    return runtime.make_parser("solutions/sgd/example.py", "An example.", epochs=3, fast_epochs=1,
                               batch_size=8, learning_rate=0.1)


@pytest.mark.parametrize("flags, message", [
    (["--learning-rate", "nan"], "argument --learning-rate: must be a number greater than 0"),
    (["--learning-rate", "inf"], "argument --learning-rate: must be a number greater than 0"),
    (["--learning-rate", "0"], "argument --learning-rate: must be a number greater than 0"),
    (["--learning-rate", "-0.5"], "argument --learning-rate: must be a number greater than 0"),
    (["--learning-rate", "fast"], "argument --learning-rate: must be a number, got 'fast'"),
    (["--seed", "-1"], "argument --seed: must be 0 or more, got -1"),
    (["--seed", str(2**32)], "argument --seed: must be below 2**32"),
    (["--seed", "1.5"], "argument --seed: must be a whole number"),
    (["--epochs", "0"], "argument --epochs: must be at least 1, got 0"),
    (["--batch-size", "-4"], "argument --batch-size: must be at least 1, got -4"),
])
def test_a_flag_out_of_range_is_a_usage_error(flags, message, no_training, capsys):
    with pytest.raises(SystemExit) as stopped:
        runtime.parse_args(script_parser(), flags)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_flags_in_range_are_taken(tmp_path, monkeypatch):
    seeds = []
    monkeypatch.setattr(runtime, "set_seed", seeds.append)
    args = runtime.parse_args(script_parser(), ["--learning-rate", "1e-3", "--seed", "0", "--epochs",
                                                "2", "--batch-size", "1", "--output-dir", str(tmp_path / "a" / "b")])
    assert (args.learning_rate, args.seed, args.epochs, args.batch_size) == (1e-3, 0, 2, 1)
    # Parsing seeds nothing: seeding is main()'s explicit next call.
    assert seeds == [] and (tmp_path / "a" / "b").is_dir()
    assert list((tmp_path / "a" / "b").iterdir()) == [], "the write test leaves nothing behind"


@pytest.mark.parametrize("exercise_id, flags", [
    ("sgd/linear_regression", ["--steps", "0"]),
    ("reinforcement/q_learning_frozen_lake", ["--steps", "0"]),
    ("reinforcement/q_learning_frozen_lake", ["--eval-episodes", "0"]),
])
def test_zero_steps_is_refused_not_read_as_the_default(exercise_id, flags, no_training, capsys):
    module = checker.load_module(manifest.load().get(exercise_id).solution_path)
    with pytest.raises(SystemExit) as stopped:
        module.main(["--fast", *flags])
    assert stopped.value.code == 2
    assert f"argument {flags[0]}: must be at least 1, got 0" in capsys.readouterr().err


@pytest.mark.parametrize("interval", ["-1", "0", "nan"])
def test_watch_refuses_an_interval_that_is_not_positive(interval, capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["watch", EXERCISE, "--interval", interval])
    assert stopped.value.code == 2
    assert "argument --interval: must be a number greater than 0" in capsys.readouterr().err


def test_an_output_dir_under_a_regular_file_stops_before_training(tmp_path, no_training, capsys):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder\n")
    module = checker.load_module(manifest.load().get(EXERCISE).solution_path)
    with pytest.raises(SystemExit) as stopped:
        module.main(["--fast", "--output-dir", str(blocker / "plots")])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert f"cannot write plots and logs to {blocker / 'plots'}" in err
    assert "pass --output-dir a folder you can write to" in err


def test_a_read_only_output_dir_stops_before_training(tmp_path, monkeypatch, no_training, capsys):
    """Root writes anywhere, so the refusal is simulated where the write test creates its file."""
    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(runtime.tempfile, "NamedTemporaryFile", read_only)
    with pytest.raises(SystemExit) as stopped:
        runtime.parse_args(script_parser(), ["--output-dir", str(tmp_path)])
    assert stopped.value.code == 2
    assert f"cannot write plots and logs to {tmp_path} (Permission denied)" in capsys.readouterr().err


# ---------------------------------------------------------------- the verdict: evidence, processes, errors


SOFTMAX = manifest.load().get("neural_nets/softmax")
HELLO = manifest.load().get("intro/hello_world")


def solution_with(tmp_path: pathlib.Path, exercise, old: str, new: str) -> pathlib.Path:
    """A copy of the exercise's solution with one piece of text replaced (it must be there once)."""
    text = exercise.solution_path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{old!r} is not in {exercise.solution} exactly once"
    path = tmp_path / "student.py"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


@pytest.mark.slow
def test_a_loss_curve_left_out_of_main_fails_and_says_what_main_must_return(tmp_path):
    """Pixels in 0-255 keep softmax's accuracy above its threshold; only the loss bound catches
    them, and it must not be skipped when main() leaves its curve out."""
    path = solution_with(tmp_path, SOFTMAX, "    return metrics\n",
                         '    metrics.pop("loss_curve")\n    return metrics\n')
    outcome = checker.run_checks(SOFTMAX, path, output_dir=tmp_path, quiet=True)
    assert outcome.kind == "evidence" and not outcome.passed
    assert "'loss_curve' is missing" in outcome.message and "original skeleton" in outcome.message


@pytest.mark.parametrize("returned, words", [
    ("None", "returned NoneType, not a dict"),
    ('{"test_accuracy": 0.99, "loss_curve": [0.3]}', "'test_predictions'"),
    ('{**metrics, "test_predictions": metrics["test_predictions"][:7]}', "has shape (7,)"),
    ('{**metrics, "loss_curve": "low"}', "'loss_curve' must be a list or array of numbers"),
])
@pytest.mark.slow
def test_what_main_returns_when_wrong_is_named_not_a_checker_traceback(tmp_path, returned, words):
    path = solution_with(tmp_path, SOFTMAX, "    return metrics\n", f"    return {returned}\n")
    outcome = checker.run_checks(SOFTMAX, path, output_dir=tmp_path, quiet=True)
    assert outcome.kind == "evidence" and not outcome.passed
    assert words in outcome.message and "Traceback" not in outcome.message


GRANDCHILD = '''
import os as _os, time as _time
if _os.fork() == 0:  # a process in a session of its own, which a process group kill misses
    _os.setsid()
    if _os.fork() == 0:
        open({pid_file!r}, "w").write(str(_os.getpid()))
        _time.sleep(60)
        open({marker!r}, "w").write("still running after the check")
    _os._exit(0)
'''


@pytest.mark.slow
def test_no_process_the_checked_code_started_outlives_its_check(tmp_path):
    pid_file, marker = tmp_path / "grandchild.pid", tmp_path / "late.txt"
    path = solution_with(tmp_path, HELLO, "from seminar import plots, runtime\n",
                         "from seminar import plots, runtime\n" + GRANDCHILD.format(
        pid_file=str(pid_file), marker=str(marker)))
    from seminar.grader import isolation

    outcome = isolation.run(HELLO, path, output_dir=tmp_path, time_limit=120)
    assert outcome.passed  # the fork does not change the verdict
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # ended (and reaped) before run() returned
    assert not marker.exists()


def test_the_largest_seed_the_flags_accept_seeds_the_probes_too():
    from seminar.grader import grading

    context = grading.Context(SOFTMAX, module=None, seed=2**32 - 1)
    assert 0 <= context.probe_seed < 2**32
    context.generator(123).normal()
    context.seed_frameworks(7)


@pytest.mark.slow
def test_a_correct_solution_passes_with_the_largest_seed(tmp_path):
    outcome = checker.run_checks(SOFTMAX, SOFTMAX.solution_path, seed=2**32 - 1,
                                 output_dir=tmp_path, quiet=True)
    assert outcome.passed, [r.line() for r in outcome.results]


def test_a_syntax_error_names_the_students_line(tmp_path):
    path = tmp_path / "student.py"
    path.write_text("import math\n\ndef f(x:\n    return x\n", encoding="utf-8")
    with pytest.raises(SyntaxError) as raised:
        checker.load_module(path)
    text = checker.student_traceback(raised.value, path)
    assert text.startswith("In your file student.py, line 3:\n    def f(x:")


# Each first-day mistake, as a student writes it, and the words of its likely cause. The file is
# imported and mistake() called; eager mistakes and those inside a tf.function alike.
MISTAKES = {
    "forward pass outside the tape": ("""
        w = tf.Variable(tf.ones((3, 2)))
        optimizer = keras.optimizers.SGD(0.1)
        def mistake():
            predictions = tf.ones((4, 3)) @ w
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(predictions)
            optimizer.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        """, "the forward pass ran before or outside"),
    "one tape used twice, in a tf.function": ("""
        w = tf.Variable(tf.ones((3, 2)))
        @tf.function
        def mistake():
            with tf.GradientTape() as tape:
                loss = tf.reduce_mean(tf.ones((4, 3)) @ w)
            first = tape.gradient(loss, w)
            return first + tape.gradient(loss, w)
        """, "tape.gradient was called twice on one tape"),
    "one optimizer for two models": ("""
        a, b = tf.Variable(1.0), tf.Variable(2.0)
        optimizer = keras.optimizers.Adam(0.1)
        def mistake():
            optimizer.apply_gradients([(tf.constant(1.0), a)])
            optimizer.apply_gradients([(tf.constant(1.0), b)])
        """, "one optimizer is applied to two different sets of variables"),
    "a variable made in the step": ("""
        @tf.function
        def mistake(x=tf.constant(1.0)):
            scale = tf.Variable(2.0)
            return x * scale
        def twice():
            return mistake(tf.constant(1.0)), mistake(tf.constant(2.0))
        mistake_call = twice
        """, "a variable is created inside a tf.function"),
    ".numpy() in a tf.function": ("""
        @tf.function
        def mistake(x=tf.ones((3,))):
            return float(x.numpy().sum())
        """, ".numpy() called inside a tf.function"),
    "assigning into a tensor": ("""
        def mistake():
            targets = tf.zeros((4,))
            targets[2] = 1.0
        """, "tensors cannot be changed"),
    "labels from 1 to 10": ("""
        def mistake():
            labels = tf.constant([1, 5, 10])
            return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=tf.zeros((3, 10)))
        """, "not a class number from 0"),
    "class numbers into a categorical loss": ("""
        def mistake():
            return keras.losses.categorical_crossentropy(tf.constant([3, 4]), tf.ones((2, 10)))
        """, "class numbers, shape (n,), go with a sparse cross-entropy"),
    "images without their channel": ("""
        def mistake():
            return keras.layers.Conv2D(4, 3)(tf.zeros((2, 28, 28)))
        """, "without their channel axis"),
    "images not flattened": ("""
        def mistake():
            model = keras.Sequential([keras.Input((784,)), keras.layers.Dense(3)])
            return model(tf.zeros((2, 28, 28)))
        """, "input shape does not match the data"),
    "NumPy float64 meets float32 weights": ("""
        w = tf.Variable(tf.ones((3, 2)))
        def mistake():
            return tf.constant(np.ones((4, 3))) @ w
        """, "two tensors of different types"),
    "a weight matrix the wrong way round": ("""
        def mistake():
            return tf.ones((4, 3)) @ tf.ones((4, 2))
        """, "shapes do not fit together"),
}


@pytest.mark.parametrize("name", list(MISTAKES))
def test_a_first_day_mistake_gets_its_likely_cause(tmp_path, name):
    import textwrap

    code, words = MISTAKES[name]
    path = tmp_path / "student.py"
    path.write_text("import numpy as np\nimport tensorflow as tf\nimport keras\n"
                    + textwrap.dedent(code), encoding="utf-8")
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"mistake_{abs(hash(name))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with pytest.raises(Exception) as raised:
        getattr(module, "mistake_call", module.mistake)()
    text = checker.student_traceback(raised.value, path)
    assert text.startswith("In your file student.py, line"), text
    assert f"Likely cause: {words}" in text or words in text.split("Likely cause: ", 1)[-1], text
    assert "RuntimeError: RuntimeError" not in text
    assert "seminar/grader" not in text and "site-packages" not in text.split("The details:")[-1]
