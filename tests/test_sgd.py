"""The SGD chapter against references: the closed form against NumPy's least squares, SGD and
gradient descent against the closed form, and reproducibility from the seed."""

import numpy as np
import pytest
import tensorflow as tf

from datasets import toy
from seminar import manifest
from seminar.grader import checker

COURSE = manifest.load()


@pytest.fixture(scope="module")
def linear():
    return checker.load_module(COURSE.get("sgd/linear_regression").solution_path)


def test_closed_form_matches_numpy_least_squares(linear):
    x, y = toy.linear_regression_points()
    features = linear.design_matrix(x, float(x.mean()), float(x.std()))
    beta = linear.closed_form(features, tf.constant(y[:, None])).numpy()
    reference, *_ = np.linalg.lstsq(np.stack([x, np.ones_like(x)], 1).astype(np.float64), y, rcond=None)
    slope = beta[0, 0] / x.std()
    intercept = beta[1, 0] - beta[0, 0] * x.mean() / x.std()
    assert slope == pytest.approx(reference[0], rel=1e-4)
    assert intercept == pytest.approx(reference[1], rel=1e-4)


def test_linear_regression_run_reports_the_closed_form_line(solution_run):
    result, output_dir = solution_run("sgd/linear_regression")
    x, y = toy.linear_regression_points()
    reference = np.polyfit(x.astype(np.float64), y.astype(np.float64), 1)
    assert result.metrics["slope"] == pytest.approx(reference[0], rel=1e-4)
    assert result.metrics["intercept"] == pytest.approx(reference[1], rel=1e-4)
    assert (output_dir / "fitted_lines.png").is_file() and (output_dir / "loss_per_step.png").is_file()


def test_hand_derived_gradient_matches_the_tape_on_the_seminar_data(linear):
    x, y = toy.linear_regression_points()
    features = linear.design_matrix(x, float(x.mean()), float(x.std()))
    targets = tf.constant(y[:, None])
    beta = tf.Variable([[0.5], [-1.0]])
    with tf.GradientTape() as tape:
        loss = linear.mean_squared_error(features, targets, beta)
    np.testing.assert_allclose(linear.mse_gradient(features, targets, beta), tape.gradient(loss, beta),
                               rtol=1e-5, atol=1e-6)


def test_gradient_steps_decrease_the_loss(linear):
    x, y = toy.linear_regression_points()
    features = linear.design_matrix(x, float(x.mean()), float(x.std()))
    beta, losses = linear.gradient_descent(features, tf.constant(y[:, None]), 30, 0.1,
                                           np.zeros((2, 1), np.float32))
    assert all(later < earlier for earlier, later in zip(losses, losses[1:]))


def test_bad_batch_size_gets_a_clear_error(linear):
    x, y = toy.linear_regression_points()
    features = linear.design_matrix(x, float(x.mean()), float(x.std()))
    with pytest.raises(ValueError, match="batch size must be between 1 and 17"):
        linear.minibatch_sgd(features, tf.constant(y[:, None]), 5, 40, np.zeros((2, 1), np.float32),
                             np.random.default_rng(0))


def test_binary_classifier_writes_its_boundary_plot(solution_run):
    result, output_dir = solution_run("sgd/binary_classif")
    assert result.metrics["test_accuracy"] >= 0.97
    assert (output_dir / "decision_boundary.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", [e.id for e in COURSE.in_chapter("sgd")])
def test_same_seed_same_metrics(exercise_id, solution_run, tmp_path):
    first, _ = solution_run(exercise_id)
    exercise = COURSE.get(exercise_id)
    again = checker.run_checks(exercise, exercise.solution_path, output_dir=tmp_path, quiet=True)
    assert again.metrics == first.metrics


@pytest.mark.slow
def test_tensorboard_logs_are_written_when_asked(tmp_path):
    exercise = COURSE.get("sgd/binary_classif")
    checker.run_checks(exercise, exercise.solution_path, output_dir=tmp_path, quiet=True,
                       extra_args=("--tensorboard", "--epochs", "2"))
    events = list((tmp_path / "tensorboard" / "train").glob("events.out.tfevents.*"))
    assert len(events) == 1 and events[0].stat().st_size > 0
