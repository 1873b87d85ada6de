"""A verdict that cannot be faked by accident: every way a checked file can end, hang or lie about
its metrics gives FAIL with a clear message (seminar.isolation, seminar.measures)."""

import pathlib
import textwrap

import numpy as np
import pytest

from helpers import grading_of, measure
from seminar import manifest
from seminar.grader import checker, isolation, markers
from seminar.grader.grading import EvidenceError
from seminar.tools import cli

COURSE = manifest.load()
HELLO = COURSE.get("intro/hello_world")


def variant(tmp_path: pathlib.Path, exercise, old: str, new: str, name: str = "student.py") -> pathlib.Path:
    """A copy of the exercise's solution with one piece of text replaced (it must be there)."""
    text = exercise.solution_path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {exercise.solution}"
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


MAIN_HEADER = "def main(argv=None) -> dict:\n"


@pytest.mark.slow
def test_the_solution_passes_in_a_child_process(tmp_path):
    outcome = isolation.run(HELLO, HELLO.solution_path, output_dir=tmp_path, time_limit=120)
    assert outcome.kind == "ran" and outcome.passed
    assert outcome.metrics["fraction_correct"] == 1.0


@pytest.mark.parametrize("call, kind", [
    ("import sys; sys.exit(0)", "exit"),
    ("raise SystemExit", "exit"),
    ("import os; os._exit(0)", "exit"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)", "crash"),
])
@pytest.mark.slow
def test_exit_or_crash_in_main_is_a_fail(tmp_path, capsys, call, kind):
    path = variant(tmp_path, HELLO, MAIN_HEADER, MAIN_HEADER + f"    {call}\n")
    outcome = isolation.run(HELLO, path, output_dir=tmp_path, time_limit=120)
    assert outcome.kind == kind and not outcome.passed
    assert "exit" in outcome.message or "signal" in outcome.message or "SIGSEGV" in outcome.message


@pytest.mark.slow
def test_exit_at_import_makes_check_exit_1_with_a_message(tmp_path, capsys):
    path = variant(tmp_path, HELLO, "import seminar", "import sys; sys.exit(0)\nimport seminar")
    status = cli.check_once(HELLO, path, record=False, time_limit=120)
    out = capsys.readouterr().out
    assert status == 1
    assert "FAIL intro/hello_world" in out and "exit" in out


@pytest.mark.slow
def test_an_endless_loop_is_stopped_at_the_time_limit(tmp_path, capsys):
    path = variant(tmp_path, HELLO, MAIN_HEADER, MAIN_HEADER + "    while True:\n        pass\n")
    status = cli.check_once(HELLO, path, record=False, time_limit=8)
    out = capsys.readouterr().out
    assert status == 1
    assert "Stopped after 8 s" in out and "--time-limit" in out


def test_a_crash_while_tensorflow_loads_is_shown(tmp_path):
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    fake.joinpath("__init__.py").write_text(textwrap.dedent("""
        import os, signal, sys
        print("this CPU is not supported", file=sys.stderr, flush=True)
        os.kill(os.getpid(), signal.SIGILL)
    """))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(fake.parent))
        outcome = isolation.run(HELLO, HELLO.solution_path, output_dir=tmp_path, time_limit=60)
    assert outcome.kind == "tensorflow"
    assert "SIGILL" in outcome.message and "this CPU is not supported" in outcome.message


@pytest.mark.slow
def test_a_returned_number_does_not_pass_a_measured_check(tmp_path):
    """main() claims perfection, but the functions are wrong: the checker measures 0."""
    path = variant(tmp_path, HELLO, 'return tf.constant("Hello, TensorFlow!")',
                   'return tf.constant("Hello!")')
    text = path.read_text().replace('return {"fraction_correct": fraction_correct,',
                                    'return {"fraction_correct": 1.0,')
    path.write_text(text)
    outcome = isolation.run(HELLO, path, output_dir=tmp_path, time_limit=120)
    assert outcome.kind == "ran" and not outcome.passed  # the probes stop it before main()
    assert any("greeting" in f.cause for f in outcome.findings)
    # Without the probes, main() runs and reports 1.0, and the checker measures 0.8 itself.
    result = checker.run_checks(HELLO, path, output_dir=tmp_path, quiet=True, probes=False)
    (line,) = result.results
    assert not result.passed
    assert line.value == pytest.approx(0.8) and line.reported == 1.0
    assert "main() reported 1" in line.line()


def test_missing_evidence_is_a_clear_error():
    with pytest.raises(EvidenceError, match="test_predictions"):
        measure("neural_nets/softmax", "test_accuracy", test_accuracy=0.99)
    with pytest.raises(EvidenceError, match="shape"):
        measure("neural_nets/softmax", "test_accuracy", test_predictions=np.zeros(7))


def test_a_missing_or_non_numeric_metric_fails():
    exercise = COURSE.get("sgd/binary_classif")
    (result,) = checker.evaluate(exercise, {"test_accuracy": "0.99"}, False, measured={})
    assert not result.passed
    (result,) = checker.evaluate(exercise, {"test_accuracy": float("nan")}, False,
                                 measured={"test_accuracy": float("nan")})
    assert not result.passed


