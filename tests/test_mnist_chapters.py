"""The MNIST chapters (neural_nets, convnets): each solution against its fast threshold on the 10000
test digits, its parts against NumPy references, its pictures, the shared MNIST plumbing in
``seminar.mnist_splits``, the training log they report to, a correctly filled skeleton passing
``check``, and the benchmark's table.

The suite runs seed 0 (``test_seed`` in exercises.toml); each check's ``reference`` in the manifest
gives the seed sweep's worst and median.
"""

import math

import numpy as np
import pytest
import tensorflow as tf

from seminar import manifest, mnist_splits
from seminar.grader import checker, grading, markers, measures
from seminar.tools import cli

from helpers import filled_skeleton

COURSE = manifest.load()
# The MNIST classifiers: the exercises whose test accuracy the checker measures on the MNIST test
# digits (read from their grading modules, so that a new one is included).
MNIST_IDS = [e.id for e in COURSE.exercises
             if grading.load(e).measures.get("test_accuracy") is measures.mnist_test_accuracy]


def solution(exercise_id):
    return checker.load_module(COURSE.get(exercise_id).solution_path)


# ------------------------------------------------------------------------- the shared plumbing


@pytest.fixture(scope="module")
def splits():
    return mnist_splits.mnist_splits(flat=True)


@pytest.mark.slow
def test_splits_hold_out_a_fixed_validation_set(splits):
    assert splits.x_train.shape == (55000, 784) and splits.x_val.shape == (5000, 784)
    assert splits.x_test.shape == (10000, 784)
    assert splits.x_train.dtype == np.float32 and splits.y_train.dtype == np.int32
    assert 0.0 <= splits.x_train.min() and splits.x_train.max() <= 1.0
    assert sorted(np.unique(splits.y_val)) == list(range(10))
    # The same validation digits in every call (whatever the run's seed), none of them trained on.
    again = mnist_splits.mnist_splits(flat=True, train_size=1000)
    np.testing.assert_array_equal(again.x_val, splits.x_val)
    np.testing.assert_array_equal(again.x_train, splits.x_train[:1000])
    train_rows = {row.tobytes() for row in (splits.x_train * 255).round().astype(np.uint8)}
    val_rows = {row.tobytes() for row in (splits.x_val * 255).round().astype(np.uint8)}
    assert len(train_rows & val_rows) < 10  # MNIST holds a handful of duplicate images, no more


def test_standardised_splits_use_training_statistics():
    data = mnist_splits.mnist_splits(standardise=True, train_size=5000)
    assert data.x_train.shape == (5000, 28, 28, 1)
    assert abs(float(data.x_train.mean())) < 1e-3 and abs(float(data.x_train.std()) - 1.0) < 1e-3
    raw = mnist_splits.mnist_splits(train_size=5000)
    np.testing.assert_allclose(data.as_pixels(data.x_test[:5]), raw.x_test[:5, :, :, 0], atol=1e-5)


def test_accuracy_counts_the_argmax():
    images = np.arange(5, dtype=np.float32)[:, None]  # each "image" is its own index
    labels = np.array([0, 1, 2, 0, 1])
    predicted = np.array([0, 1, 2, 1, 1])  # one mistake in five

    def predict(batch):
        return np.eye(10)[predicted[batch[:, 0].astype(int)]]

    assert mnist_splits.accuracy(predict, images, labels, batch_size=2) == pytest.approx(0.8)


def test_bad_train_size_gets_a_clear_error():
    with pytest.raises(ValueError, match="train_size must be between 1 and 55000"):
        mnist_splits.mnist_splits(train_size=60000)


# ------------------------------------------------------------------ the models against NumPy


def test_softmax_parts_match_numpy():
    softmax = solution("neural_nets/softmax")
    rng = np.random.default_rng(0)
    images = rng.random((6, 784), dtype=np.float32)
    weights = tf.Variable(rng.normal(size=(784, 10)).astype(np.float32) * 0.05)
    bias = tf.Variable(rng.normal(size=10).astype(np.float32))
    labels = np.array([0, 3, 9, 2, 2, 7], np.int32)
    logits = softmax.inference(tf.constant(images), weights, bias).numpy()
    np.testing.assert_allclose(logits, images @ weights.numpy() + bias.numpy(), rtol=1e-4, atol=1e-4)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -log_probabilities[np.arange(6), labels].mean()
    loss = float(softmax.cross_entropy(tf.constant(logits), tf.constant(labels)))
    assert loss == pytest.approx(expected, rel=1e-5)
    # One SGD step moves the weights by -rate * gradient: the gradient of the mean cross-entropy
    # with respect to W is X^T (softmax - one_hot) / n.
    before = weights.numpy().copy()
    softmax.train_step(tf.constant(images), tf.constant(labels), weights, bias, tf.constant(0.5))
    probabilities = np.exp(log_probabilities)
    gradient = images.T @ (probabilities - np.eye(10)[labels]) / 6
    np.testing.assert_allclose(weights.numpy(), before - 0.5 * gradient, rtol=1e-3, atol=1e-5)


