"""Grading of neural_nets/softmax.

The checker scores main()'s predicted labels of the 10000 test digits against the labels it loads
itself. The probe checks that inference gives the logits x W + b (no softmax), that cross_entropy is
the mean softmax cross-entropy from logits (against NumPy), and that train_step takes SGD steps
that drive the loss on 64 examples down.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.references import softmax, softmax_cross_entropy
from seminar.grader.toolkit import (Context, Finding, logits_finding, mean_cross_entropy,
                                    overfit_finding, run_steps, shape_finding, step_findings,
                                    value_finding)


def probe_softmax_regression(context: Context) -> list[Finding]:
    """neural_nets/softmax: inference gives logits x W + b, cross_entropy the mean softmax
    cross-entropy from logits, and train_step an SGD step that overfits 64 examples."""
    rng = context.rng
    images = rng.random((8, 784)).astype(np.float32)  # pixels in [0, 1], as the docstring says
    weights = rng.normal(0.0, 0.05, (784, 10)).astype(np.float32)
    bias = rng.normal(0.0, 0.1, (10,)).astype(np.float32)
    logits = context.function("inference")(tf.constant(images), tf.Variable(weights), tf.Variable(bias))
    want = images @ weights + bias
    found = (shape_finding("inference", logits, (8, 10)) or logits_finding("inference", logits)
             or value_finding("inference", logits, want, expected="images @ weights + bias"))
    if found:
        return [found]

    labels = rng.integers(0, 10, 8).astype(np.int32)
    loss = context.function("cross_entropy")(tf.constant(want), tf.constant(labels))
    per_example = softmax_cross_entropy(want.astype(np.float64), labels)
    probabilities = softmax(want)
    found = value_finding("cross_entropy", loss, per_example.mean(), wrong={
        "cross_entropy() sums the losses of the batch instead of averaging them": per_example.sum(),
        "cross_entropy() applies a softmax to what are already logits (the loss applies its own)":
            softmax_cross_entropy(probabilities, labels).mean(),
    }, expected="the mean over the batch of -log softmax(logits)[label]")
    if found:
        return [found]

    # A few SGD steps on 64 examples with random labels: 784 inputs separate 64 points, so a
    # working step drives the loss well down; the first steps show ascent or frozen variables.
    train_step = context.function("train_step")
    images = tf.constant(rng.random((64, 784)).astype(np.float32))
    labels = tf.constant(rng.integers(0, 10, 64).astype(np.int32))
    variables = {"weights": tf.Variable(tf.zeros((784, 10))), "bias": tf.Variable(tf.zeros((10,)))}
    rate = tf.constant(0.05)

    def step():
        return train_step(images, labels, variables["weights"], variables["bias"], rate)

    losses, moved = run_steps(step, variables, 4)
    found = step_findings("train_step", losses, moved)
    if found:
        return found
    more, _ = run_steps(step, variables, 196)
    final = mean_cross_entropy(images @ variables["weights"] + variables["bias"], labels)
    found = overfit_finding("train_step", losses + more + [final], target=0.1 * losses[0])
    return [found] if found else []


measure_test_accuracy = measures.mnist_test_accuracy
