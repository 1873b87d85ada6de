"""convnets/going_deeper: the Inception module and the deeper network's structure, the Fashion-MNIST
splits, the checker's measure on fake classifiers, and a tiny run of main() (one epoch on 256
images) that saves a loadable ``.keras`` file and draws its pictures. No full training: the fast
run against its thresholds is left to the curriculum tests once the exercise is in the manifest.
"""

import pathlib
import types

import keras
import numpy as np
import pytest

from helpers import context_for, grading_of, measure
from seminar import deeper
from seminar.grader import checker
from seminar.grader.grading import EvidenceError

SOLUTION = pathlib.Path(__file__).resolve().parent.parent / "solutions" / "convnets" / "going_deeper.py"


@pytest.fixture(scope="module")
def solution():
    return checker.load_module(SOLUTION)


@pytest.fixture(scope="module")
def fashion_test():
    from datasets import fashion_mnist

    (_, _), (x_test, y_test) = fashion_mnist.load()
    return x_test, y_test


def accuracy(metric="test_accuracy", **evidence):
    return measure("convnets/going_deeper", metric, **evidence)


# ------------------------------------------------------------------------- the student's parts


def test_inception_module_keeps_the_size_and_concatenates_four_branches(solution):
    filters = (5, 4, 6, 2, 3, 7)
    inputs = keras.Input(shape=(9, 9, 11))
    outputs = solution.inception_module(inputs, filters)
    assert tuple(outputs.shape) == (None, 9, 9, 5 + 6 + 3 + 7)
    module = keras.Model(inputs, outputs)
    kinds = [type(layer).__name__ for layer in module.layers]
    assert kinds.count("Concatenate") == 1
    concat = next(layer for layer in module.layers if isinstance(layer, keras.layers.Concatenate))
    assert len(concat.input) == 4  # four parallel paths
    convolutions = [layer for layer in module.layers if isinstance(layer, keras.layers.Conv2D)]
    # 1x1; 1x1 then 3x3; 1x1 then 5x5; pool then 1x1
    assert sorted(layer.kernel_size[0] for layer in convolutions) == [1, 1, 1, 1, 3, 5]
    assert kinds.count("BatchNormalization") == 6 and kinds.count("MaxPooling2D") == 1
    # Batch normalisation makes a difference: one forward pass gives finite numbers of that shape.
    values = module(np.random.default_rng(0).normal(size=(2, 9, 9, 11)).astype(np.float32), training=True)
    assert values.shape == (2, 9, 9, 21) and np.all(np.isfinite(np.asarray(values)))


def test_deeper_network_has_the_slide_parts_and_returns_logits(solution):
    model = solution.build_deeper()
    assert tuple(model.output_shape) == (None, 10)
    assert model.layers[-1].activation is keras.activations.linear
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"BatchNormalization", "Dropout", "GlobalAveragePooling2D", "Concatenate"} <= kinds
    assert isinstance(model.get_layer("features"), keras.layers.GlobalAveragePooling2D)
    assert tuple(model.get_layer("features").output.shape) == (None, 120)
    assert model.count_params() < deeper.build_lenet().count_params()  # deeper, yet fewer weights


def test_the_probes_explain_what_is_wrong(solution):
    grading = grading_of("convnets/going_deeper")

    def findings(probe, **functions):
        module = types.SimpleNamespace(**{"conv_block": solution.conv_block, **functions})
        return probe(context_for("convnets/going_deeper", module))

    (found,) = findings(grading.probe_conv_block,
                        conv_block=lambda x, filters, size: keras.layers.Conv2D(filters, size)(x))
    assert "changes the spatial size" in found.cause
    (found,) = findings(grading.probe_inception,
                        inception_module=lambda x, filters: keras.layers.Conv2D(4, 3)(x))
    assert "spatial size" in found.cause or "channels" in found.cause
    softmax = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(name="features"),
                                keras.layers.Dense(10, activation="softmax")])
    (found,) = findings(grading.probe_network, build_deeper=lambda: softmax)
    assert '"features"' in found.cause  # a flatten is not the global average pooling
    unnamed = keras.Sequential([keras.Input((28, 28, 1)), keras.layers.Flatten(), keras.layers.Dense(10)])
    (found,) = findings(grading.probe_network, build_deeper=lambda: unnamed)
    assert 'no layer named "features"' in found.cause


