# %% [markdown]
"""
Title: A dense autoencoder on MNIST: encode to 32 numbers, decode back

Chapter: autoencoders (seminar slides 52-54)

Teaches: an autoencoder predicts its input from its input through a bottleneck: an encoder f
    (784 -> 256 -> 32) and a decoder g (32 -> 256 -> 784, sigmoid pixels), two Keras networks
    trained together by mini-batch Adam on the mean squared error, in a tf.GradientTape step; it
    compresses better than PCA, the best linear code of the same size.

Run time: about 50 s (12 s with --fast) on 2 CPU cores, plus a few seconds to load TensorFlow and
    MNIST.

Task: fill in the three functions marked TODO: the encoder, the decoder and the training step. On
the 10000 test digits, the reconstruction error must fall far below that of the mean training
image after the fast run (four epochs), and below PCA's with 32 components after the full run.
Check your work with

    python -m seminar check autoencoders/autoencoder
"""

# %% Imports
import seminar  # noqa: F401  (sets TensorFlow's environment defaults: import it before tensorflow)

import keras
import tensorflow as tf

from seminar import autoencoding, runtime, shapes
from seminar.training_log import TrainingLog

# %% Settings

NUM_PIXELS = 28 * 28
CODE_SIZE = 32  # the bottleneck: each digit is squeezed into 32 numbers (784 / 32 = 24.5 times fewer)
HIDDEN_UNITS = 256
# Adam at 5e-3 decayed to 0 along a cosine over the run: large steps early, small ones to settle.
LEARNING_RATE = 5e-3
BATCH_SIZE = 128
EPOCHS = 20
EPOCHS_FAST = 4


# %% The autoencoder
# code = f(x), reconstruction = g(code)


def build_encoder(code_size: int) -> keras.Model:
    """f: images (batch, 784), pixels in [0, 1] -> codes (batch, code_size), any real numbers."""
    layers = keras.layers
    # SOLUTION: Map (batch, 784) to (batch, code_size) through one hidden layer of HIDDEN_UNITS ReLU
    #   units; leave the code itself unsquashed (it may take any real value).
    return keras.Sequential([
        keras.Input(shape=(NUM_PIXELS,)),
        layers.Dense(HIDDEN_UNITS, activation="relu"),
        layers.Dense(code_size),
    ], name="encoder")
    # END SOLUTION


def build_decoder(code_size: int) -> keras.Model:
    """g: codes (batch, code_size) -> reconstructed images (batch, 784), every pixel in (0, 1)."""
    layers = keras.layers
    # SOLUTION: Map (batch, code_size) back to (batch, 784) through one hidden layer of HIDDEN_UNITS
    #   ReLU units; every output must land in (0, 1), the range of the pixels it predicts.
    return keras.Sequential([
        keras.Input(shape=(code_size,)),
        layers.Dense(HIDDEN_UNITS, activation="relu"),
        layers.Dense(NUM_PIXELS, activation="sigmoid"),
    ], name="decoder")
    # END SOLUTION


def train_step(images, encoder, decoder, optimizer) -> tf.Tensor:
    """One optimizer step on a batch of images (batch, 784) for both networks. Return the batch
    loss (a scalar, as it was before the step): the squared reconstruction error averaged over
    the images and the pixels. main() runs it compiled, as a TensorFlow graph (tf.function)."""
    # SOLUTION: Measure how far the reconstructions of the batch are from the batch itself, then
    #   take one optimizer step that moves the encoder and the decoder together.
    with tf.GradientTape() as tape:
        reconstructions = decoder(encoder(images, training=True), training=True)
        loss = tf.reduce_mean(tf.square(reconstructions - images))
    variables = encoder.trainable_variables + decoder.trainable_variables
    optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
    return loss
    # END SOLUTION


# %% Main


def main(argv=None) -> dict:
    args = runtime.parse_args(runtime.make_parser(
        "autoencoders/autoencoder", __doc__, epochs=EPOCHS, fast_epochs=EPOCHS_FAST,
        batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE), argv)
    runtime.set_seed(args.seed)
    run = runtime.RunContext.from_args(args)
    data = autoencoding.load_mnist(run)  # x_train (55000, 784), x_val, x_test: pixels in [0, 1]

    encoder, decoder = build_encoder(CODE_SIZE), build_decoder(CODE_SIZE)
    codes = encoder(data.x_val[:3])
    shapes.require("the encoder's output for 3 images", codes, (3, CODE_SIZE))
    shapes.require("the decoder's output for 3 codes", decoder(codes), (3, NUM_PIXELS))
    if not args.quiet:
        encoder.summary()
        decoder.summary()

    def encode(images):  # f(x): float32 images (n, 784) -> codes (n, CODE_SIZE)
        return encoder(images, training=False).numpy()

    def decode(codes):  # g(code): codes (n, CODE_SIZE) -> images (n, 784)
        return decoder(codes, training=False).numpy()

    def reconstruct(images):
        return decode(encode(images))

    steps_per_epoch = autoencoding.steps_per_pass(data.num_train, args.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(args.learning_rate, steps_per_epoch * args.epochs)
    optimizer = keras.optimizers.Adam(schedule)
    # train_step as one compiled graph for these networks and this optimizer: a tf.function of a
    # closure over them (Keras objects are not tf.function arguments).
    step = tf.function(lambda images: train_step(images, encoder, decoder, optimizer))
    batches = autoencoding.training_batches(data.x_train, args.batch_size, args.seed)
    log = TrainingLog(run, epochs=args.epochs, evaluate=autoencoding.validation(data.x_val, reconstruct))
    for epoch in range(args.epochs):
        losses = []
        for images in log.batches(batches):
            losses.append(step(images))
        log.epoch(epoch, loss=losses)

    return autoencoding.report(run, data, encode, decode, CODE_SIZE, log)


# %% Run: `python FILE [flags]` in a terminal; in a notebook, this cell runs the fast run
if __name__ == "__main__":
    runtime.print_metrics(main(["--fast"] if runtime.in_notebook() else None))