def test_lake_exact_success_of_known_policies():
    exact_success = grading_of("reinforcement/q_learning_frozen_lake").exact_success
    always_left = np.zeros(16, dtype=int)
    assert exact_success(always_left, slippery=False) == 0.0
    # Down, down, right, right, down, right from the start reaches the goal on the calm lake.
    path = {0: 1, 4: 1, 8: 2, 9: 2, 10: 1, 14: 2}
    policy = np.array([path.get(s, 0) for s in range(16)])
    assert exact_success(policy, slippery=False) == 1.0


@pytest.mark.slow
def test_missing_data_is_one_clear_message_in_check_run_and_demo(tmp_path, capsys):
    message = "MNIST could not be found. Tried: ... What to do: set SEMINAR_DATA_DIR"
    path = variant(tmp_path, HELLO, MAIN_HEADER,
                   MAIN_HEADER + f"    import datasets; raise datasets.DatasetUnavailable({message!r})\n")
    outcome = isolation.run(HELLO, path, output_dir=tmp_path, time_limit=120)
    assert outcome.kind == "dataset" and outcome.message == message
    cli.report_outcome(HELLO, outcome)
    out = capsys.readouterr().out
    assert message in out and "Traceback" not in out


@pytest.mark.slow
def test_a_refused_flag_is_not_mistaken_for_an_exit_call(tmp_path, capsys):
    """argparse's own exit (here: an --output-dir under a regular file) is reported as a refused
    flag, with argparse's one-line reason, not as the student calling exit()."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    outcome = isolation.run(HELLO, HELLO.solution_path, output_dir=blocker / "plots", time_limit=120)
    assert outcome.kind == "usage" and not outcome.passed


def test_tensorflow_notices_reach_the_terminal_when_asked_for(tmp_path, capfd):
    """TF_CPP_MIN_LOG_LEVEL=0 means "show me everything": what TensorFlow prints while it loads
    goes to the terminal, not to the file kept for a crash report."""
    fake = tmp_path / "fake" / "tensorflow"
    fake.mkdir(parents=True)
    fake.joinpath("__init__.py").write_text(
        "import sys\nprint('notice from tensorflow', file=sys.stderr, flush=True)\n"
        "raise ImportError('no tensorflow here')\n")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PYTHONPATH", str(fake.parent))
        patch.setenv("TF_CPP_MIN_LOG_LEVEL", "0")
        outcome = isolation.run(HELLO, HELLO.solution_path, output_dir=tmp_path, time_limit=60)
    assert outcome.kind == "tensorflow" and "no tensorflow here" in outcome.message
    assert "notice from tensorflow" in capfd.readouterr().err


# ---------------------------------------------------------------- verdicts known from the file


WORD2VEC = COURSE.get("rnn/word2vec")


def test_an_open_todo_is_answered_from_the_file_with_the_childs_message(tmp_path):
    """The untouched skeleton: the same message the check in a child process gives, without
    starting one (no TensorFlow)."""
    fast = checker.verdict_from_text(WORD2VEC, WORD2VEC.exercise_path)
    assert fast.kind == "todo" and not fast.passed
    with pytest.raises(NotImplementedError) as raised:
        checker.run_checks(WORD2VEC, WORD2VEC.exercise_path, output_dir=tmp_path, quiet=True)
    assert fast.message == checker.todo_report(raised.value, WORD2VEC.exercise_path)
    assert fast.message.startswith("skipgram_pairs(), line ")


def test_a_syntax_error_is_answered_from_the_file(tmp_path):
    path = tmp_path / "student.py"
    path.write_text(HELLO.exercise_path.read_text().replace("def main(", "def main(:", 1))
    outcome = isolation.run(HELLO, path, output_dir=tmp_path, time_limit=60)
    assert outcome.kind == "error" and outcome.wall_seconds == 0.0  # no child process started
    assert outcome.traceback.startswith("In your file student.py, line ")


@pytest.mark.parametrize("where, code", [
    (0, "return []"),  # code above the TODO that returns: the raise below is never reached
    (1, "pairs = []"),  # code between the TODO's comment and its raise: the text cannot tell
])
def test_a_todo_that_may_not_raise_is_left_to_the_check(tmp_path, where, code):
    """Every TODO of the skeleton edited so: the file alone does not show a raise certain to run."""
    lines = WORD2VEC.exercise_path.read_text().splitlines(keepends=True)
    for todo in reversed(markers.todos("".join(lines))):
        first = todo.line - 1
        indent = lines[first][:len(lines[first]) - len(lines[first].lstrip())]
        at = first if where == 0 else first + len(todo.comment)
        lines[at:at] = [indent + code + "\n"]
    path = tmp_path / "student.py"
    path.write_text("".join(lines))
    assert checker.verdict_from_text(WORD2VEC, path) is None