# ------------------------------------------------------------------------- data and measure


def test_fashion_splits_hold_out_a_fixed_validation_set():
    data = deeper.fashion_splits(train_size=1000)
    assert data.x_train.shape == (1000, 28, 28, 1) and data.x_val.shape == (5000, 28, 28, 1)
    assert data.x_test.shape == (10000, 28, 28, 1) and data.x_train.dtype == np.float32
    assert 0.0 <= data.x_train.min() and data.x_train.max() <= 1.0
    assert data.y_train.dtype == np.int32 and sorted(np.unique(data.y_val)) == list(range(10))
    again = deeper.fashion_splits(train_size=2000)
    np.testing.assert_array_equal(again.x_val, data.x_val)
    np.testing.assert_array_equal(again.x_train[:1000], data.x_train)


def test_measure_scores_a_perfect_and_a_constant_classifier(fashion_test):
    _, labels = fashion_test
    calls = []

    def perfect(images):  # looks the images up: the measure must pass them in order, in [0, 1]
        assert images.dtype == np.float32 and images.shape[1:] == (28, 28, 1)
        assert 0.0 <= images.min() and images.max() <= 1.0
        start = sum(calls)
        calls.append(len(images))
        return np.eye(10, dtype=np.float32)[labels[start:start + len(images)]]

    assert accuracy(classify=perfect) == 1.0
    assert max(calls) <= 2000 and sum(calls) == 10000
    def constant(images):
        return np.tile(np.eye(10)[3], (len(images), 1))

    assert accuracy(classify=constant) == pytest.approx(0.1)
    calls.clear()
    assert accuracy("accuracy_gain", classify=perfect, lenet_classify=constant) == pytest.approx(0.9)


@pytest.mark.parametrize("metrics, message", [
    ({}, "must return 'classify'"),
    ({"classify": np.zeros((10000, 10))}, "must be the trained deeper network"),
    ({"classify": lambda images: np.zeros((len(images), 9))}, r"shape \(n, 10\)"),
    ({"classify": lambda images: np.zeros(len(images))}, "logits"),
])
def test_bad_evidence_gets_a_clear_error(metrics, message):
    with pytest.raises(EvidenceError, match=message):
        accuracy(**metrics)


def test_confusion_matrix_counts_true_rows_and_predicted_columns():
    matrix = deeper.confusion_matrix(np.array([0, 0, 6, 6, 6]), np.array([0, 6, 6, 0, 6]))
    assert matrix[0, 0] == 1 and matrix[0, 6] == 1 and matrix[6, 0] == 1 and matrix[6, 6] == 2
    assert matrix.sum() == 5


# ------------------------------------------------------------------------- a tiny run of main()


@pytest.mark.slow
def test_tiny_run_saves_a_loadable_network_and_draws_its_pictures(solution, tmp_path, fashion_test):
    metrics = solution.main(["--epochs", "1", "--train-size", "256", "--seed", "0",
                             "--output-dir", str(tmp_path), "--quiet"])
    for name in ["training_curves.png", "sample_predictions.png", "confusion_matrix.png",
                 "inception_branches.png", "history.csv", "lenet_history.csv"]:
        assert (tmp_path / name).stat().st_size > 0, name
    assert metrics["train_size"] == 256 and metrics["epochs"] == 1
    assert metrics["params"] < metrics["lenet_params"]
    measured = accuracy(**metrics)
    assert measured == pytest.approx(metrics["test_accuracy"])
    loaded = keras.models.load_model(tmp_path / "going_deeper.keras")
    images = (fashion_test[0][:64].astype(np.float32) / 255.0)[..., None]
    np.testing.assert_allclose(loaded.predict_on_batch(images), metrics["classify"](images),
                               rtol=1e-4, atol=1e-4)
    assert isinstance(loaded.get_layer("features"), keras.layers.GlobalAveragePooling2D)
