"""The grader's shared pieces: the toolkit the grading modules call (seminar/grader/toolkit.py),
the loss-curve reading every run gets (seminar/grader/findings.py), the report of an unfilled TODO
and of an error inside a tf.function, and the comparison with the solution's curve
(seminar/grader/feedback.py)."""

from __future__ import annotations

import math
import textwrap

import numpy as np
import pytest

from seminar import manifest
from seminar.grader import checker, feedback, findings, toolkit


def test_logits_finding_names_a_softmax_and_a_sigmoid_and_spares_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(4, 10))
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert "softmax applied" in toolkit.logits_finding("f", softmax).cause
    assert "sigmoid" in toolkit.logits_finding("f", 1 / (1 + np.exp(-logits))).cause
    assert toolkit.logits_finding("f", logits) is None


def test_shape_finding_names_the_broadcast_to_n_by_n():
    found = toolkit.shape_finding("residuals", np.zeros((5, 5)), (5,))
    assert "broadcast" in found.cause and "(5, 5)" in found.evidence
    assert toolkit.shape_finding("loss", np.zeros(5), ()).cause.endswith("not their mean")
    assert toolkit.shape_finding("f", np.zeros((5, 1)), (5, 1)) is None


def test_value_finding_names_a_known_mistake():
    found = toolkit.value_finding("loss", 8.0, 1.0, wrong={"summed, not averaged": 8.0})
    assert found.cause == "summed, not averaged"
    assert toolkit.value_finding("loss", 1.0 + 1e-6, 1.0) is None
    assert "NaN" in toolkit.value_finding("loss", math.nan, 1.0).cause


def test_step_findings_name_nan_frozen_variables_and_ascent():
    assert "NaN" in toolkit.step_findings("step", [1.0, math.inf], {"w": 1.0})[0].cause
    frozen = toolkit.step_findings("step", [1.0, 1.0, 1.0], {"w": 0.0, "b": 0.0})
    assert "None or zero" in frozen[0].cause
    partly = toolkit.step_findings("step", [1.0, 0.9, 0.8], {"w": 0.1, "b": 0.0})
    assert "some variables" in partly[0].cause and "b" in partly[0].evidence
    assert "ascent" in toolkit.step_findings("step", [1.0, 1.5, 2.0], {"w": 0.1})[0].cause
    assert toolkit.step_findings("step", [1.0, 0.9, 0.8], {"w": 0.1}) == []


def test_curve_findings_read_the_training_loss():
    nan = findings.curve_findings({"loss_curve": [2.0, 1.0, math.nan, 1.0]})
    assert nan[0].fatal and "step 3" in nan[0].cause
    high = findings.curve_findings({"loss_curve": [9000.0] * 20}, loss_at_most=1.0)
    assert high[0].fatal and "not scaled" in high[0].cause
    rising = findings.curve_findings({"loss_curve": list(np.linspace(1, 3, 50))})
    assert "grows" in rising[0].cause and not rising[0].fatal
    chance = findings.curve_findings({"loss_curve": list(np.linspace(2, 0.5, 50)), "acc": 0.1},
                                      chance=0.1, accuracy_key="acc")
    assert "chance" in chance[0].cause
    assert findings.curve_findings({"loss_curve": list(np.linspace(2, 0.5, 50))},
                                    loss_at_most=1.0) == []


def test_the_first_open_todo_of_the_file_is_reported(tmp_path):
    path = tmp_path / "two_todos.py"
    path.write_text(textwrap.dedent('''\
        def first():
            # TODO: Return the answer.
            #   It is a number.
            raise NotImplementedError("TODO in first() (for a hint: python -m seminar hint a/b)")


        def second():
            # TODO: Return the other one.
            raise NotImplementedError("TODO in second() (for a hint: python -m seminar hint a/b)")
        '''))
    raised_by_second = NotImplementedError("TODO in second() (for a hint: ...)")
    report = checker.todo_report(raised_by_second, path)
    assert report.startswith("first(), line 2:")
    assert "# TODO: Return the answer." in report and "#   It is a number." in report


def test_an_error_inside_a_tf_function_shows_the_students_line_first(tmp_path):
    path = tmp_path / "student.py"
    path.write_text(textwrap.dedent('''\
        import tensorflow as tf


        @tf.function
        def step(x):
            y = tf.matmul(x, tf.ones((3, 2)))
            return y
        '''))
    import importlib.util

    spec = importlib.util.spec_from_file_location("student_tf_error", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import tensorflow as tf

    with pytest.raises(Exception) as raised:
        module.step(tf.ones((4, 5)))
    text = checker.student_traceback(raised.value, path)
    assert text.startswith("In your file student.py, line 6:\n    y = tf.matmul(x, tf.ones((3, 2)))")


def test_feedback_compares_with_the_reference_and_draws_both(tmp_path, monkeypatch):
    exercise = manifest.load().get("neural_nets/softmax")
    monkeypatch.setattr(feedback, "CURVES_DIR", tmp_path / "curves")
    reference = np.linspace(2.0, 0.3, 100)
    feedback.write_reference(exercise, reference, "step", 3.0, 0)
    slower = np.linspace(2.0, 0.3, 200)
    lines = feedback.compare(exercise, {"loss_curve": slower}, 6.0, tmp_path / "out")
    assert "within 10% of the solution's final loss" in lines[0]
    assert "at step" in lines[0] and "of 200" in lines[0] and "of 100" in lines[0]
    assert "main() took 6 s; the solution 3 s" in lines[1]
    assert (tmp_path / "out" / "learning_curve_vs_reference.png").stat().st_size > 0
    stuck = feedback.compare(exercise, {"loss_curve": np.full(50, 1.5)}, 6.0, None)
    assert "above the solution's" in stuck[0]
