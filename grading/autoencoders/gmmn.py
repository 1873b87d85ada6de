"""Grading of autoencoders/gmmn.

The checker draws 2000 samples from main()'s ``generate(n, seed)`` on a seed no training used and
scores them with the digit judge (FID, inception score, classes covered). The probe compares the
pairwise squared distances and the squared MMD with NumPy on tiny samples (the usual mistakes
named: a norm broadcast along the wrong axis, the sign of the cross term, the bandwidths, the
unbiased estimate), then the training step's loss and its update of a small generator of its own.
After training, the samples must not be copies of MNIST digits (a generator that returns training
digits scores FID near 1).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.references import pairwise_squared_distances
from seminar.grader.toolkit import (Context, Finding, as_array, compiled_step, dense_network,
                                    low_rank_images, named_variables, step_findings,
                                    steps_finding, value_finding)

PIXELS = 28 * 28


def probe_gmmn(context: Context) -> list[Finding]:
    """autoencoders/gmmn: the pairwise squared distances and the squared MMD against NumPy on tiny
    samples (with the usual mistakes named: a norm broadcast along the wrong axis, the sign of the
    cross term, the bandwidths, the unbiased estimate), then the training step's loss and its
    update of the generator."""
    rng = context.rng
    squared_distances = context.function("squared_distances")

    # Equal batch sizes first: there a norm added along the wrong axis gives no shape error.
    x, y = rng.random((4, 7)).astype(np.float32), (rng.random((4, 7)) * 1.5).astype(np.float32)
    got = squared_distances(tf.constant(x), tf.constant(y))
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    x_norms, y_norms, dots = (x64 ** 2).sum(1), (y64 ** 2).sum(1), x64 @ y64.T
    want = pairwise_squared_distances(x, y)
    found = value_finding("squared_distances", got, want, rtol=1e-4, atol=1e-4, wrong={
        "the squared norms of y added as a column in squared_distances(): ||y_j||^2 must vary "
        "along each row, as a (1, m) row (or transpose the (m, 1) column)":
            x_norms[:, None] - 2 * dots + y_norms[:, None],
        "the squared norms of x added as a row in squared_distances(): a (n,) vector broadcasts "
        "along the last axis; keep it an (n, 1) column (keepdims=True)":
            x_norms[None, :] - 2 * dots + y_norms[None, :],
        "the cross term of squared_distances() has the wrong sign: ||x - y||^2 = ||x||^2 "
        "- 2 x.y + ||y||^2": x_norms[:, None] + 2 * dots + y_norms[None, :],
        "the cross term of squared_distances() misses its factor 2":
            x_norms[:, None] - dots + y_norms[None, :],
        "squared_distances() returns the distances, not their squares": np.sqrt(want),
    }, expected="entry (i, j) = ||x_i - y_j||^2")
    if found:
        return [found]
    x, y = rng.random((5, 7)).astype(np.float32), rng.random((3, 7)).astype(np.float32)
    found = value_finding("squared_distances", squared_distances(tf.constant(x), tf.constant(y)),
                          pairwise_squared_distances(x, y), rtol=1e-4, atol=1e-4,
                          expected="for x (5, 7) and y (3, 7), the (5, 3) matrix of ||x_i - y_j||^2")
    if found:
        return [found]

    # The squared MMD, with bandwidths of the probe's own (not SIGMAS) on tiny samples.
    mmd2 = context.function("mmd2")
    sigmas = (0.7, 2.5)
    x = rng.random((6, 5)).astype(np.float32)
    y = (0.3 + 1.2 * rng.random((5, 5))).astype(np.float32)
    got = mmd2(tf.constant(x), tf.constant(y), sigmas)
    default = tuple(context.constant("SIGMAS", ()))
    wrong = {
        "mmd2() adds the cross term: MMD^2 subtracts 2 mean k(x, y)": _mmd2(x, y, sigmas, cross=-2.0),
        "mmd2() subtracts the cross term once: MMD^2 subtracts 2 mean k(x, y)":
            _mmd2(x, y, sigmas, cross=1.0),
        "mmd2() leaves the pairs i = j out of the means of k(x, x) and k(y, y) (the unbiased "
        "estimate): the docstring's means run over all pairs": _mmd2(x, y, sigmas, unbiased=True),
        "the kernel's bandwidth in mmd2(): exp(-d / sigma^2) instead of exp(-d / (2 sigma^2))":
            _mmd2(x, y, sigmas, scale=lambda s: s ** 2),
        "the kernel's bandwidth in mmd2(): sigma is not squared, exp(-d / (2 sigma)) instead of "
        "exp(-d / (2 sigma^2))": _mmd2(x, y, sigmas, scale=lambda s: 2.0 * s),
        "the kernel's bandwidth in mmd2(): exp(-d * 2 sigma^2) multiplies where it must divide":
            _mmd2(x, y, sigmas, scale=lambda s: 1.0 / (2.0 * s ** 2)),
        "mmd2() averages the kernels over the sigmas: the kernel is their sum":
            _mmd2(x, y, sigmas, reduce=lambda terms: sum(terms) / len(terms)),
        "mmd2() returns the MMD (a square root), not MMD^2": math.sqrt(max(_mmd2(x, y, sigmas), 0.0)),
    }
    if default and default != sigmas:
        wrong = {"mmd2() ignores its sigmas argument and uses SIGMAS": _mmd2(x, y, default), **wrong}
    found = value_finding("mmd2", got, _mmd2(x, y, sigmas), rtol=1e-3, atol=1e-5, wrong=wrong,
                          expected=f"mean k(x, x') + mean k(y, y') - 2 mean k(x, y) over all pairs, "
                                   f"k the sum of the Gaussian kernels of bandwidths {list(sigmas)}")
    if found:
        return [found]

    # The training step, on a small generator of the probe's own (3 -> 16 -> 784).
    generator = dense_network([3, 16, PIXELS], ["relu", "sigmoid"], rng, "probe_generator", scale=3.0)
    real = tf.constant(low_rank_images(rng, 16))
    noise = tf.constant(rng.uniform(-1.0, 1.0, (16, 3)).astype(np.float32))
    fakes = as_array(generator(noise))
    train_sigmas = default or sigmas
    want = math.sqrt(max(_mmd2(fakes, as_array(real), train_sigmas), 1e-12))
    step = compiled_step(context.function("train_step"), generator, keras.optimizers.Adam(5e-3))
    (losses, moved), found = steps_finding(
        "train_step", lambda: step(real, noise), named_variables("generator", generator), 5,
        "generate the batch from the noise inside the `with tf.GradientTape()` block, so that the "
        "tape sees the path from the generator's weights to the loss")
    if found:
        return [found]
    found = value_finding("train_step", losses[0], want, rtol=2e-3, atol=1e-5, wrong={
        "train_step() returns MMD^2: the docstring asks for the loss it minimises, the MMD (the "
        "square root of MMD^2)": want ** 2,
    }, expected="the MMD (not squared) between the generated batch and the real one, before the step")
    if found:
        return [found]
    return step_findings("train_step", losses, moved)


def _kernel(x, y, sigmas, scale=lambda sigma: 2.0 * sigma ** 2, reduce=sum) -> np.ndarray:
    distances = pairwise_squared_distances(x, y)
    return reduce([np.exp(-distances / scale(sigma)) for sigma in sigmas])


def _mmd2(x, y, sigmas, *, cross=2.0, unbiased=False, **kernel) -> float:
    """The biased estimate (means over all pairs, i = j included) unless ``unbiased``."""
    kxx, kyy, kxy = (_kernel(a, b, sigmas, **kernel) for a, b in ((x, x), (y, y), (x, y)))
    if unbiased:
        n, m = len(x), len(y)
        within = ((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1)))
    else:
        within = kxx.mean() + kyy.mean()
    return float(within - cross * kxy.mean())


after_copies = measures.copies_finding  # a generator that returns MNIST digits scores FID ~1
measure_fid = measures.generated_fid
measure_inception_score = measures.generated_inception_score
measure_classes = measures.generated_classes
