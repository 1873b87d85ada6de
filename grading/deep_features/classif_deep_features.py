"""Grading of deep_features/classif_deep_features.

The checker scores the submission main() wrote as the leaderboard does (``seminar.kaggle.score``:
the labels are loaded by the scorer, never handed out). The probes build the student's models
around a small network of the pretrained architecture with random weights (the same layer names,
a few channels), run them on a few random images or vectors, and compare with what the
docstrings promise: the extractor's output against the network's own "features", the heads'
logits (affine or not, with dropout), the fine-tuned model's frozen and trainable weights by
identity, and the submission's cells against the probabilities given.
"""

from __future__ import annotations

import os

import keras
import numpy as np
import pandas as pd

from seminar.grader.references import softmax
from seminar.grader.toolkit import (Context, EvidenceError, Finding, as_array, build_finding,
                                    classifier_findings, dropout_finding, error_text,
                                    keras_overfit_losses, model_finding, overfit_finding,
                                    run_model, value_finding)

CELL_TOLERANCE = 1e-4  # a submission's cells against the probabilities (4 decimals pass)
# A pretrained network's architecture in miniature: the same layer names ("stem", "stem_bn", the
# Inception modules, "features_grid", "features", "dropout", "logits") with a few channels, random
# weights. Its "features" layer gives 9 x 20 = 180 numbers.
SMALL_MODULES = ((4, (4, 4), (2, 4), 4), (4, (4, 8), (2, 4), 4))
SMALL_STEM = 4


def probe_extractor(context: Context) -> list[Finding]:
    """feature_extractor: the network's own "features" output for the same images (shape and
    values), from a small network of the pretrained architecture with random weights."""
    network = _small_network(context)
    feature_extractor = context.function("feature_extractor")
    extractor, found = build_finding("feature_extractor", lambda: feature_extractor(network),
                              "a small network of the pretrained architecture")
    if found:
        return [found]
    found = model_finding("feature_extractor", extractor)
    if found:
        return found
    images = context.rng.random((4, 28, 28, 1)).astype(np.float32)
    got = run_model(extractor, images, False)
    want = _reference_features(network, images)
    if got.shape != want.shape:
        evidence = (f"on 4 images it returns {got.shape}; that network's \"features\" layer "
                    f"gives {want.shape}")
        if got.shape == (4, 10):
            return [Finding('feature_extractor() stops at the network\'s logits (its last layer), '
                            'not at the layer named "features"', evidence)]
        if got.ndim == 4:
            return [Finding('feature_extractor() stops at a map of the network (before the layer '
                            'named "features" flattens it)', evidence)]
        return [Finding('feature_extractor() does not output the layer named "features"', evidence)]
    found = value_finding("feature_extractor", got, want, rtol=1e-4, atol=1e-5,
                          expected='the trained network\'s own "features" output')
    if found:
        found.cause = ('feature_extractor() does not reuse the network\'s own layers up to '
                       '"features" (a copy with new weights, or another layer)')
        return [found]
    return []


def _small_network(context: Context):
    from seminar import pretrained

    return pretrained.build_model(modules=SMALL_MODULES, stem_filters=SMALL_STEM,
                                  seed=context.probe_seed + 10_000)


def _reference_features(network, images) -> np.ndarray:
    """The "features" layer's output computed from the layer before it: the grid, flattened row by
    row in NumPy."""
    grid = keras.Model(network.inputs, network.get_layer("features_grid").output)
    values = run_model(grid, images, False)
    return values.reshape(len(values), -1)


