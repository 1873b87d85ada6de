"""Grading of convnets/lenet.

The checker scores main()'s predicted labels of the 10000 test digits against the labels it loads
itself. The probe calls build_lenet and runs its model on random images: logits of shape (batch,
10) (no softmax or ReLU on them), the named convolutions at the docstring's shapes, LeNet-5's
parameter count, the feature-map model's outputs against the layers themselves, and 64 examples
learned by heart.
"""

from __future__ import annotations

import warnings

import keras
import numpy as np

from seminar.grader import measures
from seminar.grader.toolkit import (Context, Finding, as_array, classifier_findings,
                                    keras_overfit_losses, model_finding, named_layer_findings,
                                    overfit_finding, parameter_finding, shape_finding,
                                    value_finding)

STAGES = {"conv1": (28, 28, 6), "conv2": (10, 10, 16)}
# 6 (25 + 1) + 16 (150 + 1) + 400 x 120 + 120 + 120 x 84 + 84 + 84 x 10 + 10
PARAMETERS = 61706
OVERFIT_STEPS = 80  # whole-batch Adam steps on 64 examples: the solution goes below a tenth of the
#                    start in 40-60; about 0.5 s
KERAS_FIX = ("the last Dense layer has no activation: the model returns logits, and the loss is "
             "computed from them (from_logits=True)")


def probe_lenet(context: Context) -> list[Finding]:
    """convnets/lenet: build_lenet returns logits of shape (batch, 10) through LeNet-5's stages,
    feature_map_model the two convolutions' maps, and the network memorises 64 examples."""
    rng = context.rng
    model = context.function("build_lenet")()
    found = model_finding("build_lenet", model)
    if found:
        return found
    images = rng.random((8, 28, 28, 1)).astype(np.float32)
    found = (classifier_findings("build_lenet", model(images, training=False), (8, 10), KERAS_FIX)
             or named_layer_findings("build_lenet", model, STAGES)
             or parameter_finding("build_lenet", model, PARAMETERS, "LeNet-5")
             or _feature_map_findings(context, model, images, STAGES))
    if found:
        return found
    # main() compiles the model itself: the same loss here, on integer labels.
    model.compile(optimizer=keras.optimizers.Adam(2e-3),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    losses = keras_overfit_losses(model, rng.random((64, 28, 28, 1)).astype(np.float32),
                                  rng.integers(0, 10, 64).astype(np.int32), OVERFIT_STEPS)
    return overfit_finding("build_lenet", losses, target=0.1 * losses[0])


def _feature_map_findings(context: Context, model, images: np.ndarray, stages: dict) -> Finding | None:
    """feature_map_model(model) returns, for ``images``, the outputs of the layers named in
    ``stages`` (in that order), equal to those layers applied one after the other."""
    maps_model = context.function("feature_map_model")(model)
    if not isinstance(maps_model, keras.Model):
        return Finding("feature_map_model() does not return a keras.Model",
                        f"it returned a {type(maps_model).__name__}")
    with warnings.catch_warnings():  # Keras warns when inputs=model.inputs (a list) gets one array
        warnings.simplefilter("ignore", UserWarning)
        outputs = maps_model(images, training=False)
    outputs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    names = list(stages)
    if len(outputs) != len(names):
        return Finding(f"feature_map_model() has {len(outputs)} output(s), the docstring asks for "
                        f"{len(names)} ({', '.join(names)})",
                        f"output shapes: {[tuple(np.shape(as_array(o))) for o in outputs]}",
                        "give keras.Model a list of outputs")
    # The reference: the model's own layers applied one after the other, eagerly.
    reference = {}
    try:
        hidden = images
        for layer in model.layers:
            if isinstance(layer, keras.layers.InputLayer):
                continue
            hidden = layer(hidden, training=False)
            if layer.name in stages:
                reference[layer.name] = as_array(hidden)
            if len(reference) == len(names):
                break
    except Exception:  # noqa: BLE001  (not a plain chain of layers: compare the shapes only)
        reference = {}
    for got, name in zip(outputs, names):
        want_shape = (len(images), *stages[name])
        found = shape_finding("feature_map_model", got, want_shape, what=f"{name} feature map")
        if found is None and name in reference:
            found = value_finding("feature_map_model", got, reference[name], rtol=1e-4, atol=1e-5,
                                  expected=f"the output of the layer {name!r}, after its ReLU")
        if found:
            return found
    return None


measure_test_accuracy = measures.mnist_test_accuracy
