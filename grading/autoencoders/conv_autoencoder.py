"""Grading of autoencoders/conv_autoencoder.

The checker pushes the 10000 test digits through main()'s ``encode`` and ``decode`` itself, through
a code of 32 numbers, and measures the per-pixel error. The probe checks the encoder's and
decoder's shapes, the decoder's pixels in (0, 1), the compiled autoencoder (the decoder after the
encoder, the learning rate it was given, its compiled loss against NumPy) and the gradient of that
loss reaching every weight of both networks. No training step: Keras's fit applies the gradients.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf

from seminar.grader import measures
from seminar.grader.toolkit import (Context, Finding, as_array, code_size_finding,
                                    low_rank_images, range_finding, reconstruction_mistakes,
                                    value_finding)

CODE_SIZE = 32  # the exercise's code: the checker holds it, not the student's file


def probe_conv_autoencoder(context: Context) -> list[Finding]:
    """autoencoders/conv_autoencoder: the encoder and decoder shapes, the decoder's pixels in
    (0, 1), the compiled autoencoder (decoder after encoder, the learning rate it was given, its
    compiled loss against NumPy) and the gradient of that loss reaching every weight of both
    networks. No training step: Keras's fit applies the gradients itself."""
    rng = context.rng
    context.seed_frameworks()
    code_size = 6
    images = low_rank_images(rng, 8).reshape(8, 28, 28, 1)
    encoder = context.function("build_encoder")(code_size)
    codes = encoder(tf.constant(images), training=False)
    found = code_size_finding("build_encoder", codes, (8, code_size), context.constant("CODE_SIZE", None))
    if found:
        return [found]
    decoder = context.function("build_decoder")(code_size)
    outputs = decoder(tf.constant(rng.normal(0.0, 3.0, (8, code_size)).astype(np.float32)), training=False)
    found = (code_size_finding("build_decoder", outputs, (8, 28, 28, 1), None)
             or range_finding("build_decoder", outputs, "(0, 1)",
                               "the decoder's last layer squashes its outputs into (0, 1) (a "
                               "sigmoid), like the pixels it predicts"))
    if found:
        return [found]

    learning_rate = 0.00123
    autoencoder = context.function("build_autoencoder")(encoder, decoder, learning_rate)
    if not isinstance(autoencoder, keras.Model) or getattr(autoencoder, "optimizer", None) is None:
        return [Finding("build_autoencoder() must return a compiled keras.Model",
                        f"it returned {type(autoencoder).__name__}"
                        + ("" if not isinstance(autoencoder, keras.Model) else " without an optimizer"),
                        "call the model's compile(optimizer=..., loss=...) before returning it")]
    chained = as_array(decoder(encoder(tf.constant(images), training=False), training=False))
    predicted = as_array(autoencoder(tf.constant(images), training=False))
    found = value_finding("build_autoencoder", predicted, chained, rtol=1e-4, atol=1e-5,
                          expected="its output must be decoder(encoder(images)), with the two "
                                   "networks it was given")
    if found:
        found.cause = ("the model build_autoencoder() returns is not decoder(encoder(images)) with "
                       "the encoder and the decoder it was given")
        return [found]
    rate = autoencoder.optimizer.learning_rate
    rate = float(as_array(rate(0) if callable(rate) else rate))
    if not math.isclose(rate, learning_rate, rel_tol=1e-4):
        return [Finding("build_autoencoder() ignores its learning_rate: the optimizer steps at "
                        "another rate (and main()'s cosine schedule is lost)",
                        f"build_autoencoder(encoder, decoder, {learning_rate}) compiled an optimizer "
                        f"with learning rate {rate:.4g}",
                        "pass learning_rate to the optimizer")]
    # The compiled loss, and its gradient for every weight of both networks.
    targets = low_rank_images(rng, 8).reshape(8, 28, 28, 1)
    with tf.GradientTape() as tape:
        reconstructions = autoencoder(tf.constant(images), training=True)
        loss = autoencoder.compute_loss(x=images, y=targets, y_pred=reconstructions)
    values = as_array(reconstructions)
    found = value_finding("build_autoencoder", loss, float(((values - targets) ** 2).mean()),
                          rtol=1e-3, atol=1e-6,
                          wrong=reconstruction_mistakes(values, targets, "the compiled loss"),
                          expected="the compiled loss must be the per-pixel mean squared error")
    if found:
        return [found]
    trained = {id(variable) for variable in autoencoder.trainable_variables}
    for name, network in (("encoder", encoder), ("decoder", decoder)):
        if not any(id(variable) in trained for variable in network.weights):
            return [Finding(f"the compiled autoencoder never trains the {name}: none of its weights "
                            f"is among the model's trainable variables",
                            f"{len(network.weights)} weights in the {name}, none trainable in the "
                            f"model build_autoencoder() returned",
                            f"chain the two networks given as arguments and leave the {name} "
                            f"trainable")]
    gradients = tape.gradient(loss, autoencoder.trainable_variables)
    still = [variable.path for variable, gradient in zip(autoencoder.trainable_variables, gradients)
             if gradient is None or not np.any(as_array(gradient))]
    if still:
        return [Finding("some weights of the compiled autoencoder get no gradient from its loss "
                        "(None or zero)", f"no gradient: {', '.join(still)}",
                        "the model's output must come from both networks' layers")]
    return []


def measure_test_mse(context: Context) -> float:
    return measures.reconstruction_error(context, CODE_SIZE)
