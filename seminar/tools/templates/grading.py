"""Grading of $id.

The checker reads the slope main() returns and measures its relative error to the line the points
were drawn around. The probe takes one training step from a known point, on points of its own,
and compares the loss and both variables' new values with NumPy, naming the usual mistakes.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from seminar.grader.toolkit import Context, Finding, call_finding, value_finding

TRUE_SLOPE = 2.0  # the checker's own copy: it does not read the student's file for it


def probe_train_step(context: Context) -> list[Finding]:
    """One step of rate 0.1 from slope 0.5, intercept 0.2 on 8 points of the checker's."""
    rng = context.rng
    x = rng.uniform(-1.0, 1.0, 8).astype(np.float32)
    y = (1.5 * x + rng.normal(0.0, 0.3, 8)).astype(np.float32)
    slope, intercept = tf.Variable(0.5), tf.Variable(0.2)
    loss, found = call_finding("train_step", lambda: context.function("train_step")(
        tf.constant(x), tf.constant(y), slope, intercept, 0.1), "8 points", steps=True)
    if found:
        return [found]
    residuals = 0.5 * x.astype(np.float64) + 0.2 - y
    gradient = np.array([2 * np.mean(residuals * x), 2 * np.mean(residuals)])
    after = np.array([float(slope.numpy()), float(intercept.numpy())])
    start = np.array([0.5, 0.2])
    found = value_finding("train_step", after, start - 0.1 * gradient, wrong={
        "gradient ascent in train_step(): the variables moved up the loss": start + 0.1 * gradient,
        "train_step() sums the squared errors instead of averaging them: every step is n times "
        "too large": start - 0.1 * len(x) * gradient,
        "train_step() does not change the variables in place (`slope = slope - ...` only rebinds "
        "a name)": start,
    }, expected="each variable minus learning_rate times its gradient")
    if found:
        return [found]
    return [value_finding("train_step", loss, np.mean(residuals ** 2),
                          expected="the mean squared error before the step")]


def measure_slope_rel_error(context: Context) -> float:
    """|slope - 2| / 2, from the slope main() returns."""
    slope = float(context.evidence("slope", ()))
    return abs(slope - TRUE_SLOPE) / TRUE_SLOPE
