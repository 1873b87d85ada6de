"""Grading of autoencoders/linear_autoencoder.

The checker measures the largest principal angle between the span of main()'s decoder weights and
PCA's principal subspace of the same size (12), computed itself in float64 from the training
images, and the test error through the 12-number code against PCA-12's. The probe checks the
initial matrices (shapes, trainable variables, small random values, not zeros), the linear
reconstruction against NumPy (an activation anywhere named), and the training step's loss and its
update of both matrices.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.references import sigmoid
from seminar.grader.toolkit import (Context, EvidenceError, Finding, as_array, compiled_step,
                                    low_rank_images, reconstruction_mistakes, shape_finding,
                                    step_findings, steps_finding, value_finding)

CODE_SIZE = 12  # the exercise's code: the checker holds it, not the student's file
PIXELS = 28 * 28


def probe_linear_autoencoder(context: Context) -> list[Finding]:
    """autoencoders/linear_autoencoder: the initial matrices (shapes, trainable variables, small
    random values, not zeros), the linear reconstruction against NumPy, and the training step's
    loss and update of both matrices."""
    rng = context.rng
    code_size = 5
    stddev = float(context.constant("INIT_STDDEV", 0.01))
    init_weights = context.function("init_weights")
    pair = init_weights(code_size, 3)
    if not isinstance(pair, (tuple, list)) or len(pair) != 2:
        return [Finding("init_weights() must return the pair (w_enc, w_dec)",
                        f"it returned {type(pair).__name__}")]
    for name, value, want in (("w_enc", pair[0], (PIXELS, code_size)),
                              ("w_dec", pair[1], (code_size, PIXELS))):
        if not isinstance(value, tf.Variable) or not value.trainable:
            return [Finding(f"init_weights() returns {name} as a {type(value).__name__}, not a trainable "
                            f"tf.Variable: the optimizer cannot update it in place",
                            fix="wrap the drawn values in tf.Variable(...)")]
        found = shape_finding("init_weights", value, want, f"matrix {name}")
        if found:
            found.evidence = f"{name}: " + found.evidence
            return [found]
        values = as_array(value)
        if not np.any(values):
            return [Finding(f"init_weights() starts {name} at zeros: at W_enc = W_dec = 0 both "
                            f"gradients are zero (each is a product with the other matrix), so "
                            f"training never starts",
                            f"every entry of {name} is 0", "draw both matrices from "
                            "generator.normal with standard deviation INIT_STDDEV")]
        spread = float(values.std())
        if not 0.5 * stddev <= spread <= 2.0 * stddev:
            return [Finding(f"init_weights() draws {name} with the wrong spread: the docstring asks "
                            f"for a standard deviation of INIT_STDDEV = {stddev:g}",
                            f"the entries of {name} have standard deviation {spread:.3g}",
                            "pass stddev=INIT_STDDEV to generator.normal")]

    # The reconstruction: two matrix products, nothing else.
    reconstruct = context.function("reconstruct_centred")
    centred = rng.normal(0.0, 0.3, (8, PIXELS)).astype(np.float32)
    w_enc = rng.normal(0.0, 0.05, (PIXELS, code_size)).astype(np.float32)
    w_dec = rng.normal(0.0, 0.3, (code_size, PIXELS)).astype(np.float32)
    got = reconstruct(tf.constant(centred), tf.Variable(w_enc), tf.Variable(w_dec))
    codes = centred.astype(np.float64) @ w_enc
    want = codes @ w_dec
    found = value_finding("reconstruct_centred", got, want, rtol=1e-3, atol=1e-4, wrong={
        "an activation in reconstruct_centred(): a ReLU on the code (a linear autoencoder has "
        "none)": np.maximum(codes, 0) @ w_dec,
        "an activation in reconstruct_centred(): a sigmoid on the code (a linear autoencoder has "
        "none)": sigmoid(codes) @ w_dec,
        "an activation in reconstruct_centred(): a tanh on the code (a linear autoencoder has "
        "none)": np.tanh(codes) @ w_dec,
        "an activation in reconstruct_centred(): a sigmoid on the output (a linear autoencoder "
        "has none; the images are centred, so their values are not in [0, 1])": sigmoid(want),
    }, expected="(centred W_enc) W_dec")
    if found:
        return [found]

    # The training step: its loss against NumPy, then a few steps.
    batch = (low_rank_images(rng, 32) - 0.5).astype(np.float32)
    start_enc = rng.normal(0.0, 0.05, (PIXELS, code_size)).astype(np.float32)
    start_dec = rng.normal(0.0, 0.05, (code_size, PIXELS)).astype(np.float32)
    variables = {"w_enc": tf.Variable(start_enc), "w_dec": tf.Variable(start_dec)}
    reconstructions = batch.astype(np.float64) @ start_enc @ start_dec
    want = float(((reconstructions - batch) ** 2).mean())
    # Adam at 3e-3: over 4 steps a correct step lowers the loss to 0.81-0.91 of its start (seeds
    # 0-39); at 1e-2 its first steps overshoot and the loss rose by up to 6%, which read as ascent.
    step = compiled_step(context.function("train_step"), variables["w_enc"], variables["w_dec"],
                     keras.optimizers.Adam(3e-3))
    (losses, moved), found = steps_finding(
        "train_step", lambda: step(tf.constant(batch)),
        variables, 5, "compute the loss inside the `with tf.GradientTape()` block from w_enc and "
                      "w_dec themselves, and take its gradient for both")
    if found:
        return [found]
    wrong = reconstruction_mistakes(reconstructions, batch, "train_step", cross_entropy=False)
    found = value_finding("train_step", losses[0], want, rtol=1e-3, atol=1e-6, wrong=wrong,
                          expected="the mean over images and pixels of the squared reconstruction "
                                   "error, computed before the step")
    if found:
        return [found]
    return step_findings("train_step", losses, moved)


def measure_largest_angle_degrees(context: Context) -> float:
    """The largest principal angle between the span of main()'s ``decoder_weights`` (12, 784), the
    directions the decoder adds up, and the top-12 principal subspace of the centred training
    images (computed here in float64, with NumPy). 90 when the 12 rows are linearly dependent."""
    measures.require_code_size(context, CODE_SIZE)
    weights = context.evidence("decoder_weights", (CODE_SIZE, PIXELS)).astype(np.float64)
    if not np.all(np.isfinite(weights)):
        raise EvidenceError("main()'s 'decoder_weights' contains NaN or infinite values")
    _, singular, right = np.linalg.svd(weights, full_matrices=False)
    if singular[-1] <= 1e-6 * singular[0]:
        return 90.0
    components = measures.pca_reference().eigenvectors[:CODE_SIZE]
    outside = right.T - components.T @ (components @ right.T)
    sine = float(np.linalg.svd(outside, compute_uv=False).max())
    return math.degrees(math.asin(min(sine, 1.0)))


def measure_mse_vs_pca(context: Context) -> float:
    return measures.error_vs_pca(context, CODE_SIZE)
