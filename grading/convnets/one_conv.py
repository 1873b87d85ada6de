"""Grading of convnets/one_conv.

The checker scores main()'s predicted labels of the 10000 test digits against the labels it loads
itself. The probe runs build_model's model on random images (logits of shape (batch, 10), the
named convolution at the docstring's shape, the parameter count of one convolution, pooling and
dense layer), then compile_model's choices: Adam at the rate given, the softmax cross-entropy
from logits (from_logits must match the model's logits), and 64 examples learned by heart.
"""

from __future__ import annotations

import math

import keras
import numpy as np

from seminar.grader import measures
from seminar.grader.toolkit import (Context, Finding, as_array, classifier_findings,
                                    keras_overfit_losses, mean_cross_entropy, model_finding,
                                    named_layer_findings, overfit_finding, parameter_finding)

OVERFIT_STEPS = 80  # whole-batch Adam steps on 64 examples: the solution goes below a tenth of the
#                    start in 20-30
KERAS_FIX = ("the last Dense layer has no activation: the model returns logits, and the loss is "
             "computed from them (from_logits=True)")


def probe_one_conv(context: Context) -> list[Finding]:
    """convnets/one_conv: build_model returns logits through the named convolution; compile_model
    sets Adam at the given rate and the softmax cross-entropy from logits; 64 examples memorised."""
    rng = context.rng
    filters = int(context.constant("FILTERS", 16))
    kernel = int(context.constant("KERNEL_SIZE", 5))
    model = context.function("build_model")()
    found = model_finding("build_model", model)
    if found:
        return found
    images = rng.random((8, 28, 28, 1)).astype(np.float32)
    found = (classifier_findings("build_model", model(images, training=False), (8, 10), KERAS_FIX)
             or named_layer_findings("build_model", model, {"conv1": (28, 28, filters)})
             or parameter_finding("build_model", model,
                                  kernel * kernel * filters + filters + 14 * 14 * filters * 10 + 10,
                                  "convolution, pooling and dense layer"))
    if found:
        return found

    rate = 2e-3
    context.function("compile_model")(model, rate)
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(model, "compiled", True):
        return [Finding("compile_model() does not compile the model", "model.optimizer is None "
                        "after the call", "call model.compile(...) on the model it is given")]
    if not isinstance(optimizer, keras.optimizers.Adam):
        return [Finding("compile_model() does not use the Adam optimizer the docstring asks for",
                        f"the model's optimizer is {type(optimizer).__name__}")]
    used = float(np.asarray(keras.ops.convert_to_numpy(optimizer.learning_rate)))
    if not math.isclose(used, rate, rel_tol=1e-5):
        return [Finding("compile_model() ignores its learning_rate argument",
                        f"called with learning_rate={rate:g}, the optimizer's rate is {used:g}",
                        "give the learning_rate argument to the optimizer (main passes a decaying "
                        "schedule)")]
    findings = _compiled_loss_findings(model, images, rng)
    if any(f.fatal for f in findings):
        return findings
    losses = keras_overfit_losses(model, rng.random((64, 28, 28, 1)).astype(np.float32),
                                  rng.integers(0, 10, 64).astype(np.int32), OVERFIT_STEPS)
    found = overfit_finding("compile_model", losses, target=0.1 * losses[0])
    return findings + ([found] if found else [])


def _compiled_loss_findings(model, images: np.ndarray, rng) -> list[Finding]:
    """The loss ``model`` was compiled with, on its own logits and integer labels, against the
    mean softmax cross-entropy from logits."""
    logits = model(images, training=False)
    labels = rng.integers(0, 10, len(images)).astype(np.int32)
    try:
        got = model.compute_loss(x=images, y=labels, y_pred=logits, training=False)
    except Exception as error:  # noqa: BLE001  (a loss for one-hot rows given class numbers)
        return [Finding("the loss compile_model() configures cannot take the labels main() gives: "
                        "class numbers, shape (batch,)", f"on 8 logits and labels it raised "
                        f"{type(error).__name__}: {str(error).splitlines()[0][:200]}",
                        "use the sparse softmax cross-entropy, computed from logits")]
    got = float(as_array(got))
    want = mean_cross_entropy(logits, labels)
    if math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-4):
        return []
    as_probabilities = float(as_array(keras.losses.sparse_categorical_crossentropy(
        labels, logits, from_logits=False)).mean())
    evidence = (f"on 8 of the model's logits and random labels the compiled loss is {got:.4g}; the "
                f"softmax cross-entropy from logits is {want:.4g}")
    if math.isclose(got, as_probabilities, rel_tol=1e-3, abs_tol=1e-4):
        return [Finding("the loss compile_model() configures treats the model's logits as "
                        "probabilities (from_logits is False, the default): the model returns "
                        "logits, so the loss must be told from_logits=True", evidence)]
    if math.isclose(got, want * len(labels), rel_tol=1e-3, abs_tol=1e-4):
        # Adam does not care about the loss's scale: a sum trains as well, so it is only noted.
        return [Finding("the loss compile_model() configures sums over the batch instead of "
                        "averaging", f"on 8 of the model's logits and random labels the compiled "
                        f"loss is {got:.4g}, 8 times the mean softmax cross-entropy from logits "
                        f"({want:.4g})", fatal=False)]
    return [Finding("the loss compile_model() configures is not the mean softmax cross-entropy of "
                    "the logits against the class numbers", evidence,
                    "the sparse softmax cross-entropy, from logits")]


measure_test_accuracy = measures.mnist_test_accuracy
