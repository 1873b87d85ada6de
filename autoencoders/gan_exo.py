# %% [markdown]
"""
Title: A generative adversarial network (GAN) on MNIST

Chapter: autoencoders (seminar slides 62-67)

Teaches: two networks trained against each other: a discriminator D learns to tell real digits
    from generated ones, a generator G learns to fool it; the minimax objective of slide 64, the
    non-saturating generator loss -log D(G(z)), and one training step with two gradient tapes and
    two optimizers.

Run time: about 5 minutes (20 s with --fast) on 2 CPU cores, plus a few seconds to load TensorFlow.

Task: fill in the three functions marked TODO: the discriminator's loss, the generator's loss and
the training step. After the fast run (two epochs) the judge must see digit-like samples of most
of the ten classes; after the full run, clearly digits of all ten. Check your work with

    python -m seminar check autoencoders/gan
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import numpy as np
import tensorflow as tf

from seminar import generative, runtime, shapes

# %% Settings

NOISE_DIM = 64  # z ~ N(0, I) in 64 dimensions
# Dense networks: a convolutional GAN draws sharper digits for several times the cost per step.
# G's batch normalisation keeps its hidden units on a steady scale while D moves the target.
GENERATOR_UNITS = (256, 512)
DISCRIMINATOR_UNITS = (512, 256)
DROPOUT = 0.3  # in D, so that it does not memorise the training digits
REAL_LABEL = 0.9  # one-sided label smoothing: D says 0.9, not 1, on real digits: a steadier G
# Adam with beta_1 = 0.5 (DCGAN's choice: less momentum, since the opponent's moves make old
# gradients stale), at 1e-3: the usual 2e-4 is too slow for a run of a few epochs.
LEARNING_RATE = 1e-3
BETA_1 = 0.5
BATCH_SIZE = 64  # small batches: more steps of the game in the same time
EPOCHS = 25  # full run: 10 epochs drew FID 12.5 on seed 0, 25 drew 6.5 in about 4 minutes
EPOCHS_FAST = 2


# %% The two networks


def build_generator() -> keras.Model:
    """Noise z (batch, NOISE_DIM) -> images (batch, 784) with pixels in [0, 1]. LeakyReLU (slope
    0.2 below 0) in both networks lets some gradient through every unit, even where D is sure."""
    layers = [keras.Input((NOISE_DIM,))]
    for units in GENERATOR_UNITS:
        layers += [keras.layers.Dense(units), keras.layers.BatchNormalization(),
                   keras.layers.LeakyReLU(0.2)]
    layers += [keras.layers.Dense(28 * 28, activation="sigmoid")]
    return keras.Sequential(layers, name="generator")


def build_discriminator() -> keras.Model:
    """Images (batch, 784) -> one logit each (batch, 1): D(x) = sigmoid(logit) is the probability
    that x is a real digit. The pixels are first mapped from [0, 1] to [-1, 1] (centred inputs)."""
    layers = [keras.Input((28 * 28,)), keras.layers.Rescaling(2.0, offset=-1.0)]
    for units in DISCRIMINATOR_UNITS:
        layers += [keras.layers.Dense(units), keras.layers.LeakyReLU(0.2),
                   keras.layers.Dropout(DROPOUT)]
    layers += [keras.layers.Dense(1)]  # a logit: the losses apply the sigmoid, stably
    return keras.Sequential(layers, name="discriminator")


# %% The losses: slide 64's game, min_G max_D E[log D(x)] + E[log(1 - D(G(z)))]


def discriminator_loss(real_logits: tf.Tensor, fake_logits: tf.Tensor) -> tf.Tensor:
    """D's loss, a scalar: minus its objective, i.e. the binary cross-entropy of calling the real
    digits real (target REAL_LABEL = 0.9 rather than 1, see above) plus that of calling the fakes
    fake (target 0), each averaged over its batch. Both inputs are logits (batch, 1)."""
    # TODO: Score D on both batches: real digits against the target REAL_LABEL, fakes against
    #   0, each a mean cross-entropy, added; computed from the logits so nothing overflows.
    raise NotImplementedError('TODO in discriminator_loss() (for a hint: python -m seminar hint autoencoders/gan)')


def generator_loss(fake_logits: tf.Tensor) -> tf.Tensor:
    """G's loss, a scalar: the non-saturating -log D(G(z)), averaged over the batch.

    The minimax game asks G to minimise log(1 - D(G(z))). Early in training D rejects the fakes
    with confidence: D(G(z)) is near 0, where log(1 - D) is flat, so G would get almost no gradient
    and learn nothing. -log D(G(z)) has the same goal (make D say "real") but is steepest exactly
    there. It is the cross-entropy of the fakes against the target 1 ("real")."""
    # TODO: Score the fakes against the target "real" (1): a mean cross-entropy, computed
    #   from the logits so nothing overflows.
    raise NotImplementedError('TODO in generator_loss() (for a hint: python -m seminar hint autoencoders/gan)')


def train_step(real: tf.Tensor, noise: tf.Tensor, generator: keras.Model,
               discriminator: keras.Model, generator_optimizer: keras.optimizers.Optimizer,
               discriminator_optimizer: keras.optimizers.Optimizer):
    """One step of each player on real digits (batch, 784) and noise (batch, NOISE_DIM): D learns
    to tell them apart, G to fool D. Return both losses, (d_loss, g_loss). main() runs it
    compiled, as a TensorFlow graph (tf.function)."""
    # TODO: Generate fakes, score the real and the fake batch with D and compute both
    #   losses, all in training mode and watched for gradients; then step each optimizer with
    #   its own network's loss, for its own network's trainable variables only.
    raise NotImplementedError('TODO in train_step() (for a hint: python -m seminar hint autoencoders/gan)')


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "autoencoders/gan", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    digits = generative.training_digits(run)  # (55000, 784) float32 in [0, 1]

    generator, discriminator = build_generator(), build_discriminator()
    shapes.require("build_generator()'s images for 3 noise vectors",
                   generator(tf.zeros((3, NOISE_DIM))), (3, 28 * 28))
    generator_optimizer = keras.optimizers.Adam(args.learning_rate, beta_1=BETA_1)
    discriminator_optimizer = keras.optimizers.Adam(args.learning_rate, beta_1=BETA_1)
    # train_step as one compiled graph for these networks and optimizers: a tf.function of a
    # closure over them (Keras objects are not tf.function arguments).
    step = tf.function(lambda real, noise: train_step(real, noise, generator, discriminator,
                                                      generator_optimizer, discriminator_optimizer))

    noise = generative.Noise(NOISE_DIM, "normal", args.seed)
    generate = generative.make_generate(generator, noise)  # generate(n, seed) -> (n, 28, 28)
    log = generative.GeneratorLog(run, epochs=args.epochs, generate=generate, seed=args.seed)
    order = np.random.default_rng(args.seed)  # the order of the training digits
    for epoch in range(args.epochs):
        d_losses, g_losses = [], []  # a GAN has no single loss: one per player
        for real in log.batches(generative.batches(digits, args.batch_size, order)):
            d_loss, g_loss = step(real, noise.draw(args.batch_size))
            d_losses.append(d_loss)
            g_losses.append(g_loss)
        log.epoch(epoch, d_loss=d_losses, g_loss=g_losses)

    metrics = generative.report(run, log, "GAN")  # the pictures, and the judge's figures
    # The evidence: the checker draws its own 2000 samples from generate and judges them itself.
    # The two players' losses at every step: a GAN's losses need not fall (each player's progress
    # raises the other's loss), so they are not a "loss_curve"; the checker reads them as a game.
    return {**metrics, "generate": generate, "d_loss_curve": log.curves["d_loss"],
            "g_loss_curve": log.curves["g_loss"]}


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
