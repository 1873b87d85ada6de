"""Grading of autoencoders/gmmn_autoencoder (GMMN+AE).

Before training, the probes hold the student's four functions to their docstrings on small inputs
of their own: the codes mapped into [0, 1] dimension by dimension and back (codes left unscaled,
standardised, or scaled with one range for every dimension are named), the bandwidths as multiples
of the median distance between different codes (fixed bandwidths such as the pixel GMMN's 2 to 80,
which do not follow the codes' scale, the median of the squared distances, the zero distances of
the pairs i = i kept in the median are named), and the generator's step on codes.

The checker draws 2000 samples from main()'s ``generate(n, seed)`` and scores them with the digit
judge (FID, inception score, classes, as for autoencoders/gmmn); it pushes the 10000 test digits
through main()'s ``encode`` and ``decode`` itself: the decoder that draws the samples must still be
the autoencoder's. After training: the samples must not be copies of MNIST digits, and the decoder
must not have changed in the GMMN phase.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.generative import PIXEL_SIGMAS
from seminar.grader import measures
from seminar.grader.findings import Finding
from seminar.grader.references import pairwise_squared_distances
from seminar.grader.toolkit import (Context, as_array, compiled_step, dense_network, named_variables,
                                    short, step_findings, steps_finding,
                                    value_finding)

CODE_SIZE = 32
# The GMMN phase must leave the decoder as the autoencoder left it: the checker's test error
# through encode and decode may exceed the one main() measured right after the autoencoder's
# training by round-off, not by this factor.
DECODER_CHANGE_RATIO = 1.1


def probe_scaling(context: Context) -> list[Finding] | None:
    """scale_codes() maps each dimension's [low, high] onto [0, 1]; unscale_codes() undoes it."""
    rng = context.rng
    codes = (rng.normal(0.0, 1.0, (6, 4)) * [1.0, 5.0, 20.0, 0.5] + [0.0, -3.0, 10.0, 1.0]).astype(np.float32)
    low, high = codes.min(axis=0) - 0.25, codes.max(axis=0) + 0.5
    want = (codes - low) / (high - low)
    got = context.function("scale_codes")(tf.constant(codes), tf.constant(low), tf.constant(high))
    found = value_finding("scale_codes", got, want, rtol=1e-4, atol=1e-5, wrong={
        "scale_codes() returns the codes unscaled: they must lie in [0, 1], the range of the "
        "generator's sigmoid outputs": codes,
        "scale_codes() standardises the codes (mean 0, deviation 1) instead of mapping each "
        "dimension's [low, high] onto [0, 1]": (codes - codes.mean(0)) / codes.std(0),
        "scale_codes() uses one range for all the dimensions: each dimension has its own low and "
        "high": (codes - low.min()) / (high.max() - low.min()),
        "scale_codes() divides by high instead of high - low": (codes - low) / high,
        "scale_codes() maps [low, high] onto [-1, 1] instead of [0, 1]": 2.0 * want - 1.0,
    }, expected="(codes - low) / (high - low), each dimension with its own low and high")
    if found:
        return [found]
    scaled = rng.random((5, 4)).astype(np.float32)
    got = context.function("unscale_codes")(tf.constant(scaled), tf.constant(low), tf.constant(high))
    found = value_finding("unscale_codes", got, low + scaled * (high - low), rtol=1e-4, atol=1e-4, wrong={
        "unscale_codes() returns the scaled codes unchanged: the decoder needs codes at its own "
        "scale, low + scaled * (high - low)": scaled,
        "unscale_codes() scales the codes again instead of undoing scale_codes()":
            (scaled - low) / (high - low),
        "unscale_codes() multiplies by high instead of high - low": low + scaled * high,
    }, expected="low + scaled * (high - low): the inverse of scale_codes()")
    return [found] if found else None


