"""rnn/rnn_mnist: the hand-written recurrence against keras.layers.SimpleRNN given the same weights
(so a student's recurrence is exact, not just trainable, and the comparison does catch wrong
ones), the checker's accuracy measures on fake classifiers, and the chapter's pictures drawn from
made-up states (no training here: the curriculum test runs the solution's --fast once).
"""

import pathlib
import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from helpers import context_for, grading_of, measure, probe, variant_file
from seminar import runtime, sequences
from seminar.grader import checker, markers, measures
from seminar.grader.grading import EvidenceError
from seminar.tools import skeleton
from seminar.training_log import TrainingLog

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
SOLUTION = REPO_ROOT / "solutions" / "rnn" / "rnn_mnist.py"
EXERCISE = REPO_ROOT / "rnn" / "rnn_mnist_exo.py"


@pytest.fixture(scope="module")
def solution():
    return checker.load_module(SOLUTION)


# ------------------------------------------------------------------------- the recurrence


def random_case(seed=0, batch=4, steps=9, units=16):
    """Random inputs and weights of the sizes rnn_states takes (28 inputs per step)."""
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(0.0, 1.0, size=(batch, steps, 28)).astype(np.float32)
    W = rng.normal(0.0, 0.3, size=(28, units)).astype(np.float32)
    U = rng.normal(0.0, 0.3, size=(units, units)).astype(np.float32)
    b = rng.normal(0.0, 0.3, size=(units,)).astype(np.float32)
    return inputs, W, U, b


def keras_states(inputs, W, U, b) -> np.ndarray:
    """All the states of keras.layers.SimpleRNN (tanh) with these weights, started at ones."""
    batch, steps, size = inputs.shape
    layer = keras.layers.SimpleRNN(W.shape[1], return_sequences=True)
    layer.build((None, steps, size))
    layer.set_weights([W, U, b])
    return np.asarray(layer(inputs, initial_state=[tf.ones((batch, W.shape[1]))]))


def matches_keras(rnn_states, seed=0) -> bool:
    inputs, W, U, b = random_case(seed)
    ones = tf.ones((inputs.shape[0], W.shape[1]))
    got = np.asarray(rnn_states(tf.constant(inputs), tf.constant(W), tf.constant(U), tf.constant(b), ones))
    expected = keras_states(inputs, W, U, b)
    return got.shape == expected.shape and np.allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_recurrence_matches_keras_simple_rnn(solution):
    for seed in range(3):
        assert matches_keras(solution.rnn_states, seed)


def test_recurrence_matches_keras_inside_a_tf_function(solution):
    traced = tf.function(solution.rnn_states)  # how the training step runs it
    assert matches_keras(traced)


def test_the_comparison_catches_wrong_recurrences(solution):
    def zeros_start(inputs, W, U, b, h0):
        return solution.rnn_states(inputs, W, U, b, tf.zeros_like(h0))

    def transposed_u(inputs, W, U, b, h0):
        return solution.rnn_states(inputs, W, tf.transpose(U), b, h0)

    def with_h0(inputs, W, U, b, h0):  # h_0 ... h_{T-1} instead of h_1 ... h_T
        states = solution.rnn_states(inputs, W, U, b, h0)
        return tf.concat([h0[:, None], states[:, :-1]], axis=1)

    def relu(inputs, W, U, b, h0):
        h, states = h0, []
        for t in range(inputs.shape[1]):
            h = tf.nn.relu(inputs[:, t] @ W + h @ U + b)
            states.append(h)
        return tf.stack(states, axis=1)

    for wrong in (zeros_start, transposed_u, with_h0, relu):
        assert not matches_keras(wrong), wrong.__name__