def probe_heads(context: Context) -> list[Finding]:
    """The three heads on feature vectors: softmax_regression (affine, num_classes logits), mlp and
    reshaped_conv (logits, not affine, with dropout; reshaped_conv follows its ``shape``), and an
    MLP that overfits 64 random vectors with random labels."""
    rng = context.rng
    width, classes = 12, 5
    model, found = build_finding("softmax_regression",
                          lambda: context.function("softmax_regression")(width, classes),
                          f"num_inputs={width}, num_classes={classes}")
    if found:
        return [found]
    found = model_finding("softmax_regression", model)
    if found:
        return found
    vectors = rng.normal(0.0, 1.0, (16, width)).astype(np.float32)
    outputs = run_model(model, vectors, False)
    if as_array(outputs).shape == (16, 10):
        return [Finding("softmax_regression() ignores num_classes: it always gives 10 logits",
                        f"softmax_regression({width}, num_classes={classes}) returns (16, 10) "
                        f"for 16 vectors", "use the argument num_classes, not NUM_CLASSES")]
    found = (classifier_findings("softmax_regression", outputs, (16, classes))
             or _affine_finding("softmax_regression", model, rng, width, want_affine=True))
    if found:
        return [found]

    grid = (3, 3, 4)  # not the pretrained network's (3, 3, 128): reshaped_conv must follow `shape`
    grid_width = int(np.prod(grid))
    heads = [("mlp", lambda: context.function("mlp")(width), width, "hidden layer"),
             ("reshaped_conv", lambda: context.function("reshaped_conv")(grid_width, shape=grid),
              grid_width, "convolution")]
    for name, build, inputs_width, hidden in heads:
        fix = ("view the vector as `shape` (the argument), not a fixed (3, 3, 128)"
               if name == "reshaped_conv" else "")
        model, found = build_finding(name, build, f"num_inputs={inputs_width}" +
                              (f", shape={grid}" if name == "reshaped_conv" else ""), fix)
        if found:
            if name == "reshaped_conv" and "target_shape" in found.evidence:
                found.cause = "reshaped_conv() does not view the vectors as its argument `shape`"
            return [found]
        found = model_finding(name, model)
        if found:
            return found
        vectors = rng.normal(0.0, 1.0, (16, inputs_width)).astype(np.float32)
        found = (classifier_findings(name, run_model(model, vectors, False), (16, 10))
                 or _affine_finding(name, model, rng, inputs_width, want_affine=False,
                                    hidden=hidden)
                 or dropout_finding(name, model, vectors))
        if found:
            return [found]

    # 64 random vectors of 12 numbers with random labels: 256 ReLU units memorise them easily.
    model = context.function("mlp")(width)
    vectors = rng.normal(0.0, 1.0, (64, width)).astype(np.float32)
    labels = rng.integers(0, 10, 64).astype(np.int32)
    losses = keras_overfit_losses(model, vectors, labels, steps=100, learning_rate=1e-2)
    found = overfit_finding("mlp", losses, target=0.5)
    return [found] if found else []


def _affine_finding(function: str, model, rng, width: int, *, want_affine: bool,
                    hidden: str = "") -> Finding | None:
    """Whether the model (inference mode) is an affine function of its input:
    f(a x + (1 - a) y) = a f(x) + (1 - a) f(y)."""
    x = rng.normal(0.0, 1.0, (16, width)).astype(np.float32)
    y = rng.normal(0.0, 1.0, (16, width)).astype(np.float32)
    a = 0.3
    mixed = run_model(model, a * x + (1 - a) * y, False)
    combined = a * run_model(model, x, False) + (1 - a) * run_model(model, y, False)
    affine = np.allclose(mixed, combined, rtol=1e-3, atol=1e-4)
    gap = float(np.max(np.abs(mixed - combined)))
    if want_affine and not affine:
        return Finding(f"{function}() is not an affine function of its input: a hidden layer or "
                       f"an activation where there must be none",
                       f"f(0.3 x + 0.7 y) differs from 0.3 f(x) + 0.7 f(y) by up to {gap:.3g}",
                       "softmax regression is one Dense layer with no activation")
    if not want_affine and affine:
        return Finding(f"{function}() is an affine function of its input: its {hidden} has no "
                       f"ReLU, so the layers collapse into one linear map",
                       f"f(0.3 x + 0.7 y) equals 0.3 f(x) + 0.7 f(y) on random inputs (largest "
                       f"difference {gap:.2g})", f"give the {hidden} activation=\"relu\"")
    return None