def probe_bandwidths(context: Context) -> list[Finding] | None:
    """bandwidths() is the median distance between different codes times each scale, and follows
    the codes' scale (fixed bandwidths, such as the pixel GMMN's, do not)."""
    rng = context.rng
    bandwidths = context.function("bandwidths")
    codes = rng.random((40, 6)).astype(np.float32)
    scales = (0.5, 1.0, 3.0)
    got = as_array(bandwidths(tf.constant(codes), scales))
    wider = as_array(bandwidths(tf.constant(10.0 * codes), scales))
    if got.shape == wider.shape and got.size and np.allclose(got, wider, rtol=1e-3):
        pixel = "the pixel GMMN's " if np.allclose(np.sort(got.ravel())[-1], max(PIXEL_SIGMAS)) else ""
        return [Finding(
            "bandwidths() ignores the codes' scale: fixed bandwidths, like the pixel GMMN's (2 to 80, "
            "for pixels), are all far too wide (or too narrow) for codes in [0, 1]",
            f"bandwidths(codes) and bandwidths(10 * codes) both gave {pixel}{short(got)}",
            "compute the bandwidths from the codes themselves: their median pairwise distance "
            "times each scale")]
    distances = pairwise_squared_distances(codes, codes)
    off_diagonal = ~np.eye(len(codes), dtype=bool)
    median = float(np.median(np.sqrt(distances[off_diagonal])))
    want = median * np.asarray(scales)
    default = tuple(context.constant("BANDWIDTH_SCALES", ()))
    wrong = {
        "bandwidths() takes the median of the squared distances: the bandwidth is a distance, "
        "the median of ||a - b||, not of ||a - b||^2":
            float(np.median(distances[off_diagonal])) * np.asarray(scales),
        "bandwidths() keeps the pairs i = i (distance 0) in the median: only different codes count":
            float(np.median(np.sqrt(distances))) * np.asarray(scales),
        "bandwidths() takes the mean distance, not the median":
            float(np.mean(np.sqrt(distances[off_diagonal]))) * np.asarray(scales),
        "bandwidths() divides the median by the scales instead of multiplying":
            median / np.asarray(scales),
    }
    if default and tuple(default) != scales:
        wrong["bandwidths() ignores its scales argument and uses BANDWIDTH_SCALES"] = median * np.asarray(default)
    found = value_finding("bandwidths", got, want, rtol=2e-3, atol=1e-5, wrong=wrong,
                          expected=f"the median distance between different codes ({median:.4g}) times "
                                   f"each scale {list(scales)}")
    if found and "shape" in found.cause and default and got.shape == (len(default),):
        found = Finding("bandwidths() ignores its scales argument and uses BANDWIDTH_SCALES",
                        found.evidence, "multiply the median by each of the scales given")
    return [found] if found else None


def probe_train_step(context: Context) -> list[Finding] | None:
    """One step on a small generator of the probe's own (3 -> 16 -> 4 sigmoid codes): the loss is
    the MMD (not squared) with the given bandwidths, and only the generator moves."""
    rng = context.rng
    generator = dense_network([3, 16, 4], ["relu", "sigmoid"], rng, "probe_generator", scale=3.0)
    real = tf.constant(rng.random((16, 4)).astype(np.float32))
    noise = tf.constant(rng.uniform(-1.0, 1.0, (16, 3)).astype(np.float32))
    sigmas = np.array([0.2, 0.6], np.float32)
    fakes = as_array(generator(noise))
    want = math.sqrt(max(_mmd2(fakes, as_array(real), sigmas), 1e-12))
    step = compiled_step(context.function("train_step"), generator, keras.optimizers.Adam(5e-3),
                         tf.constant(sigmas))
    (losses, moved), found = steps_finding(
        "train_step", lambda: step(real, noise), named_variables("generator", generator), 5,
        "generate the codes from the noise inside the `with tf.GradientTape()` block, so that the "
        "tape sees the path from the generator's weights to the loss")
    if found:
        return [found]
    found = value_finding("train_step", losses[0], want, rtol=2e-3, atol=1e-5, wrong={
        "train_step() returns MMD^2: the docstring asks for the loss it minimises, the MMD (the "
        "square root of MMD^2)": want ** 2,
        "train_step() ignores its sigmas and uses the pixel GMMN's bandwidths (2 to 80), far too "
        "wide for codes in [0, 1]": math.sqrt(max(_mmd2(fakes, as_array(real), PIXEL_SIGMAS), 1e-12)),
    }, expected="the MMD (not squared) with the given sigmas between the generated codes and the "
                "real ones, before the step")
    if found:
        return [found]
    return step_findings("train_step", losses, moved) or None


def _mmd2(x, y, sigmas) -> float:
    """The biased estimate of MMD^2 with the sum of Gaussian kernels, in NumPy (float64)."""
    def kernel(a, b):
        distances = pairwise_squared_distances(a, b)
        return sum(np.exp(-distances / (2.0 * float(s) ** 2)) for s in sigmas)
    return float(kernel(x, x).mean() + kernel(y, y).mean() - 2.0 * kernel(x, y).mean())


def after_decoder_unchanged(context: Context) -> Finding | None:
    """The decoder that draws the samples must be the trained autoencoder's: its test error,
    measured by the checker, may not exceed the one main() measured before the GMMN phase."""
    before = context.metrics.get("autoencoder_test_mse") if isinstance(context.metrics, dict) else None
    if not isinstance(before, (int, float)) or not before > 0:
        return None
    after = measures.reconstruction_error(context, CODE_SIZE)
    if after <= DECODER_CHANGE_RATIO * before:
        return None
    return Finding("the decoder changed during the GMMN phase: it must stay the trained "
                   "autoencoder's, frozen, while only the generator learns",
                   f"test reconstruction error {before:.5f} after the autoencoder's training, "
                   f"{after:.5f} at the end (measured by the checker through encode and decode)",
                   "step only the generator's variables in the GMMN phase, and compute its loss on "
                   "codes, not on decoded digits")


after_copies = measures.copies_finding  # a generator that returns MNIST digits scores FID ~1
measure_fid = measures.generated_fid
measure_inception_score = measures.generated_inception_score
measure_classes = measures.generated_classes


def measure_mse_vs_mean_image(context: Context) -> float:
    """The autoencoder's test error (through main()'s encode and decode, measured by the checker)
    divided by the mean image's: the decoder that draws the samples must decode."""
    return measures.error_vs_mean_image(context, CODE_SIZE)