def test_the_classifier_reads_the_last_state_from_ones(solution):
    model = solution.SimpleRNNClassifier(8)
    images = np.random.default_rng(1).uniform(size=(3, 28, 28)).astype(np.float32)
    logits = np.asarray(model(images))
    assert logits.shape == (3, 10)
    states = keras_states(images, *(np.asarray(v) for v in (model.W, model.U, model.b)))
    np.testing.assert_allclose(np.asarray(model.states(images)), states, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(logits, np.asarray(model.classifier(states[:, -1])), rtol=1e-5, atol=1e-5)
    assert sequences.count_params(model) == 28 * 8 + 8 * 8 + 8 + 8 * 10 + 10


def test_the_lstm_model_maps_rows_to_logits(solution):
    model = solution.build_lstm(16)
    assert tuple(model.output_shape) == (None, 10)
    assert any(isinstance(layer, keras.layers.LSTM) for layer in model.layers)
    classify = sequences.logits_function(model)
    assert classify(np.zeros((5, 28, 28), np.float32)).shape == (5, 10)


def test_the_skeleton_is_built_from_the_solution_and_stops_at_its_todos():
    text = skeleton.build(SOLUTION.read_text(), "rnn/rnn_mnist")
    assert EXERCISE.read_text() == text, "regenerate rnn/rnn_mnist_exo.py from the solution"
    functions = [todo.function for todo in markers.todos(text)]
    assert functions == ["rnn_states", "build_lstm"]
    exercise = checker.load_module(EXERCISE)
    with pytest.raises(NotImplementedError, match="TODO in rnn_states"):
        exercise.rnn_states(*(tf.constant(a) for a in random_case()), tf.ones((4, 16)))
    with pytest.raises(NotImplementedError, match="TODO in build_lstm"):
        exercise.build_lstm(16)


# ------------------------------------------------------------------------- the check's probes
#
# They run before training (grading/rnn/rnn_mnist.py); the bug zoo (its overlays) plants mistakes
# in the solution and checks that each is named. Here: the probes' NumPy reference is
# keras.layers.SimpleRNN's recurrence, every known mistake gives other states, and correct code
# (the solution, the variant with a Keras cell) passes.

GRADING = grading_of("rnn/rnn_mnist")


def test_the_probe_reference_is_keras_simple_rnn():
    inputs, W, U, b = random_case(2)
    ones = np.ones((inputs.shape[0], W.shape[1]))
    expected = keras_states(inputs, W, U, b)
    np.testing.assert_allclose(GRADING.reference_states(inputs, W, U, b, ones), expected,
                               rtol=1e-5, atol=1e-5)


def test_every_known_mistake_gives_other_states():
    case = GRADING._rnn_case(np.random.default_rng(0))
    right = GRADING.reference_states(*case)
    for cause, states in GRADING._recurrence_mistakes(*case).items():
        assert not np.allclose(states, right, rtol=1e-2, atol=1e-2), cause


@pytest.mark.slow
@pytest.mark.parametrize("variant", [None, "keras_cell"], ids=["solution", "variant"])
def test_the_probes_pass_correct_code(variant, tmp_path):
    path = SOLUTION if variant is None else variant_file("rnn/rnn_mnist", variant, tmp_path)
    module = checker.load_module(path)
    for seed in range(3):
        assert probe("rnn/rnn_mnist", module, seed) == []


def test_the_lstm_curve_is_read_after_training():
    metrics = {"loss_curve": [2.3, 1.0, 0.2], "lstm_loss_curve": [2.3, 1.0, float("nan")],
               "lstm_test_accuracy": 0.1}
    found = GRADING.after_lstm_curve(context_for("rnn/rnn_mnist", **metrics))
    assert len(found) == 1 and found[0].cause.startswith("the LSTM (build_lstm): ")
    assert "NaN" in found[0].cause
    good = {"lstm_loss_curve": list(np.linspace(2.3, 0.1, 50)), "lstm_test_accuracy": 0.97}
    assert GRADING.after_lstm_curve(context_for("rnn/rnn_mnist", **good)) == []


# ------------------------------------------------------------------------- the checker's measures


def accuracy(metric, **evidence):
    return measure("rnn/rnn_mnist", metric, **evidence)


def test_measures_score_a_perfect_classifier_one():
    images, labels = measures.test_images("mnist")
    assert images.shape == (10000, 28, 28) and images.dtype == np.float32
    assert 0.0 <= images.min() and images.max() <= 1.0
    seen = []

    def perfect(batch):  # checks that it gets the test images, raw / 255, in order
        start = sum(len(b) for b in seen)
        np.testing.assert_array_equal(batch, images[start:start + len(batch)])
        seen.append(batch)
        return tf.one_hot(labels[start:start + len(batch)], 10)  # a tensor is fine too

    assert accuracy("rnn_test_accuracy", rnn_classify=perfect) == 1.0
    assert max(len(b) for b in seen) == measures.EVAL_BATCH

    def always_zero(batch):
        return np.tile(np.eye(10)[0], (len(batch), 1))

    expected = float(np.mean(labels == 0))
    assert accuracy("lstm_test_accuracy", lstm_classify=always_zero) == expected


@pytest.mark.parametrize("metrics, message", [
    ({}, "must return 'rnn_classify'"),
    ({"rnn_classify": np.zeros((10000, 10))}, "'rnn_classify' must be"),
    ({"rnn_classify": lambda x: np.zeros((len(x), 11))}, r"shape \(n, 10\)"),
    ({"rnn_classify": lambda x: np.zeros((len(x),))}, r"shape \(n, 10\)"),
    ({"rnn_classify": lambda x: np.full((len(x), 10), np.nan)}, "NaN"),
    ({"rnn_classify": lambda x: "no logits"}, "numbers"),
])
def test_measures_refuse_bad_evidence(metrics, message):
    with pytest.raises(EvidenceError, match=message):
        accuracy("rnn_test_accuracy", **metrics)


def test_the_lstm_measure_reads_its_own_key():
    with pytest.raises(EvidenceError, match="'lstm_classify'"):
        accuracy("lstm_test_accuracy", rnn_classify=lambda x: np.zeros((len(x), 10)))


def test_accuracy_and_loss_of_known_logits():
    images = np.zeros((3, 28, 28), np.float32)
    logits = np.log(np.array([[0.5, 0.5] + [0.0] * 8, [0.0, 1.0] + [0.0] * 8,
                              [0.25, 0.75] + [0.0] * 8]) + 1e-300)
    accuracy, loss = sequences.accuracy_and_loss(lambda x: logits, images, np.array([0, 1, 0]))
    assert accuracy == pytest.approx(2 / 3)  # the tie goes to class 0
    assert loss == pytest.approx(-(np.log(0.5) + np.log(1.0) + np.log(0.25)) / 3)


# ------------------------------------------------------------------------- pictures


@pytest.mark.slow
def test_pictures_and_report_from_made_up_states_and_models(tmp_path):
    run = runtime.RunContext(tmp_path, quiet=True)
    rng = np.random.default_rng(0)
    pixels = rng.uniform(size=(10, 28, 28)).astype(np.float32)
    states = np.tanh(rng.normal(size=(10, 28, 12)))
    probabilities = rng.dirichlet(np.ones(10), size=28)
    sequences.plot_reading(run, pixels[0], 7, probabilities)
    sequences.plot_hidden_states(run, pixels, states, np.arange(10), np.ones(12))
    data = types.SimpleNamespace(x_val=pixels, y_val=np.arange(10), x_test=pixels, y_test=np.arange(10))
    # Image i of class i: one model names every class right, the other always answers 0.
    right = keras.Sequential([keras.Input((28, 28)), keras.layers.Lambda(
        lambda images: tf.one_hot(tf.range(tf.shape(images)[0]) % 10, 10))])
    zeros = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                              keras.layers.Dense(10, kernel_initializer="zeros")])
    models = {}
    for name, label, model in (("rnn", "simple RNN", right), ("lstm", "LSTM", zeros)):
        held_out = sequences.validation(data, sequences.logits_function(model))
        log = TrainingLog(run, epochs=2, evaluate=held_out, name=name)
        for epoch in range(2):
            log.epoch(epoch, loss=[tf.constant(0.5)])
        models[name] = (label, model, log)
    assert models["rnn"][2].rows[-1]["val_accuracy"] == 1.0
    metrics = sequences.report(run, data, models)
    assert metrics["rnn_test_accuracy"] == 1.0 and metrics["lstm_test_accuracy"] == 0.1
    assert metrics["rnn_params"] == 0 and metrics["lstm_params"] == 28 * 28 * 10 + 10
    assert callable(metrics["lstm_classify"]) and metrics["epochs"] == 2
    assert {p.name for p in tmp_path.glob("*.png")} == {
        "reading_rows.png", "hidden_states.png", "training_curves.png"}
    assert (tmp_path / "history.csv").read_text().count("\n") == 5