def probe_fine_tune(context: Context) -> list[Finding]:
    """fine_tune_model: images -> the network's "features" -> the head, as logits, equal to the
    head applied to the network's features; the stem and every batch normalisation frozen, the
    other layers up to "features" and the head trainable (checked weight by weight)."""
    network = _small_network(context)
    width = int(network.get_layer("features").output.shape[-1])
    head = keras.Sequential([keras.Input((width,)), keras.layers.Dense(10)], name="probe_head")
    model, found = build_finding("fine_tune_model",
                          lambda: context.function("fine_tune_model")(network, head),
                          "a small network of the pretrained architecture and a softmax-regression "
                          "head", 'feed the output of the layer named "features" to the head')
    if found:
        if "incompatible" in found.evidence:
            found.cause = ('fine_tune_model() feeds the head something other than the output of '
                           'the layer named "features"')
        return [found]
    found = model_finding("fine_tune_model", model)
    if found:
        return found
    images = context.rng.random((4, 28, 28, 1)).astype(np.float32)
    logits = run_model(model, images, False)
    found = classifier_findings("fine_tune_model", logits, (4, 10))
    if found:
        return [found]
    want = run_model(head, _reference_features(network, images), False)
    found = value_finding("fine_tune_model", logits, want, rtol=1e-4, atol=1e-5,
                          expected='the head applied to the network\'s "features" output')
    if found:
        found.cause = ("fine_tune_model() does not run the images through the network's own "
                       "layers up to \"features\", then the given head")
        return [found]

    trainable = {id(v) for v in model.trainable_weights}
    stem, batch_norm, body, names = [], [], [], {}
    past_features = False
    for layer in network.layers:
        if past_features:  # the old network's dropout and logits are not in the new model
            break
        past_features = layer.name == "features"
        for variable in _layer_parameters(layer):
            names[id(variable)] = layer.name
            if layer.name.startswith("stem"):
                stem.append(variable)
            elif isinstance(layer, keras.layers.BatchNormalization):
                batch_norm.append(variable)
            else:
                body.append(variable)
    head_weights = list(head.weights)
    trains = {key: [v for v in group if id(v) in trainable]
              for key, group in (("stem", stem), ("bn", batch_norm), ("body", body),
                                 ("head", head_weights))}
    expected = len(body) + len(head_weights)
    evidence = (f"the model trains {len(model.trainable_weights)} weight tensors; the docstring's "
                f"freezing leaves {expected} ({len(body)} of the layers after the stem, "
                f"{len(head_weights)} of the head): of the stem's {len(stem)} it trains "
                f"{len(trains['stem'])}, of the batch normalisations' {len(batch_norm)} it trains "
                f"{len(trains['bn'])}, of the other layers' {len(body)} it trains "
                f"{len(trains['body'])}, of the head's {len(head_weights)} it trains "
                f"{len(trains['head'])}")
    if trains["stem"] and trains["bn"]:
        return [Finding("the pretrained network is left trainable: its stem and its batch "
                        "normalisations must be frozen", evidence,
                        "set trainable = False on the stem's layers and on every "
                        "BatchNormalization layer, True on the others")]
    if trains["stem"]:
        return [Finding("the stem (the layers whose names start with \"stem\") is left trainable: "
                        "it must be frozen", evidence)]
    if trains["bn"]:
        return [Finding("the batch normalisations are left trainable: they must be frozen (with "
                        "1000 images their statistics would drift from Fashion-MNIST's)", evidence,
                        "set trainable = False on every keras.layers.BatchNormalization")]
    if not trains["body"]:
        return [Finding("the whole pretrained network is frozen: only the head trains, which is "
                        "the deep-features classifier again, not fine-tuning", evidence,
                        "only the stem and the batch normalisations stay frozen")]
    if len(trains["body"]) < len(body):
        frozen = sorted({names[id(v)] for v in body if id(v) not in trainable})
        return [Finding("some layers after the stem are frozen although the docstring has them "
                        "train", evidence + f"; frozen: {', '.join(frozen[:6])}"
                        + (" ..." if len(frozen) > 6 else ""))]
    if len(trains["head"]) < len(head_weights):
        return [Finding("the head is frozen in the fine-tuned model: it must train with the "
                        "network", evidence)]
    return []


def _layer_parameters(layer) -> list:
    """A layer's weights that training may change (a batch normalisation's moving averages never
    are), whether the layer is frozen or not."""
    moving = {id(v) for v in (getattr(layer, "moving_mean", None),
                              getattr(layer, "moving_variance", None)) if v is not None}
    return [v for v in layer.weights if id(v) not in moving]


def probe_submission(context: Context) -> list[Finding]:
    """submission_frame: the column "id" (the given ids, in order) then class_<name> per class in
    class_names' order, each row the given probabilities (summing to 1): with the digits (the
    default) and with three named classes."""
    submission_frame = context.function("submission_frame")
    rng = context.rng
    ids = np.array([7, 3, 12, 5], dtype=np.int64)  # not 1..n: the ids must come from the argument
    for classes in (None, ("cat", "dog", "eel")):
        count = 10 if classes is None else len(classes)
        probabilities = rng.dirichlet(np.ones(count), size=len(ids))
        found = _frame_findings(submission_frame, ids, probabilities, classes)
        if found:
            return [found]
    return []


