"""Grading of sgd/binary_classif.

The checker draws 2000 fresh points of the unit square and scores main()'s ``classify`` on them.
The probe checks the logits (shape (batch,), logits and not probabilities), the mean sigmoid
cross-entropy from logits against NumPy (also for large logits, where a loss through
probabilities overflows), and one SGD step from a known point.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seminar.grader.references import sigmoid, sigmoid_cross_entropy
from seminar.grader.toolkit import (Context, EvidenceError, Finding, as_array, call_finding,
                                    logits_finding, shape_finding, tensor_finding, value_finding)

HELD_OUT_SEED_OFFSET = 777_000  # the checker's points: a seed offset the solution never draws from
HELD_OUT_POINTS = 2000


def probe_binary_classif(context: Context) -> list[Finding]:
    """sgd/binary_classif: logits of shape (batch,) that are logits, the mean sigmoid cross-entropy
    from logits (also for large logits), and one SGD step from a known point."""
    rng = context.rng
    points = rng.normal(0.0, 1.0, (8, 2)).astype(np.float32)
    weights = np.array([[1.5], [-2.0]], np.float32)  # logits well outside [0, 1]: a sigmoid shows
    bias = np.array([0.3], np.float32)
    points64, weights64 = points.astype(np.float64), weights.astype(np.float64)
    want = (points64 @ weights64)[:, 0] + 0.3
    got, found = call_finding("logits", lambda: context.function("logits")(
        tf.constant(points), tf.Variable(weights), tf.Variable(bias)),
        "points of shape (8, 2), weights (2, 1) and bias (1,)")
    if found:
        return [found]
    found = tensor_finding("logits", got, what="the logits")
    if found:
        return [found]
    shape = tuple(got.shape)
    if shape in ((8, 1), (1, 8)):
        return [Finding(f"logits() returns shape {shape}, where the labels have shape (batch,) = (8,): "
                        f"it keeps the length-1 axis of the weights, so against the labels the loss "
                        f"fails or broadcasts to a (batch, batch) table of every pair",
                        f"logits of 8 points: shape {shape}, expected (8,)",
                        "remove the length-1 axis so that there is one logit per point")]
    found = (shape_finding("logits", got, (8,)) or logits_finding("logits", got)
             or value_finding("logits", got, want, wrong={
                 "logits() leaves out the bias": want - 0.3},
                 expected="each point's weighted sum plus the bias"))
    if found:
        return [found]

    labels = rng.integers(0, 2, 8).astype(np.float64)
    labels[:2] = [0.0, 1.0]  # both classes, whatever the draw
    logit_values = want.astype(np.float32)
    z = logit_values.astype(np.float64)
    per_point = sigmoid_cross_entropy(labels, z)
    cross_entropy = context.function("cross_entropy")
    loss, found = call_finding("cross_entropy", lambda: cross_entropy(
        tf.constant(labels, tf.float32), tf.constant(logit_values)), "labels (8,) and logits (8,)")
    if found:
        return [found]
    found = tensor_finding("cross_entropy", loss, what="the loss")
    if found:
        return [found]
    if as_array(loss).size > 1:
        per_point_values = as_array(loss).size == 8
        return [Finding("cross_entropy() returns one loss per point, not their mean" if per_point_values
                        else "a shape broadcast in cross_entropy(): (batch,) and (batch, 1) combined give "
                             "a table of every pair",
                        f"on 8 points it returned shape {tuple(loss.shape)}; the docstring asks for one "
                        f"number")]
    log_softmax = z - np.log(np.exp(z - z.max()).sum()) - z.max()
    found = value_finding("cross_entropy", loss, per_point.mean(), rtol=1e-4, atol=1e-6, wrong={
        "cross_entropy() applies a sigmoid to what are already logits: the with-logits loss applies its "
        "own, so it sees sigmoid(sigmoid(z))": sigmoid_cross_entropy(labels, sigmoid(z)).mean(),
        "cross_entropy() sums the losses of the batch instead of averaging them": per_point.sum(),
        "cross_entropy() swaps labels and logits": sigmoid_cross_entropy(z, labels).mean(),
        "cross_entropy() counts a label 1 as 0 and 0 as 1": sigmoid_cross_entropy(1 - labels, z).mean(),
        "cross_entropy() is a softmax cross-entropy over the whole batch, as if the batch were one "
        "distribution: one logit per point calls for the sigmoid cross-entropy":
            -(labels * log_softmax).sum(),
    }, expected="the mean over the points of the binary cross-entropy between label and sigmoid(logit)")
    if found:
        return [found]

    large = np.array([60.0, -60.0, 35.0, -35.0, 80.0, -80.0, 20.0, -20.0], np.float32)
    large_labels = np.array([0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 1.0])
    reference = sigmoid_cross_entropy(large_labels, large.astype(np.float64)).mean()
    loss = cross_entropy(tf.constant(large_labels, tf.float32), tf.constant(large))
    values = as_array(loss)
    if not np.all(np.isfinite(values)):
        return [Finding("cross_entropy() overflows for large logits: it goes through sigmoid "
                        "probabilities, which round to exactly 0 or 1 once |logit| is large, and log(0) "
                        "is infinite",
                        f"on logits {large.tolist()} with labels {large_labels.tolist()} it gave "
                        f"{values.ravel().tolist()}; the loss there is {reference:.4g}",
                        "compute the loss from the logits themselves, as the docstring asks")]
    if not np.allclose(values, reference, rtol=1e-3):
        return [Finding("cross_entropy() is wrong for large logits: probabilities rounded or clipped "
                        "before the log lose the loss of confidently wrong points",
                        f"on logits {large.tolist()} with labels {large_labels.tolist()} it gave "
                        f"{values.ravel().tolist()}; the loss there is {reference:.4g}",
                        "compute the loss from the logits themselves, as the docstring asks")]

    found = _binary_step_finding(context.function("train_step"), rng)
    return [found] if found else []


def _binary_step_finding(train_step, rng) -> Finding | None:
    points = rng.normal(0.0, 1.0, (64, 2))
    labels = (points @ np.array([1.0, 1.0]) + rng.normal(0.0, 0.5, 64) > 0).astype(np.float64)
    weights0 = rng.normal(0.0, 0.5, (2, 1)).astype(np.float32).astype(np.float64)
    bias0 = np.array([0.25])
    points = points.astype(np.float32).astype(np.float64)
    rate = 0.5
    variables = {"weights": tf.Variable(weights0.astype(np.float32)),
                 "bias": tf.Variable(bias0.astype(np.float32))}
    loss, found = call_finding("train_step", lambda: train_step(
        tf.constant(points, tf.float32), tf.constant(labels, tf.float32), variables["weights"],
        variables["bias"], tf.constant(rate, tf.float32)),
        "64 points, weights (2, 1) and bias (1,)", steps=True)
    if found:
        return found
    z = (points @ weights0)[:, 0] + bias0[0]
    error = sigmoid(z) - labels  # dLoss/dlogit of each point
    gradients = {"weights": points.T @ error[:, None] / len(points), "bias": np.array([error.mean()])}
    start = {"weights": weights0, "bias": bias0}
    after = {name: variable.numpy().astype(np.float64) for name, variable in variables.items()}
    still = [name for name in after if np.array_equal(after[name], start[name].astype(np.float32))]
    if still:
        moved = [name for name in after if name not in still]
        return Finding("no variable changes in train_step(): the gradients are None or zero, or the "
                       "update is not applied in place" if not moved else
                       f"some variables never change in train_step(): {', '.join(still)}",
                       f"after one step: unchanged {', '.join(still)}"
                       + (f"; changed {', '.join(moved)}" if moved else ""),
                       "every variable must be in the list given to tape.gradient and be updated in "
                       "place (`weights = weights - ...` only rebinds a name)")
    for name in after:
        found = value_finding("train_step", after[name], start[name] - rate * gradients[name], rtol=1e-3,
                              atol=1e-5, wrong={
                                  f"gradient ascent in train_step(): {name} moved along the gradient, up "
                                  f"the loss": start[name] + rate * gradients[name],
                                  f"train_step() moves {name} by the whole gradient, without the step "
                                  f"size learning_rate": start[name] - gradients[name]},
                              expected=f"{name} - learning_rate * gradient, after one step from a "
                                       f"known point")
        if found:
            return found
    if loss is None:
        return Finding("train_step() returns nothing; the docstring asks for the batch loss")
    return value_finding("train_step", loss, sigmoid_cross_entropy(labels, z).mean(), rtol=1e-3,
                         atol=1e-6, expected="the batch loss (before the step)")


def measure_test_accuracy(context: Context) -> float:
    """Accuracy of main()'s ``classify`` on 2000 new points of the unit square."""
    from datasets import toy

    classify = context.evidence_function(
        "classify", "a function from points (n, 2) to 0/1 labels")
    points, labels = toy.unit_square(HELD_OUT_POINTS, seed=context.seed + HELD_OUT_SEED_OFFSET)
    predicted = np.asarray(classify(points)).reshape(-1)
    if predicted.shape != labels.shape:
        raise EvidenceError(f"classify returned shape {predicted.shape} for {len(points)} points")
    return float(np.mean(predicted == labels))