def test_softmax_learning_rate_decays_to_zero():
    softmax = solution("neural_nets/softmax")
    assert softmax.cosine_learning_rate(0, 100) == pytest.approx(softmax.LEARNING_RATE)
    assert softmax.cosine_learning_rate(50, 100) == pytest.approx(softmax.LEARNING_RATE / 2)
    assert softmax.cosine_learning_rate(100, 100) == pytest.approx(0.0, abs=1e-12)


def test_mlp_initialisation_and_inference_match_numpy():
    mlp = solution("neural_nets/mlp")
    sizes = (784, 512, 512, 10)
    params = mlp.init_layers(sizes, seed=0)
    assert [tuple(p.shape) for p in params] == [(784, 512), (512,), (512, 512), (512,), (512, 10), (10,)]
    for weights, fan_in in zip(params[0::2], sizes[:-1]):
        assert float(tf.math.reduce_std(weights)) == pytest.approx(math.sqrt(2.0 / fan_in), rel=0.05)
    assert all(float(tf.reduce_max(tf.abs(b))) == 0.0 for b in params[1::2])
    images = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    hidden = images
    values = [p.numpy() for p in params]
    for w, b in zip(values[0:-2:2], values[1:-2:2]):
        hidden = np.maximum(hidden @ w + b, 0.0)
    expected = hidden @ values[-2] + values[-1]
    np.testing.assert_allclose(mlp.inference(tf.constant(images), params).numpy(), expected,
                               rtol=1e-4, atol=1e-4)


def test_lenet_has_the_classic_shapes():
    lenet = solution("convnets/lenet")
    model = lenet.build_lenet()
    # 6*(25+1) + 16*(150+1) + 400*120+120 + 120*84+84 + 84*10+10
    assert model.count_params() == 61706
    maps = lenet.feature_map_model(model).predict_on_batch(np.zeros((2, 28, 28, 1), np.float32))
    assert [tuple(np.shape(m)) for m in maps] == [(2, 28, 28, 6), (2, 10, 10, 16)]


def test_one_conv_model_shapes():
    one_conv = solution("convnets/one_conv")
    model = one_conv.build_model()
    assert model.output_shape == (None, 10)
    assert model.get_layer("conv1").kernel.shape == (5, 5, 1, one_conv.FILTERS)
    assert model.count_params() == 5 * 5 * 16 + 16 + 14 * 14 * 16 * 10 + 10


# ----------------------------------------------------------------- the solutions, trained


@pytest.mark.slow
@pytest.mark.parametrize("exercise_id", MNIST_IDS)
def test_solution_keeps_its_history_and_its_held_out_figures_agree(exercise_id, solution_run):
    result, output_dir = solution_run(exercise_id)
    assert (output_dir / "history.csv").stat().st_size > 0
    # Training and held-out figures agree: no gross overfitting, no mix-up of the splits.
    assert abs(result.metrics["val_accuracy"] - result.metrics["test_accuracy"]) < 0.02
    # The history has one row per epoch of the fast run, its last row is what main() returned,
    # and the epochs' training seconds add up to the total (evaluation not counted).
    import pandas as pd

    history = pd.read_csv(output_dir / "history.csv")
    assert list(history["epoch"]) == list(range(1, solution(exercise_id).EPOCHS_FAST + 1))
    assert history["val_accuracy"].iloc[-1] == pytest.approx(result.metrics["val_accuracy"])
    assert history["epoch_seconds"].sum() == pytest.approx(result.metrics["train_seconds"], rel=1e-6)


@pytest.mark.slow
def test_a_correctly_filled_skeleton_passes_check(tmp_path, capsys):
    exercise = COURSE.get("neural_nets/softmax")
    filled = tmp_path / "neural_nets" / "softmax_exo.py"
    filled.parent.mkdir()
    filled.write_text(filled_skeleton(exercise))
    status = cli.check_once(exercise, filled, record=False)
    printed = capsys.readouterr().out
    assert status == 0, printed
    assert "PASS neural_nets/softmax" in printed and "[ok ] test_accuracy" in printed


def test_filling_every_skeleton_gives_back_the_solution_code():
    for exercise_id in MNIST_IDS:
        exercise = COURSE.get(exercise_id)
        code = [line for line in exercise.solution_path.read_text().splitlines()
                if not (markers.BEGIN.match(line) or markers.END.match(line) or markers.CONTINUATION.match(line))]
        filled = [line for line in filled_skeleton(exercise).splitlines()]
        assert filled == code, exercise_id


# --------------------------------------------------------------------------- the benchmark


@pytest.mark.slow
def test_benchmark_writes_its_table(tmp_path):
    from benchmarks import mnist_speed

    assert mnist_speed.main(["--only", "softmax", "--fast", "--output-dir", str(tmp_path)]) == 0
    table = (tmp_path / "mnist_speed.md").read_text()
    assert "`neural_nets/softmax`" in table and "GFLOP/s" in table
    rows = (tmp_path / "mnist_speed.csv").read_text().splitlines()
    assert len(rows) == 2 and rows[0].startswith("exercise,threshold,seconds_to_threshold")


def test_flop_count_of_lenet():
    from benchmarks import mnist_speed

    lenet = solution("convnets/lenet")
    forward = mnist_speed.keras_forward_flops(lenet.build_lenet())
    # multiply-adds per example: conv1 117600, conv2 240000, dense 48000 + 10080 + 840; x 2 FLOPs
    assert forward == 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84 + 84 * 10)