def _frame_findings(submission_frame, ids: np.ndarray, probabilities: np.ndarray,
                    class_names) -> Finding | None:
    call = ("submission_frame(ids, probabilities)" if class_names is None else
            f"submission_frame(ids, probabilities, class_names={tuple(class_names)})")
    names = [str(k) for k in range(10)] if class_names is None else list(class_names)
    arguments = (ids, probabilities) if class_names is None else (ids, probabilities, class_names)
    frame, found = build_finding("submission_frame", lambda: submission_frame(*arguments),
                          f"{len(ids)} ids and {len(names)} classes ({call})",
                          "one column per name in class_names, in their order")
    if found:
        return found
    if not isinstance(frame, pd.DataFrame):
        return Finding(f"submission_frame() must return a pandas DataFrame, it returned a "
                       f"{type(frame).__name__}")
    columns = [str(c) for c in frame.columns]
    wanted = ["id"] + [f"class_{name}" for name in names]
    evidence = f"{call} has the columns {columns}; the docstring asks for {wanted}"
    if "id" not in columns:
        index = np.asarray(frame.index)
        if index.shape == ids.shape and np.array_equal(index.astype(np.int64), ids):
            return Finding("the ids are the DataFrame's index, not a column \"id\": the CSV "
                           "(written with index=False) would have no ids", evidence,
                           "add the ids as a column named \"id\"")
        return Finding("the submission has no column \"id\"", evidence)
    if sorted(columns) != sorted(wanted):
        return Finding("the submission's columns are not \"id\" and class_<name> for each class "
                       "name", evidence)
    if columns != wanted:
        if columns[0] != "id":
            return Finding("the column \"id\" must come first", evidence)
        return Finding("the class columns are not in the order of class_names", evidence)
    if len(frame) != len(ids):
        return Finding("the submission does not have one row per test image",
                       f"{call} has {len(frame)} rows for {len(ids)} ids")
    try:
        got_ids = frame["id"].to_numpy().astype(np.int64)
        cells = frame[wanted[1:]].to_numpy().astype(np.float64)
    except (TypeError, ValueError) as error:
        return Finding("the submission's cells are not numbers", error_text(error))
    if not np.array_equal(got_ids, ids):
        return Finding("the column \"id\" does not hold the given ids, in their order",
                       f"ids given {ids.tolist()}, column \"id\" {got_ids.tolist()}",
                       "use the ids argument (the test images' ids), not a new numbering")
    if np.allclose(cells, probabilities, rtol=1e-4, atol=CELL_TOLERANCE):
        return None
    for k in range(len(names)):  # a column holding another class's probabilities
        match = [j for j in range(len(names))
                 if np.allclose(cells[:, k], probabilities[:, j], rtol=1e-4, atol=CELL_TOLERANCE)]
        if match and match[0] != k:
            return Finding("the probability columns are in the wrong class order",
                           f"column class_{names[k]} holds the probabilities of class "
                           f"{names[match[0]]}",
                           "column k holds probabilities[:, k], the class class_names[k]")
    wrong = {
        "the submission holds the logarithms of the probabilities (the log loss takes the log "
        "itself): its cells must be probabilities in [0, 1], each row summing to 1":
            np.log(probabilities),
        "a softmax applied again to what are already probabilities": softmax(probabilities),
        "the probabilities are transposed or reshaped: row i must be test image i":
            probabilities.T.reshape(probabilities.shape),
    }
    found = value_finding("submission_frame", cells, probabilities, rtol=1e-4, atol=CELL_TOLERANCE,
                          wrong=wrong, expected="the probabilities given, one row per id")
    sums = cells.sum(axis=1)
    if found and not np.allclose(sums, 1.0, atol=1e-3):
        found.evidence += f"; row sums {np.round(sums[:3], 4).tolist()} (each must be 1)"
    return found


# ---------------------------------------------------------------------------- measures


def _score(context: Context) -> dict:
    """The leaderboard's score of main()'s submission, computed once for both measures."""
    from seminar import kaggle

    if "score" not in context.cache:
        submission = context.evidence_object(
            "submission", "the path of the CSV file it wrote (or its DataFrame)")
        if not isinstance(submission, (str, os.PathLike, pd.DataFrame)):
            raise EvidenceError(f"main()'s 'submission' must be the path of the CSV file or a "
                                f"pandas DataFrame, got a {type(submission).__name__}")
        try:
            context.cache["score"] = kaggle.score(submission)
        except kaggle.SubmissionError as error:
            raise EvidenceError(f"the submission cannot be scored: {error}") from None
    return context.cache["score"]


def measure_submission_log_loss(context: Context) -> float:
    """The leaderboard's multi-class log loss of main()'s submission (lower is better)."""
    return float(_score(context)["log_loss"])


def measure_submission_accuracy(context: Context) -> float:
    """The leaderboard's accuracy of main()'s submission."""
    return float(_score(context)["accuracy"])
