"""Grading of autoencoders/autoencoder.

The checker pushes the 10000 test digits through main()'s ``encode`` and ``decode`` itself, refuses
a code of any other size than 32 numbers (through a wider code any network copies its input), and
compares the error with the mean image's and with PCA's at the same code size, both computed from
the training images. The probe checks the encoder's and decoder's shapes, the decoder's pixels in
(0, 1), the training step's loss against NumPy and its update of both networks on small networks
of the checker's own, and the student's networks learning 64 images by heart.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.toolkit import (Context, Finding, as_array, code_size_finding, compiled_step,
                                    dense_network, low_rank_images, named_variables,
                                    overfit_finding, range_finding, reconstruction_mistakes,
                                    run_steps, step_findings, steps_finding, value_finding)

CODE_SIZE = 32  # the exercise's code: the checker holds it, not the student's file
PIXELS = 28 * 28
# The overfit probe: the student's networks and step on 64 images that a 5-number code reconstructs
# exactly. The solution gets to about 6e-5 in 100 steps, seeds 0-2 (the target is 1e-3 there): a
# working model clears a tenth of the mean image's error with room to spare.
OVERFIT_STEPS = 100
OVERFIT_FRACTION = 0.1


def probe_dense_autoencoder(context: Context) -> list[Finding]:
    """autoencoders/autoencoder: the encoder and decoder shapes, the decoder's pixels in (0, 1), the
    training step's loss against NumPy and its update of both networks, and the whole thing
    overfitting 64 images."""
    rng = context.rng
    context.seed_frameworks()  # the student's networks start the same way
    code_size = 6  # not CODE_SIZE: the functions must build what their argument asks
    images = rng.random((8, PIXELS)).astype(np.float32)
    encoder = context.function("build_encoder")(code_size)
    codes = encoder(tf.constant(images), training=False)
    found = code_size_finding("build_encoder", codes, (8, code_size), context.constant("CODE_SIZE", None))
    if found:
        return [found]
    notes = []
    if np.all(as_array(codes) >= 0.0):
        notes.append(Finding("the code passes through a ReLU or a sigmoid in build_encoder(): every "
                             "code number is >= 0, so the code loses half its range",
                             f"codes of 8 random images: min {as_array(codes).min():.3g}",
                             "the last layer of the encoder has no activation", fatal=False))
    decoder = context.function("build_decoder")(code_size)
    wide_codes = rng.normal(0.0, 3.0, (8, code_size)).astype(np.float32)
    outputs = decoder(tf.constant(wide_codes), training=False)
    found = (code_size_finding("build_decoder", outputs, (8, PIXELS), None)
             or range_finding("build_decoder", outputs, "(0, 1)",
                               "the decoder's last layer squashes its 784 outputs into (0, 1) "
                               "(a sigmoid), like the pixels it predicts"))
    if found:
        return notes + [found]

    # The training step on small networks of the probe's own (784 -> 16 -> 4 -> 16 -> 784).
    small_encoder = dense_network([PIXELS, 16, 4], ["relu", None], rng, "probe_encoder")
    small_decoder = dense_network([4, 16, PIXELS], ["relu", "sigmoid"], rng, "probe_decoder")
    batch = low_rank_images(rng, 16)
    reconstructions = as_array(small_decoder(small_encoder(batch)))
    want = float(((reconstructions - batch) ** 2).mean())
    variables = {**named_variables("encoder", small_encoder), **named_variables("decoder", small_decoder)}
    step = compiled_step(context.function("train_step"), small_encoder, small_decoder,
                     keras.optimizers.Adam(3e-3))
    (losses, moved), found = steps_finding(
        "train_step", lambda: step(tf.constant(batch)),
        variables, 5, "call both networks inside the `with tf.GradientTape()` block and take the "
                      "gradient of the loss for both networks' trainable variables")
    if found:
        return notes + [found]
    found = value_finding("train_step", losses[0], want, rtol=1e-3, atol=1e-6,
                          wrong=reconstruction_mistakes(reconstructions, batch, "train_step"),
                          expected="the mean over images and pixels of (g(f(x)) - x)^2, computed "
                                   "before the step")
    if found:
        return notes + [found]
    found = step_findings("train_step", losses, moved)
    if found:
        return notes + found

    # Overfit: the student's own networks and step on 64 low-rank images.
    context.seed_frameworks()
    encoder = context.function("build_encoder")(context.constant("CODE_SIZE", 32))
    decoder = context.function("build_decoder")(context.constant("CODE_SIZE", 32))
    images = tf.constant(low_rank_images(rng, 64))
    step = compiled_step(context.function("train_step"), encoder, decoder, keras.optimizers.Adam(3e-3))
    start = float(np.var(as_array(images), axis=0).sum() / PIXELS)  # the mean image's error
    losses, _ = run_steps(lambda: step(images), {}, OVERFIT_STEPS)
    final = float(tf.reduce_mean(tf.square(decoder(encoder(images)) - images)))
    found = overfit_finding("train_step", losses + [final], target=OVERFIT_FRACTION * start,
                            start=losses[0])
    return notes + ([found] if found else [])


def measure_mse_vs_mean_image(context: Context) -> float:
    return measures.error_vs_mean_image(context, CODE_SIZE)


def measure_mse_vs_pca(context: Context) -> float:
    return measures.error_vs_pca(context, CODE_SIZE)
